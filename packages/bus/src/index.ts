export {
  createRedisClient,
  type RedisClient,
  type RedisConnectionConfig,
  reconnectDelay,
} from './connection.js';
export { BusClosedError, PoisonMessageError } from './errors.js';
export { createRedisBus, type RedisBusOptions } from './redis-bus.js';
export type {
  Bus,
  ConsumeOptions,
  DeadLetter,
  Handler,
  MessageMeta,
  PayloadParser,
  Subscription,
} from './types.js';
