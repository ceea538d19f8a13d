import { ArchiverError } from './errors.js';

/** A call that did not answer in time; what it waited for is in the message. */
export class DeadlineError extends ArchiverError {
  override name = 'DeadlineError';
  constructor(what: string, ms: number) {
    super('DEADLINE_EXCEEDED', `${what} did not answer within ${ms} ms`, { retryable: true });
  }
}

/**
 * Settles like `work`, or rejects with DeadlineError after `ms`. The work itself is not stopped
 * (a driver may offer no way to), so callers throw away what it holds: a pool, a connection.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** At most `limit` tasks at once; the rest wait their turn in order. */
export function createSemaphore(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * What a service runs without that it should have: each line is logged loudly at start and shown
 * by /ready, so an open deployment is never silent about it.
 */
export function securityWarnings(input: {
  eventSecret: string | undefined;
  apiToken?: string | undefined;
  allowUnauthenticated?: boolean;
}): string[] {
  const warnings: string[] = [];
  if (!input.eventSecret) {
    warnings.push(
      'ARCHIVER_EVENT_SECRET is not set: events are not signed, so anyone who can write to Redis can forge requests and confirmations (each is still checked against the ledger and storage)',
    );
  }
  if ('apiToken' in input && !input.apiToken) {
    warnings.push(
      input.allowUnauthenticated
        ? 'API_TOKEN is not set and allow_unauthenticated is true: anyone who reaches the port can trigger, restore and release'
        : 'API_TOKEN is not set: mutating routes answer only callers on loopback',
    );
  }
  return warnings;
}
