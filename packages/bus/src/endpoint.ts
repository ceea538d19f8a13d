import type { RedisEndpointConfig } from '@chunk-archiver/common';
import { type Circuit, type CircuitSettings, type CircuitState, createCircuit } from './circuit.js';
import {
  createRedisClient,
  type RedisClient,
  type RedisConnectionConfig,
  reconnectDelay,
} from './connection.js';

/** One Redis server the bus may talk to, with what the bus knows of its health. */
export interface Endpoint {
  name: string;
  /** How to connect: a URL, or a Sentinel group and the master it monitors. */
  connection: RedisConnectionConfig;
  /** Where health probes connect (`health_check_url`, else the endpoint itself). */
  probeAt: RedisConnectionConfig;
  /** Without credentials, for logs, status and metrics. */
  address: string;
  weight: number;
  /** Short commands (XADD, XACK, XCLAIM...): bounded by a command timeout. */
  commands: RedisClient;
  circuit: Circuit;
  healthy: boolean;
  /** Since when it has been healthy with its circuit closed; null while it is not. */
  eligibleSince: number | null;
  checkedAt: number | null;
  lastError: string | null;
}

export interface EndpointView {
  name: string;
  address: string;
  weight: number;
  active: boolean;
  healthy: boolean;
  circuit: CircuitState;
  /** Seconds it has been healthy with a closed circuit, or null. */
  eligible_for_s: number | null;
  last_checked_at: string | null;
  last_error: string | null;
}

/** Reconnect within a second of the server's return: the health round may pick it before that. */
export const quickReconnect = (times: number): number => Math.min(reconnectDelay(times), 1_000);

/** How an endpoint's configuration connects. */
export function connectionOf(config: RedisEndpointConfig): RedisConnectionConfig {
  if (config.sentinels) return { sentinels: config.sentinels, name: config.master_name ?? '' };
  return { url: config.url ?? 'redis://127.0.0.1:6379' };
}

/** An endpoint's address without credentials: the URL's host, or the sentinels and master. */
export function addressOf(config: RedisEndpointConfig): string {
  if (config.sentinels)
    return `sentinel://${config.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${config.master_name}`;
  return redactUrl(config.url ?? '');
}

/** The URL without user or password, for logs, status and metrics. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'redis://?';
  }
}

export function createEndpoint(
  config: RedisEndpointConfig,
  options: { circuit: CircuitSettings; commandTimeoutMs: number; onError: (error: Error) => void },
): Endpoint {
  // No offline queue: a command issued while the connection is down fails at once instead of
  // waiting to run later, behind the bus's back, after the bus retried it elsewhere (a second
  // copy of a message). The bus does the retrying, across endpoints.
  const connection = connectionOf(config);
  const commands = createRedisClient(connection, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: quickReconnect,
  });
  commands.on('error', options.onError);
  return {
    name: config.name,
    connection,
    probeAt: config.health_check_url ? { url: config.health_check_url } : connection,
    address: addressOf(config),
    weight: config.weight,
    commands,
    circuit: createCircuit(options.circuit),
    // Optimistic until the first round says otherwise, so a start-up probe that is slow to
    // answer does not leave the bus without an endpoint.
    healthy: true,
    eligibleSince: null,
    checkedAt: null,
    lastError: null,
  };
}

export function isEligible(endpoint: Endpoint): boolean {
  return endpoint.healthy && endpoint.circuit.state() === 'closed';
}

/** Keeps `eligibleSince` true to the endpoint's health and circuit. */
export function refreshEligibility(endpoint: Endpoint, now = Date.now()): void {
  if (!isEligible(endpoint)) endpoint.eligibleSince = null;
  else endpoint.eligibleSince ??= now;
}

/** The highest weight among `candidates`; ties go to the one configured first. */
export function pickBest(candidates: Endpoint[]): Endpoint | undefined {
  let best: Endpoint | undefined;
  for (const e of candidates) if (!best || e.weight > best.weight) best = e;
  return best;
}

export function viewEndpoint(endpoint: Endpoint, active: boolean, now = Date.now()): EndpointView {
  return {
    name: endpoint.name,
    address: endpoint.address,
    weight: endpoint.weight,
    active,
    healthy: endpoint.healthy,
    circuit: endpoint.circuit.state(),
    eligible_for_s:
      endpoint.eligibleSince === null ? null : Math.round((now - endpoint.eligibleSince) / 100) / 10,
    last_checked_at: endpoint.checkedAt === null ? null : new Date(endpoint.checkedAt).toISOString(),
    last_error: endpoint.lastError,
  };
}

/** Errors that say the server or the path to it is in trouble, not that the command was wrong. */
export function isTransient(error: Error): boolean {
  const text = `${error.name} ${error.message}`;
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|Command timed out|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY |did not answer within/i.test(
    text,
  );
}
