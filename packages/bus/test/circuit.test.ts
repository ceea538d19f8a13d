import { redisConfigSchema } from '@chunk-archiver/common';
import { describe, expect, it } from 'vitest';
import { createCircuit } from '../src/circuit.js';
import { policyMet } from '../src/index.js';

const settings = { minFailures: 3, failureRateThreshold: 0.5, windowMs: 10_000, gracePeriodMs: 5_000 };

function clock() {
  let t = 1_000_000;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

describe('endpoint circuit', () => {
  it('opens only with min_failures and the failure rate both reached, within the window', () => {
    const c = clock();
    const circuit = createCircuit(settings, c.now);
    for (let i = 0; i < 10; i++) circuit.record(true);
    // 3 failures of 13 is under half: stays closed.
    expect([circuit.record(false), circuit.record(false), circuit.record(false)]).toEqual([
      false,
      false,
      false,
    ]);
    expect(circuit.state()).toBe('closed');
    // The successes leave the window; three more failures are 6 of 6.
    c.advance(10_001);
    expect(circuit.record(false)).toBe(false);
    expect(circuit.record(false)).toBe(false);
    expect(circuit.record(false)).toBe(true);
    expect(circuit.state()).toBe('open');
  });

  it('is half open after the grace period; a healthy probe closes it, a failed one opens it again', () => {
    const c = clock();
    const circuit = createCircuit(settings, c.now);
    for (let i = 0; i < 3; i++) circuit.record(false);
    expect(circuit.state()).toBe('open');
    circuit.probed(true);
    expect(circuit.state()).toBe('open');
    c.advance(5_000);
    expect(circuit.state()).toBe('half_open');
    circuit.probed(false);
    expect(circuit.state()).toBe('open');
    c.advance(5_000);
    circuit.probed(true);
    expect(circuit.state()).toBe('closed');
    // Closed with a clean window: one failure does not reopen it.
    expect(circuit.record(false)).toBe(false);
  });
});

describe('health check policy', () => {
  it.each([
    ['all', 3, 3, true],
    ['all', 2, 3, false],
    ['majority', 2, 3, true],
    ['majority', 1, 3, false],
    ['majority', 2, 4, false],
    ['any', 1, 3, true],
    ['any', 0, 3, false],
  ] as const)('%s with %i of %i probes passing: %s', (policy, passed, probes, healthy) => {
    expect(policyMet(policy, passed, probes)).toBe(healthy);
  });
});

describe('redis configuration', () => {
  it('turns one url into one endpoint with the failover defaults', () => {
    const r = redisConfigSchema.parse({ url: 'redis://cache:6380' });
    expect(r.endpoints).toEqual([{ name: 'cache:6380', url: 'redis://cache:6380', weight: 1 }]);
    expect(r.failover).toMatchObject({
      health_check_interval_s: 10,
      health_check_probes: 3,
      health_check_probes_delay_s: 1,
      health_check_policy: 'majority',
      min_failures: 5,
      failure_rate_threshold: 0.5,
      failures_window_s: 60,
      auto_fallback_interval_s: 120,
    });
    expect(redisConfigSchema.parse(undefined).endpoints[0]!.url).toBe('redis://127.0.0.1:6379');
    const sentinel = redisConfigSchema.parse({
      endpoints: [
        { sentinels: [{ host: 's1' }, { host: 's2', port: 26380 }], master_name: 'mymaster', weight: 2 },
      ],
    });
    expect(sentinel.endpoints[0]).toEqual({
      name: 'sentinel:mymaster',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      master_name: 'mymaster',
      weight: 2,
    });
  });

  it.each([
    [{ url: 'redis://a', endpoints: [{ url: 'redis://b' }] }, 'endpoints', 'not both'],
    [{ endpoints: [{ url: 'redis://a:1' }, { url: 'redis://a:1' }] }, 'endpoints.1.name', 'distinct name'],
    [{ endpoints: [{ url: 'http://a' }] }, 'endpoints.0.url', 'redis://'],
    [{ endpoints: [{ url: 'redis://a', weight: 0 }] }, 'endpoints.0.weight', ''],
    [{ endpoints: [] }, 'endpoints', ''],
    [
      { failover: { health_check_interval_s: 1, health_check_probes: 3, health_check_probes_delay_s: 1 } },
      'failover.health_check_probes_delay_s',
      'shorter than health_check_interval_s',
    ],
    [{ failover: { health_check_policy: 'most' } }, 'failover.health_check_policy', ''],
    [{ failover: { failure_rate_threshold: 1.5 } }, 'failover.failure_rate_threshold', ''],
    [{ endpoints: [{ url: 'redis://a', wieght: 2 }] }, 'endpoints.0', 'wieght'],
    [{ endpoints: [{ weight: 2 }] }, 'endpoints.0.url', 'give url, or sentinels with master_name'],
    [{ endpoints: [{ sentinels: [{ host: 's1' }] }] }, 'endpoints.0.master_name', 'required with sentinels'],
    [
      { endpoints: [{ url: 'redis://a', sentinels: [{ host: 's1' }], master_name: 'm' }] },
      'endpoints.0.url',
      'one of them',
    ],
  ])('refuses %j naming %s', (input, path, words) => {
    const result = redisConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    const issue = result.error!.issues.find((i) => i.path.join('.') === path);
    expect(issue, JSON.stringify(result.error!.issues)).toBeDefined();
    const text = issue!.code === 'unrecognized_keys' ? issue!.keys.join() : issue!.message;
    expect(text).toContain(words);
  });
});
