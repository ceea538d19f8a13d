export type { CircuitState } from './circuit.js';
export {
  createRedisClient,
  type RedisClient,
  type RedisConnectionConfig,
  reconnectDelay,
} from './connection.js';
export { DEAD_LETTER_PAYLOAD_BYTES } from './dead-letters.js';
export { type EndpointView, redactUrl } from './endpoint.js';
export { BusClosedError, PoisonMessageError, RedisUnavailableError } from './errors.js';
export type { RedisHealth, SwitchEvent, SwitchListener } from './failover.js';
export { policyMet, probeOnce, probeRound } from './health-probe.js';
export { registerRedisMetrics } from './metrics.js';
export { createRedisBus, type RedisBusOptions, redisBusOptions } from './redis-bus.js';
export type {
  Bus,
  ConsumeOptions,
  DeadLetter,
  Handler,
  MessageMeta,
  PayloadParser,
  Subscription,
} from './types.js';
