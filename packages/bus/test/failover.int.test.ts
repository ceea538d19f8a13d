import { type RedisServerHandle, startRedisSentinel, startRedisServer } from '@chunk-archiver/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, createRedisBus, type SwitchEvent } from '../src/index.js';
import { jsonParser, waitFor } from './helpers.js';

const TOPIC = 'database.archival.request';
const PREFIX = 'failover:';
/** Shortened so a test takes seconds; the mechanisms are the production ones. */
const FAST = {
  health_check_interval_s: 0.5,
  health_check_probes: 3,
  health_check_probes_delay_s: 0.1,
  health_check_timeout_ms: 300,
  failover_attempts: 2,
  failover_delay_s: 0.2,
  grace_period_s: 1,
  auto_fallback_interval_s: 3,
  command_attempts: 4,
  command_retry_initial_ms: 50,
  command_retry_max_ms: 300,
};
/** The worst time from a death to a failover: a whole interval, then a failed round of probes. */
const DETECTION_MS =
  (FAST.health_check_interval_s + FAST.health_check_probes * FAST.health_check_probes_delay_s) * 1000 +
  FAST.health_check_probes * FAST.health_check_timeout_ms;

describe('Redis failover across endpoints (real redis-server processes)', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  });

  async function servers(n: number): Promise<RedisServerHandle[]> {
    const started = await Promise.all(Array.from({ length: n }, () => startRedisServer()));
    for (const s of started) closers.push(() => s.stop());
    return started;
  }

  function bus(endpoints: Array<{ name: string; url: string; weight: number }>, failover = {}) {
    const b = createRedisBus({ endpoints, failover: { ...FAST, ...failover }, keyPrefix: PREFIX });
    const switches: SwitchEvent[] = [];
    b.onSwitch((e) => switches.push(e));
    closers.push(() => b.close());
    return { b, switches };
  }

  /** Entries of the topic's stream on one server: where a publish really went. */
  async function streamLength(server: RedisServerHandle): Promise<number> {
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      return await client.xlen(`${PREFIX}${TOPIC}`);
    } finally {
      client.disconnect();
    }
  }

  async function consumeInto(b: Bus, seen: number[]) {
    await b.consume(TOPIC, 'workers', 'c1', async (e) => void seen.push(e.n as number), {
      parse: jsonParser,
      blockMs: 200,
      claimIntervalMs: 500,
      visibilityTimeoutMs: 1_000,
    });
  }

  it('uses the healthy endpoint of highest weight, and on its death the next by weight', async () => {
    const [low, high, middle] = await servers(3);
    const { b, switches } = bus([
      { name: 'low', url: low!.url, weight: 1 },
      { name: 'high', url: high!.url, weight: 3 },
      { name: 'middle', url: middle!.url, weight: 2 },
    ]);
    await b.publish(TOPIC, { n: 1 });
    expect(b.health().active).toBe('high');
    expect(await streamLength(high!)).toBe(1);
    expect((await streamLength(low!)) + (await streamLength(middle!))).toBe(0);

    await high!.kill();
    await waitFor(() => b.health().active !== 'high', 'a failover', DETECTION_MS + 2_000);
    expect(b.health().active).toBe('middle');
    expect(switches).toMatchObject([{ from: 'high', to: 'middle', reason: 'failover' }]);
    await b.publish(TOPIC, { n: 2 });
    expect(await streamLength(middle!)).toBe(1);
    expect(await streamLength(low!)).toBe(0);
  });

  it(`fails over within health_check_interval_s + probes, the consumer follows, and falls back after auto_fallback_interval_s`, async () => {
    const [primary, secondary] = await servers(2);
    const { b, switches } = bus([
      { name: 'primary', url: primary!.url, weight: 2 },
      { name: 'secondary', url: secondary!.url, weight: 1 },
    ]);
    const seen: number[] = [];
    await consumeInto(b, seen);
    await b.publish(TOPIC, { n: 1 });
    await waitFor(() => seen.includes(1), 'the first event');

    const killedAt = Date.now();
    await primary!.kill();
    await waitFor(() => b.health().active === 'secondary', 'the failover', DETECTION_MS + 2_000);
    const detectedMs = Date.now() - killedAt;
    expect(detectedMs).toBeLessThanOrEqual(DETECTION_MS + 1_000);
    // The consumer group exists on the new endpoint and the consumer reads there.
    await b.publish(TOPIC, { n: 2 });
    await waitFor(() => seen.includes(2), 'an event published after the failover', 5_000);
    expect(b.health().endpoints.find((e) => e.name === 'primary')).toMatchObject({ healthy: false });

    // Back, and healthy for the fallback interval: the bus returns to it, and so does the consumer.
    await primary!.restart();
    await waitFor(() => b.health().active === 'primary', 'the fallback', 10_000);
    expect(switches.map((s) => `${s.reason}:${s.to}`)).toEqual(['failover:secondary', 'fallback:primary']);
    await b.publish(TOPIC, { n: 3 });
    expect(await streamLength(primary!)).toBe(1);
    await waitFor(() => seen.includes(3), 'an event published after the fallback', 5_000);
    expect(b.health()).toMatchObject({ failovers: 1, fallbacks: 1, ok: true });
  }, 40_000);

  it('does not storm on a flapping primary: one failover, no fallback while it flaps', async () => {
    const [primary, secondary] = await servers(2);
    const { b, switches } = bus([
      { name: 'primary', url: primary!.url, weight: 2 },
      { name: 'secondary', url: secondary!.url, weight: 1 },
    ]);
    await b.publish(TOPIC, { n: 0 });
    // Down 1.2 s, up 1.5 s, six times: never healthy for the 3 s fallback interval.
    for (let i = 0; i < 6; i++) {
      await primary!.kill();
      await new Promise((r) => setTimeout(r, 1_200));
      await primary!.restart();
      await new Promise((r) => setTimeout(r, 1_500));
      await b.publish(TOPIC, { n: i + 1 });
    }
    expect(switches.map((s) => `${s.reason}:${s.to}`)).toEqual(['failover:secondary']);
    // Once it stays up, the bus goes back exactly once.
    await waitFor(() => b.health().active === 'primary', 'the fallback once it is stable', 10_000);
    expect(switches).toHaveLength(2);
  }, 60_000);

  it('with every endpoint down it stays up, says which are down, and resumes by itself', async () => {
    const [a, c] = await servers(2);
    const { b } = bus([
      { name: 'a', url: a!.url, weight: 2 },
      { name: 'c', url: c!.url, weight: 1 },
    ]);
    const seen: number[] = [];
    await consumeInto(b, seen);
    await a!.kill();
    await c!.kill();
    await waitFor(
      () => !b.health().ok && b.health().endpoints.every((e) => !e.healthy),
      'both unhealthy',
      5_000,
    );
    const refused = await b.check().then(
      () => 'ready',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(
      /^no healthy redis endpoint: a \(redis:\/\/127\.0\.0\.1:\d+\): .+; c \(redis:\/\/127\.0\.0\.1:\d+\): .+/,
    );
    await expect(b.publish(TOPIC, { n: -1 })).rejects.toThrow();

    await c!.restart();
    await waitFor(() => b.health().active === 'c' && b.health().ok, 'c taken once it is back', 5_000);
    await waitFor(
      () =>
        b.check().then(
          () => true,
          () => false,
        ),
      'ready again',
      5_000,
    );
    await b.publish(TOPIC, { n: 1 });
    await waitFor(() => seen.includes(1), 'consuming again', 5_000);
  }, 30_000);

  it('opens the circuit on failing commands and fails over before the next health round', async () => {
    const [primary, secondary] = await servers(2);
    const { b, switches } = bus(
      [
        { name: 'primary', url: primary!.url, weight: 2 },
        { name: 'secondary', url: secondary!.url, weight: 1 },
      ],
      // Health rounds far apart: only the circuit can see the death in time.
      { health_check_interval_s: 60, min_failures: 2, failure_rate_threshold: 0.5, command_attempts: 5 },
    );
    await b.publish(TOPIC, { n: 1 });
    await primary!.kill();
    const started = Date.now();
    // The publish's own retries fail on the primary, open its circuit and land on the secondary.
    await b.publish(TOPIC, { n: 2 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(switches).toMatchObject([{ from: 'primary', to: 'secondary', detail: 'primary: circuit open' }]);
    expect(b.health().endpoints.find((e) => e.name === 'primary')!.circuit).toBe('open');
    expect(await streamLength(secondary!)).toBe(1);
  }, 30_000);

  it('a lone endpoint back from a restart is ready at once, though its circuit is still open', async () => {
    const [only] = await servers(1);
    const { b } = bus([{ name: 'only', url: only!.url, weight: 1 }], {
      min_failures: 2,
      grace_period_s: 60,
      command_attempts: 3,
    });
    await b.publish(TOPIC, { n: 1 });
    await only!.kill();
    await expect(b.publish(TOPIC, { n: 2 })).rejects.toThrow();
    expect(b.health().endpoints[0]!.circuit).toBe('open');
    await only!.restart();
    await waitFor(
      () =>
        b.check().then(
          () => true,
          () => false,
        ),
      'ready again',
      5_000,
    );
    expect(b.health().endpoints[0]).toMatchObject({ healthy: true, circuit: 'open' });
    await b.publish(TOPIC, { n: 3 });
  }, 30_000);

  it('reaches an endpoint through Redis Sentinel, and probes it there', async () => {
    const [master, standby] = await servers(2);
    const sentinel = await startRedisSentinel(master!.port);
    closers.push(() => sentinel.stop());
    const b = createRedisBus({
      endpoints: [
        {
          name: 'ha',
          sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
          master_name: sentinel.masterName,
          weight: 2,
        },
        { name: 'standby', url: standby!.url, weight: 1 },
      ],
      failover: FAST,
      keyPrefix: PREFIX,
    });
    closers.push(() => b.close());
    const seen: number[] = [];
    await consumeInto(b, seen);
    await b.publish(TOPIC, { n: 1 });
    await waitFor(() => seen.includes(1), 'an event through the sentinel-managed master');
    expect(await streamLength(master!)).toBe(1);
    expect(b.health()).toMatchObject({ active: 'ha', ok: true });
    expect(b.health().endpoints[0]!.address).toBe(
      `sentinel://127.0.0.1:${sentinel.port}/${sentinel.masterName}`,
    );
    await b.check();
    // The sentinel itself gone: the probes through it fail, and the bus moves to the standby.
    await sentinel.stop();
    await waitFor(
      () => b.health().active === 'standby',
      'failover off the unreachable sentinel',
      DETECTION_MS + 2_000,
    );
  }, 30_000);
});
