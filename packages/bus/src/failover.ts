import {
  backoffDelay,
  coerceError,
  type FailoverSettings,
  type Logger,
  type RedisEndpointConfig,
  sleep,
} from '@chunk-archiver/common';
import { createRedisClient, type RedisClient } from './connection.js';
import {
  createEndpoint,
  type Endpoint,
  type EndpointView,
  isEligible,
  isTransient,
  pickBest,
  quickReconnect,
  refreshEligibility,
  viewEndpoint,
} from './endpoint.js';
import { probeRound } from './health-probe.js';

export interface SwitchEvent {
  from: string;
  to: string;
  reason: 'failover' | 'fallback';
  /** What made the bus move: the probe error, an opened circuit, a fallback interval. */
  detail: string;
  at: string;
}

export interface RedisHealth {
  /** The endpoint commands go to now. */
  active: string;
  /** The active endpoint is healthy with a closed circuit. */
  ok: boolean;
  endpoints: EndpointView[];
  failovers: number;
  fallbacks: number;
  last_switch: SwitchEvent | null;
}

export type SwitchListener = (event: SwitchEvent) => void;

/**
 * Several Redis endpoints, one active: health rounds on a timer, a circuit per endpoint fed by
 * command outcomes, failover to the healthy endpoint of highest weight, and fall-back to a
 * higher-weight one once it has stayed healthy for `auto_fallback_interval_s`. Decisions are
 * serialized, so a round and an opened circuit never switch twice for one failure.
 */
export function createEndpointSet(options: {
  endpoints: RedisEndpointConfig[];
  settings: FailoverSettings;
  logger: Logger;
}) {
  const s = options.settings;
  const log = options.logger;
  const endpoints = options.endpoints.map((config) =>
    createEndpoint(config, {
      circuit: {
        minFailures: s.min_failures,
        failureRateThreshold: s.failure_rate_threshold,
        windowMs: s.failures_window_s * 1000,
        gracePeriodMs: s.grace_period_s * 1000,
      },
      commandTimeoutMs: Math.max(2_000, s.health_check_timeout_ms * 2),
      onError: (error) => log.debug({ err: error, endpoint: config.name }, 'redis connection error'),
    }),
  );
  const probe = {
    probes: s.health_check_probes,
    delayMs: s.health_check_probes_delay_s * 1000,
    timeoutMs: s.health_check_timeout_ms,
    policy: s.health_check_policy,
  };
  const listeners = new Set<SwitchListener>();
  const stopping = new AbortController();
  let active: Endpoint = pickBest(endpoints)!;
  let failovers = 0;
  let fallbacks = 0;
  let lastSwitch: SwitchEvent | null = null;
  let degradedLogged = false;
  let decisions: Promise<void> = Promise.resolve();
  let loop: Promise<void> | undefined;

  /** Runs `step` after every decision queued before it. */
  function serialized(step: () => Promise<void>): Promise<void> {
    decisions = decisions.then(step).catch((error: unknown) => {
      log.error({ err: coerceError(error) }, 'redis endpoint decision failed');
    });
    return decisions;
  }

  async function probeEndpoint(endpoint: Endpoint): Promise<void> {
    const round = await probeRound(endpoint.probeAt, probe, stopping.signal);
    if (stopping.signal.aborted) return;
    if (round.healthy !== endpoint.healthy)
      log[round.healthy ? 'info' : 'warn'](
        { endpoint: endpoint.name, address: endpoint.address, error: round.error },
        round.healthy ? 'redis endpoint healthy' : 'redis endpoint unhealthy',
      );
    endpoint.healthy = round.healthy;
    endpoint.lastError = round.healthy ? null : (round.error ?? 'probes failed');
    endpoint.checkedAt = Date.now();
    endpoint.circuit.probed(round.healthy);
    refreshEligibility(endpoint);
  }

  const probeAll = (which = endpoints) => Promise.all(which.map(probeEndpoint)).then(() => undefined);

  function switchTo(to: Endpoint, reason: SwitchEvent['reason'], detail: string): void {
    const event: SwitchEvent = {
      from: active.name,
      to: to.name,
      reason,
      detail,
      at: new Date().toISOString(),
    };
    active = to;
    lastSwitch = event;
    degradedLogged = false;
    if (reason === 'failover') failovers++;
    else fallbacks++;
    log.warn({ ...event, address: to.address }, `redis ${reason}: ${event.from} → ${event.to}`);
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        log.error({ err: coerceError(error) }, 'a redis switch listener failed');
      }
    }
  }

  /** The active endpoint is not usable: probe for another, `failover_attempts` times. */
  async function failover(detail: string): Promise<void> {
    for (let attempt = 1; attempt <= s.failover_attempts; attempt++) {
      const best = pickBest(endpoints.filter((e) => e !== active && isEligible(e)));
      if (best) return switchTo(best, 'failover', detail);
      if (attempt === s.failover_attempts || stopping.signal.aborted) break;
      await sleep(s.failover_delay_s * 1000, stopping.signal);
      await probeAll(endpoints.filter((e) => e !== active));
      if (isEligible(active)) return;
    }
    if (!degradedLogged)
      log.error(
        { endpoints: endpoints.map((e) => viewEndpoint(e, e === active)) },
        `no healthy redis endpoint; staying on ${active.name} and probing every ${s.health_check_interval_s} s`,
      );
    degradedLogged = true;
  }

  function fallbackCandidate(): Endpoint | undefined {
    if (s.auto_fallback_interval_s <= 0) return undefined;
    const since = Date.now() - s.auto_fallback_interval_s * 1000;
    return pickBest(
      endpoints.filter(
        (e) => e.weight > active.weight && e.eligibleSince !== null && e.eligibleSince <= since,
      ),
    );
  }

  async function decide(): Promise<void> {
    if (!isEligible(active)) {
      const why = active.circuit.state() !== 'closed' ? 'circuit open' : (active.lastError ?? 'unhealthy');
      return failover(`${active.name}: ${why}`);
    }
    const better = fallbackCandidate();
    if (better) switchTo(better, 'fallback', `${better.name} healthy for ${s.auto_fallback_interval_s} s`);
  }

  async function healthLoop(): Promise<void> {
    while (await sleep(s.health_check_interval_s * 1000, stopping.signal)) {
      await probeAll();
      await serialized(decide);
    }
  }

  return {
    /** Probes every endpoint once and picks the active one; then keeps probing on the interval. */
    async start(): Promise<void> {
      if (loop) return;
      await probeAll();
      const best = pickBest(endpoints.filter(isEligible));
      if (best) active = best;
      else log.error({ endpoints: endpoints.map((e) => e.name) }, 'no redis endpoint answers yet');
      loop = healthLoop();
    },
    async stop(): Promise<void> {
      stopping.abort();
      await loop;
      await decisions;
      for (const e of endpoints) await e.commands.quit().catch(() => e.commands.disconnect());
    },
    active: (): Endpoint => active,
    /** A command's outcome on `endpoint`; an opened circuit on the active one fails over at once. */
    record(endpoint: Endpoint, error?: unknown): void {
      const failed = error !== undefined && isTransient(coerceError(error));
      if (!endpoint.circuit.record(!failed)) return;
      refreshEligibility(endpoint);
      log.warn({ endpoint: endpoint.name }, 'redis circuit opened: too many commands failing');
      if (endpoint === active) void serialized(() => failover(`${endpoint.name}: circuit open`));
    },
    /** A blocking connection (XREADGROUP) of its own on `endpoint`. */
    reader(endpoint: Endpoint): RedisClient {
      const reader = createRedisClient(endpoint.connection, {
        maxRetriesPerRequest: null,
        retryStrategy: quickReconnect,
      });
      reader.on('error', (error: Error) =>
        log.debug({ err: error, endpoint: endpoint.name }, 'redis reader error'),
      );
      return reader;
    },
    onSwitch(listener: SwitchListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    health(): RedisHealth {
      const now = Date.now();
      return {
        active: active.name,
        ok: isEligible(active),
        endpoints: endpoints.map((e) => viewEndpoint(e, e === active, now)),
        failovers,
        fallbacks,
        last_switch: lastSwitch,
      };
    },
    /** Backoff before retry `attempt` of a command. */
    retryDelay: (attempt: number) =>
      backoffDelay(attempt, {
        initialMs: s.command_retry_initial_ms,
        maxMs: s.command_retry_max_ms,
        factor: 2,
        jitter: 0.5,
      }),
    settings: s,
    signal: stopping.signal as AbortSignal,
  };
}

export type EndpointSet = ReturnType<typeof createEndpointSet>;

/** Runs a command on `endpoint`, telling its circuit how it went. */
export async function runOn<T>(
  set: EndpointSet,
  endpoint: Endpoint,
  command: (c: RedisClient) => Promise<T>,
): Promise<T> {
  try {
    const result = await command(endpoint.commands);
    set.record(endpoint);
    return result;
  } catch (error) {
    set.record(endpoint, error);
    throw error;
  }
}
