import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisClient, DEAD_LETTER_PAYLOAD_BYTES, type RedisClient } from '@chunk-archiver/bus';
import { TOPICS } from '@chunk-archiver/events';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;
const REQUESTS = TOPICS.archivalRequest;

describe('operators: retry and dead letters without SQL or redis-cli', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let root: string;
  let flow: Flow | undefined;
  let redis: RedisClient;

  beforeEach(async () => {
    db = await pgDatabase('operators');
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    await sql`create table readings (id bigint not null, at timestamptz not null, v int) partition by range (at)`;
    await sql`create table readings_2020_01 partition of readings for values from ('2020-01-01') to ('2020-02-01')`;
    await sql`create table readings_2020_02 partition of readings for values from ('2020-02-01') to ('2020-03-01')`;
    await sql`insert into readings select g, '2020-01-01'::timestamptz + g * interval '20 minutes', g from generate_series(1, 4000) g`;
    root = await mkdtemp(join(tmpdir(), 'operators-'));
  });
  afterEach(async () => {
    await flow?.stop();
    redis?.disconnect();
    await sql.end({ timeout: 5 });
    await db.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  async function start(options: { allowedTables?: string[]; defaults?: Record<string, unknown> }) {
    const store = createLocalBlobStore({ root, container: 'archive' });
    await store.ensureContainer();
    flow = await retentionFlow({
      databases: {
        main: {
          sql,
          tables: [{ schema: 'public', name: 'readings', kind: 'partition' }],
          ...(options.allowedTables ? { allowedTables: options.allowedTables } : {}),
        },
      },
      store,
      ...(options.defaults ? { defaults: options.defaults } : {}),
    });
    const endpoint = flow.config.redis.endpoints[0]!;
    redis = createRedisClient({ url: endpoint.url! });
    return { flow, prefix: flow.config.redis.key_prefix };
  }

  const history = async (id: string) =>
    (
      await sql<{ to_state: string; detail: string }[]>`
        select to_state, detail from archiver.chunk_events where chunk_id = ${id} order by id`
    ).map((e) => `${e.to_state}: ${e.detail.split(/[: ]/)[0]}`);

  it('retries a dead chunk with a reason: back to pending, requested again, the reason on its history', async () => {
    // The worker refuses the table, so each attempt fails for good (one attempt allowed).
    const { flow } = await start({ allowedTables: ['public.other'], defaults: { max_attempts: 1 } });
    await flow.worker.start();
    await flow.manager.start();
    await flow.waitFor(
      async () => (await flow.ledger('main')).every((c) => c.state === 'dead'),
      'both chunks dead',
    );
    const [jan, feb] = await flow.ledger('main');
    const status = (await flow.app.inject('/database/retention/status')).json();
    const failures = status.database_stats[0].failures as Array<{ id: string; error_code: string }>;
    // Per-scan figures apart from the running totals; rows_archived the one name for archived rows.
    expect(status.database_stats[0].last_scan).toMatchObject({
      error: null,
      discovered: 2,
      requested: 2,
      dropped: 0,
    });
    expect(status.database_stats[0].since_start).toMatchObject({
      scans: 1,
      chunks_discovered: 2,
      chunks_requested: 2,
    });
    expect(status).toMatchObject({ rows_archived: 0 });
    expect(status).not.toHaveProperty('records_archived');
    expect(failures.map((f) => f.id).sort()).toEqual([String(jan!.id), String(feb!.id)].sort());

    const res = await flow.app.inject({
      method: 'POST',
      url: `/database/retention/chunks/${jan!.id}/retry`,
      payload: { reason: 'allowed list fixed' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().retried).toEqual([
      {
        database: 'main',
        id: String(jan!.id),
        table: 'public.readings',
        chunk: 'public.readings_2020_01',
        from_state: 'dead',
      },
    ]);
    // Re-queued at once (the scanner is woken), and refused again by this worker.
    await flow.waitFor(
      async () => (await history(String(jan!.id))).length >= 5,
      'the retried request answered',
    );
    expect(await history(String(jan!.id))).toEqual([
      'requested: event',
      'dead: TABLE_NOT_ALLOWED',
      'pending: retry',
      'requested: event',
      'dead: TABLE_NOT_ALLOWED',
    ]);
    const detail =
      await sql`select detail from archiver.chunk_events where chunk_id = ${jan!.id} and to_state = 'pending'`;
    expect(detail[0]!.detail).toBe('retry requested: allowed list fixed');

    // A requested or dropped chunk is not retried; the refusal names it.
    const again = await flow.app.inject({
      method: 'POST',
      url: '/database/retention/retry',
      payload: { table: 'readings', state: 'dead', reason: 'all of them' },
    });
    expect(again.statusCode).toBe(200);
    expect(
      again
        .json()
        .retried.map((c: { id: string }) => c.id)
        .sort(),
    ).toEqual([String(jan!.id), String(feb!.id)].sort());
    const unknown = await flow.app.inject({
      method: 'POST',
      url: '/database/retention/retry',
      payload: { table: 'nope', reason: 'x' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('table nope is not configured');
    const missing = await flow.app.inject({
      method: 'POST',
      url: '/database/retention/chunks/999999/retry',
      payload: { reason: 'x' },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('database main has no chunk 999999');
  });

  it('keeps a bounded prefix of an oversized dead letter, replays a valid one to a drop, and purges', async () => {
    const { flow, prefix } = await start({});
    // A request published while no worker runs, then lost to dead-letter (as after an outage).
    await flow.manager.scanner.scanOnce({ database: 'main' });
    const entries = (await redis.xrange(`${prefix}${REQUESTS}`, '-', '+')) as Array<[string, string[]]>;
    expect(entries).toHaveLength(2);
    const [firstId, firstFields] = entries[0]!;
    const payload = firstFields[firstFields.indexOf('payload') + 1]!;
    await redis.xadd(
      `${prefix}${REQUESTS}.dead`,
      '*',
      'payload',
      payload,
      'reason',
      'delivered 6 times (limit 5)',
      'source_id',
      firstId,
      'group',
      'archival-service',
      'deliveries',
      '6',
    );
    await redis.xdel(`${prefix}${REQUESTS}`, firstId);
    // And a megabyte of garbage, which the worker dead-letters itself.
    await redis.xadd(`${prefix}${REQUESTS}`, '*', 'payload', `{"junk":"${'x'.repeat(1024 * 1024)}"}`);
    await flow.worker.start();
    await flow.waitFor(
      async () => (await flow.app.inject('/database/retention/dead-letters')).json().counts[REQUESTS] === 2,
      'the oversized message dead-lettered',
    );
    const listed = (await flow.app.inject('/database/retention/dead-letters')).json();
    const big = listed.dead_letters.find((d: { truncated: boolean }) => d.truncated);
    expect(big).toMatchObject({
      topic: REQUESTS,
      payload_bytes: 1024 * 1024 + 11,
      group: 'archival-service',
    });
    expect(big.payload_sha256).toMatch(/^[0-9a-f]{64}$/);
    const shown = (await flow.app.inject(`/database/retention/dead-letters/${REQUESTS}/${big.id}`)).json();
    expect(shown.payload.length).toBe(DEAD_LETTER_PAYLOAD_BYTES);
    const stored = (await redis.xrange(`${prefix}${REQUESTS}.dead`, big.id, big.id)) as Array<
      [string, string[]]
    >;
    expect(stored[0]![1].join('').length).toBeLessThan(DEAD_LETTER_PAYLOAD_BYTES + 1_000);

    const refused = await flow.app.inject({
      method: 'POST',
      url: `/database/retention/dead-letters/${REQUESTS}/${big.id}/replay`,
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toContain(
      `only the first ${DEAD_LETTER_PAYLOAD_BYTES} of its ${1024 * 1024 + 11} bytes were kept`,
    );

    const lost = listed.dead_letters.find((d: { truncated: boolean }) => !d.truncated);
    const replayed = await flow.app.inject({
      method: 'POST',
      url: `/database/retention/dead-letters/${REQUESTS}/${lost.id}/replay`,
    });
    expect(replayed.statusCode, replayed.body).toBe(200);
    await flow.manager.start();
    await flow.waitFor(
      async () => (await flow.ledger('main')).every((c) => c.state === 'dropped'),
      'both chunks dropped, the replayed one included',
    );

    const purged = await flow.app.inject({
      method: 'DELETE',
      url: `/database/retention/dead-letters/${REQUESTS}`,
    });
    expect(purged.json()).toEqual({ topic: REQUESTS, purged: 1 });
    expect((await flow.app.inject('/database/retention/dead-letters')).json().counts[REQUESTS]).toBe(0);
    const badTopic = await flow.app.inject('/database/retention/dead-letters?topic=nope');
    expect(badTopic.statusCode).toBe(404);
  });
});
