import { describe, expect, it } from 'vitest';
import { createCircuitBreaker } from '../src/circuit-breaker.js';

describe('circuit breaker', () => {
  it('opens after N consecutive failures, half-opens after the timeout for one trial, and closes on success', () => {
    let now = 0;
    const breaker = createCircuitBreaker('s', {
      failureThreshold: 3,
      resetTimeoutMs: 60_000,
      now: () => now,
    });
    for (let i = 0; i < 2; i++) {
      expect(breaker.allow()).toBe(true);
      breaker.failure();
    }
    breaker.success();
    for (let i = 0; i < 3; i++) breaker.failure();
    expect(breaker.state()).toBe('open');
    expect(breaker.allow()).toBe(false);
    expect(breaker.retryInMs()).toBe(60_000);
    now = 60_000;
    expect(breaker.state()).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.failure();
    expect(breaker.state()).toBe('open');
    now = 120_000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state()).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });
});
