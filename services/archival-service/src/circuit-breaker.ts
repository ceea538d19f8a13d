export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  resetTimeoutMs: number;
  now?: () => number;
}

/**
 * Stops hammering a dependency that keeps failing: after `failureThreshold` consecutive failures
 * calls are refused for `resetTimeoutMs`; then one trial call is let through (half-open) and its
 * outcome closes or re-opens the circuit.
 */
export function createCircuitBreaker(name: string, options: CircuitBreakerOptions) {
  const now = options.now ?? Date.now;
  let failures = 0;
  let openedAt = 0;
  let state: BreakerState = 'closed';
  let trialInFlight = false;

  return {
    name,
    state(): BreakerState {
      if (state === 'open' && now() - openedAt >= options.resetTimeoutMs) state = 'half-open';
      return state;
    },
    /** Whether a call may go ahead now; in half-open state only one trial at a time. */
    allow(): boolean {
      const current = this.state();
      if (current === 'closed') return true;
      if (current === 'half-open' && !trialInFlight) {
        trialInFlight = true;
        return true;
      }
      return false;
    },
    success(): void {
      failures = 0;
      trialInFlight = false;
      state = 'closed';
    },
    failure(): void {
      trialInFlight = false;
      failures++;
      if (state === 'half-open' || failures >= options.failureThreshold) {
        state = 'open';
        openedAt = now();
      }
    },
    /** The call was let through but never reached this dependency: frees a half-open trial slot. */
    abandon(): void {
      trialInFlight = false;
    },
    /** Milliseconds until a trial call will be allowed (0 when not open). */
    retryInMs(): number {
      return state === 'open' ? Math.max(0, options.resetTimeoutMs - (now() - openedAt)) : 0;
    },
  };
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
