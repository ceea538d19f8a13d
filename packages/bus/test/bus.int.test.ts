import { randomUUID } from 'node:crypto';
import { redisNamespace, startRedisServer } from '@chunk-archiver/testkit';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Bus, createRedisBus, type MessageMeta, PoisonMessageError } from '../src/index.js';
import { jsonParser, spawnFixture, waitFor } from './helpers.js';

const TOPIC = 'database.archival.request';

describe('Redis Streams bus', () => {
  let ns: Awaited<ReturnType<typeof redisNamespace>>;
  const closers: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    ns = await redisNamespace('bus');
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // keep cleaning up
      }
    }
    await ns.cleanup();
  });

  function bus(url = ns.url): Bus {
    const b = createRedisBus({ redis: { url }, keyPrefix: ns.prefix });
    closers.push(() => b.close());
    return b;
  }

  it('delivers each event once, acks it after the handler, and mirrors every event on pub/sub', async () => {
    const observer = new Redis(ns.url);
    closers.push(async () => observer.disconnect());
    const mirrored: string[] = [];
    await observer.subscribe(`${ns.prefix}${TOPIC}`);
    observer.on('message', (_channel, message) => mirrored.push(message));

    const b = bus();
    const seen: Array<{ n: number; meta: MessageMeta }> = [];
    await b.consume(TOPIC, 'workers', 'c1', async (e, meta) => void seen.push({ n: e.n as number, meta }), {
      parse: jsonParser,
      blockMs: 200,
    });
    for (let n = 0; n < 20; n++) await b.publish(TOPIC, { n, event_id: randomUUID() });

    await waitFor(() => seen.length === 20 && mirrored.length === 20, 'all deliveries and mirrors');
    expect(seen.map((s) => s.n)).toEqual([...Array(20).keys()]);
    expect(seen.every((s) => s.meta.deliveries === 1)).toBe(true);
    expect(mirrored.map((m) => JSON.parse(m).n)).toEqual([...Array(20).keys()]);
    await waitFor(async () => (await b.pending(TOPIC, 'workers')) === 0, 'acks');
  });

  it('keeps events published before any consumer existed', async () => {
    const b = bus();
    await b.publish(TOPIC, { n: 1 });
    const seen: number[] = [];
    await b.consume(TOPIC, 'late', 'c1', async (e) => void seen.push(e.n as number), {
      parse: jsonParser,
      blockMs: 200,
    });
    await waitFor(() => seen.length === 1, 'the early event');
  });

  it('redelivers a message to another consumer after its consumer process is SIGKILLed mid-message', async () => {
    const doomed = spawnFixture('hanging-consumer.ts', [ns.url, ns.prefix, TOPIC, 'workers']);
    closers.push(() => doomed.kill());
    await waitFor(() => doomed.output().includes('READY'), 'the doomed consumer to start', 30_000);

    const b = bus();
    const id = await b.publish(TOPIC, { n: 42 });
    await waitFor(() => doomed.output().includes(`GOT ${id}`), 'the doomed consumer to take the message');
    // Its heartbeat keeps the message while it lives; only its death frees it.
    await new Promise((r) => setTimeout(r, 1_500));
    await doomed.kill();

    const seen: MessageMeta[] = [];
    await b.consume(TOPIC, 'workers', 'survivor', async (_e, meta) => void seen.push(meta), {
      parse: jsonParser,
      visibilityTimeoutMs: 1_000,
      claimIntervalMs: 200,
      blockMs: 200,
    });
    await waitFor(() => seen.length === 1, 'redelivery to the survivor');
    expect(seen[0]!.id).toBe(id);
    expect(seen[0]!.deliveries).toBe(2);
    await waitFor(async () => (await b.pending(TOPIC, 'workers')) === 0, 'the ack');
  });

  it('does not hand a slow message to another consumer while its handler is still working', async () => {
    const b = bus();
    const handledBy: string[] = [];
    const slow = async (name: string) =>
      b.consume(
        TOPIC,
        'workers',
        name,
        async () => {
          handledBy.push(name);
          await new Promise((r) => setTimeout(r, 2_500));
        },
        { parse: jsonParser, visibilityTimeoutMs: 600, claimIntervalMs: 100, blockMs: 100 },
      );
    await slow('a');
    await slow('b');
    await b.publish(TOPIC, { n: 1 });
    await waitFor(
      async () => handledBy.length >= 1 && (await b.pending(TOPIC, 'workers')) === 0,
      'the slow message',
      10_000,
    );
    expect(handledBy).toHaveLength(1);
  });

  it('never gives one message to two consumers of a group at once', async () => {
    const b = bus();
    const active = new Set<number>();
    const handled: number[] = [];
    let overlaps = 0;
    const handler = async (e: Record<string, unknown>) => {
      const n = e.n as number;
      if (active.has(n)) overlaps++;
      active.add(n);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      active.delete(n);
      handled.push(n);
    };
    await b.consume(TOPIC, 'workers', 'c1', handler, { parse: jsonParser, concurrency: 3, blockMs: 100 });
    await b.consume(TOPIC, 'workers', 'c2', handler, { parse: jsonParser, concurrency: 3, blockMs: 100 });
    for (let n = 0; n < 60; n++) await b.publish(TOPIC, { n });
    await waitFor(() => handled.length >= 60, 'all 60 messages');
    await new Promise((r) => setTimeout(r, 300));
    expect(overlaps).toBe(0);
    expect([...handled].sort((x, y) => x - y)).toEqual([...Array(60).keys()]);
  });

  it('dead-letters a message that fails validation, with the reason, and acks it', async () => {
    const b = bus();
    const raw = new Redis(ns.url);
    closers.push(async () => raw.disconnect());
    await raw.xadd(`${ns.prefix}${TOPIC}`, '*', 'payload', '{not json');
    const seen: unknown[] = [];
    await b.consume(TOPIC, 'workers', 'c1', async (e) => void seen.push(e), {
      parse: jsonParser,
      blockMs: 100,
    });
    await waitFor(async () => (await b.deadLetters(TOPIC)).length === 1, 'the dead letter');
    const [dead] = await b.deadLetters(TOPIC);
    expect(dead!.payload).toBe('{not json');
    expect(dead!.reason).toMatch(/^invalid: .*JSON/);
    expect(dead!.group).toBe('workers');
    expect(seen).toEqual([]);
    expect(await b.pending(TOPIC, 'workers')).toBe(0);
  });

  it('dead-letters a message whose handler keeps failing after maxDeliveries, and a poison message at once', async () => {
    const b = bus();
    let attempts = 0;
    await b.consume(
      TOPIC,
      'workers',
      'c1',
      async (e) => {
        if (e.kind === 'poison') throw new PoisonMessageError('chunk name refers to a system catalog');
        attempts++;
        throw new Error('always fails');
      },
      { parse: jsonParser, maxDeliveries: 3, visibilityTimeoutMs: 200, claimIntervalMs: 100, blockMs: 100 },
    );
    await b.publish(TOPIC, { kind: 'poison' });
    await b.publish(TOPIC, { kind: 'flaky' });
    await waitFor(async () => (await b.deadLetters(TOPIC)).length === 2, 'both dead letters', 20_000);
    const reasons = (await b.deadLetters(TOPIC)).map((d) => d.reason).sort();
    expect(reasons).toEqual(['chunk name refers to a system catalog', 'delivered 4 times (limit 3)']);
    expect(attempts).toBe(3);
    expect(await b.pending(TOPIC, 'workers')).toBe(0);
  });

  it('resumes consuming after Redis is restarted and has lost everything', async () => {
    const server = await startRedisServer();
    closers.push(() => server.stop());
    const b = bus(server.url);
    const seen: number[] = [];
    await b.consume(TOPIC, 'workers', 'c1', async (e) => void seen.push(e.n as number), {
      parse: jsonParser,
      blockMs: 200,
    });
    await b.publish(TOPIC, { n: 1 });
    await waitFor(() => seen.length === 1, 'the first event');

    await server.kill();
    await expect(b.publish(TOPIC, { n: -1 })).rejects.toThrow();
    await server.restart();
    await waitFor(
      async () => {
        try {
          await b.publish(TOPIC, { n: 2 });
          return true;
        } catch {
          return false;
        }
      },
      'publishing to work again',
      20_000,
    );
    await waitFor(() => seen.includes(2), 'the event published after the restart', 20_000);
    expect(seen).toEqual([1, 2]);
  });

  it('close() waits for handlers in flight and is safe to call twice', async () => {
    const b = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
    let finished = false;
    let started = false;
    const sub = await b.consume(
      TOPIC,
      'workers',
      'c1',
      async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 500));
        finished = true;
      },
      { parse: jsonParser, blockMs: 100 },
    );
    await b.publish(TOPIC, { n: 1 });
    await waitFor(() => started, 'the handler to start');
    await Promise.all([sub.close(), sub.close()]);
    expect(finished).toBe(true);
    await b.close();
    await b.close();
    await expect(b.publish(TOPIC, {})).rejects.toThrow('the bus is closed');
  });
});
