import { coerceError, sleep, withDeadline } from '@chunk-archiver/common';
import { Redis } from 'ioredis';
import type { RedisConnectionConfig } from './connection.js';

export type HealthPolicy = 'all' | 'majority' | 'any';

export interface ProbeSettings {
  probes: number;
  delayMs: number;
  timeoutMs: number;
  policy: HealthPolicy;
}

/** Whether `passed` of `probes` probes satisfy the policy. */
export function policyMet(policy: HealthPolicy, passed: number, probes: number): boolean {
  if (policy === 'all') return passed === probes;
  if (policy === 'any') return passed > 0;
  return passed * 2 > probes;
}

/**
 * One probe on a connection of its own: connect, PING, PONG within the deadline. A fresh
 * connection each time, so a command queue stuck behind a frozen server never answers for it.
 */
export async function probeOnce(target: RedisConnectionConfig, timeoutMs: number): Promise<void> {
  const options = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
    connectTimeout: timeoutMs,
  };
  // Through a Sentinel group the probe asks the sentinels for the master, then PINGs it.
  const client =
    'sentinels' in target
      ? new Redis({ ...options, sentinels: target.sentinels, name: target.name })
      : new Redis((target as { url: string }).url, options);
  client.on('error', () => {});
  try {
    await withDeadline(
      (async () => {
        await client.connect();
        const reply = await client.ping();
        if (reply !== 'PONG') throw new Error(`PING answered ${reply}`);
      })(),
      timeoutMs,
      'PING',
    );
  } finally {
    client.disconnect();
  }
}

export interface ProbeRound {
  healthy: boolean;
  passed: number;
  /** The last probe's error, when any failed. */
  error?: string;
}

/** A round of probes spaced `delayMs` apart, judged by the policy; stops early once decided. */
export async function probeRound(
  target: RedisConnectionConfig,
  settings: ProbeSettings,
  signal?: AbortSignal,
): Promise<ProbeRound> {
  let passed = 0;
  let failed = 0;
  let error: string | undefined;
  for (let i = 0; i < settings.probes; i++) {
    if (i > 0 && !(await sleep(settings.delayMs, signal))) break;
    try {
      await probeOnce(target, settings.timeoutMs);
      passed++;
    } catch (e) {
      failed++;
      error = coerceError(e).message || 'probe failed';
    }
    const left = settings.probes - passed - failed;
    // Decided either way: more probes cannot change the verdict.
    if (policyMet(settings.policy, passed, settings.probes)) break;
    if (!policyMet(settings.policy, passed + left, settings.probes)) break;
  }
  const healthy = policyMet(settings.policy, passed, settings.probes);
  return healthy ? { healthy, passed } : { healthy, passed, ...(error ? { error } : {}) };
}
