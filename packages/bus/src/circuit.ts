export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitSettings {
  minFailures: number;
  failureRateThreshold: number;
  windowMs: number;
  gracePeriodMs: number;
}

/**
 * One endpoint's circuit: command outcomes over a sliding window. It opens when at least
 * `minFailures` failed and the failure rate reached the threshold; after the grace period it is
 * half open, and the next health round closes it (healthy) or opens it again.
 */
export function createCircuit(settings: CircuitSettings, now: () => number = Date.now) {
  let state: CircuitState = 'closed';
  let openedAt = 0;
  const outcomes: Array<{ at: number; ok: boolean }> = [];

  function prune(): void {
    const since = now() - settings.windowMs;
    let old = 0;
    while (old < outcomes.length && outcomes[old]!.at < since) old++;
    if (old) outcomes.splice(0, old);
  }

  function counts(): { failures: number; total: number } {
    prune();
    let failures = 0;
    for (const o of outcomes) if (!o.ok) failures++;
    return { failures, total: outcomes.length };
  }

  function open(): void {
    state = 'open';
    openedAt = now();
    outcomes.length = 0;
  }

  return {
    /** A command's outcome on this endpoint; true when this one opened the circuit. */
    record(ok: boolean): boolean {
      if (state !== 'closed') return false;
      outcomes.push({ at: now(), ok });
      if (ok) {
        if (outcomes.length > 1024) prune();
        return false;
      }
      const { failures, total } = counts();
      if (failures < settings.minFailures || failures / total < settings.failureRateThreshold) return false;
      open();
      return true;
    },
    /** The state, moving open → half_open once the grace period is over. */
    state(): CircuitState {
      if (state === 'open' && now() - openedAt >= settings.gracePeriodMs) state = 'half_open';
      return state;
    },
    /** A health round's verdict: closes a half-open circuit, or opens it again. */
    probed(healthy: boolean): void {
      if (this.state() !== 'half_open') return;
      if (healthy) {
        state = 'closed';
        outcomes.length = 0;
      } else open();
    },
  };
}

export type Circuit = ReturnType<typeof createCircuit>;
