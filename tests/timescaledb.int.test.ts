import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LedgerChunk } from '@chunk-archiver/database-service';
import { type BlobStore, createLocalBlobStore } from '@chunk-archiver/storage';
import { duckdbLiteral, duckdbQuery, startTimescale, type TimescaleHandle } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';
import { recordResult } from './reliability/cluster.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;
type Sql = postgres.Sql;

/** What the archive must hold: count, sums and a digest over every row, the same in PostgreSQL and DuckDB. */
const DIGEST = `count(*)::bigint as n, sum(id)::bigint as ids, sum(dev)::bigint as devs,
  sum(round(v * 1000000))::bigint as vs, md5(string_agg(id::varchar || ':' || coalesce(note, '~'), ',' order by id)) as digest`;

async function sourceDigest(sql: Sql, relation: string, where = 'true') {
  const [row] = await sql.unsafe(
    `select ${DIGEST.replaceAll('::varchar', '::text')} from ${relation} where ${where}`,
  );
  return digestOf(row!);
}

async function archiveDigest(store: BlobStore, key: string) {
  const dir = await mkdtemp(join(tmpdir(), 'tsdb-'));
  try {
    const path = join(dir, 'x.parquet');
    await writeFile(path, await store.read(key));
    const [row] = await duckdbQuery(
      `select ${DIGEST} from read_parquet(${duckdbLiteral(path)}, hive_partitioning = false)`,
    );
    return digestOf(row!);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function digestOf(row: Record<string, unknown>) {
  return {
    n: Number(row.n),
    ids: String(row.ids),
    devs: String(row.devs),
    vs: String(row.vs),
    digest: row.digest as string,
  };
}

/** A hypertable of 1-day chunks over three expired days (1,440 rows each) plus recent rows. */
async function createMetrics(sql: Sql, options: { space?: number } = {}): Promise<void> {
  await sql`create table metrics (id bigint not null, ts timestamptz not null, dev int not null, v double precision, note text)`;
  await sql`select create_hypertable('metrics', by_range('ts', interval '1 day'))`;
  if (options.space) await sql`select add_dimension('metrics', by_hash('dev', ${options.space}))`;
  await sql`insert into metrics
    select g, '2021-03-01'::timestamptz + (g - 1) * interval '1 minute', g % 7, sin(g), case when g % 5 = 0 then null else 'n' || g end
    from generate_series(1, 3 * 1440) g`;
  await sql`insert into metrics select 100000 + g, now() - g * interval '1 minute', 1, 0, 'recent' from generate_series(1, 30) g`;
  await sql`alter table metrics set (timescaledb.compress, timescaledb.compress_segmentby = 'dev', timescaledb.compress_orderby = 'ts')`;
}

const chunkName = (row: LedgerChunk) => `${row.chunk_schema}.${row.chunk_name}`;

/** Rows of the table's catalog that would outlive a dropped chunk: chunk rows, constraints, sizes, tables. */
async function catalogDebris(sql: Sql, chunkIds: number[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select ((select count(*) from _timescaledb_catalog.chunk where id = any(${chunkIds}) or compressed_chunk_id = any(${chunkIds}))
          + (select count(*) from _timescaledb_catalog.chunk_constraint where chunk_id = any(${chunkIds}))
          + (select count(*) from _timescaledb_catalog.compression_chunk_size where chunk_id = any(${chunkIds})))::int as n`;
  return row!.n;
}

describe('real TimescaleDB: compressed chunks, compression races, space partitions, policy and aggregate guards', () => {
  let ts: TimescaleHandle;
  let sql: Sql;
  let root: string;
  let store: BlobStore;
  let flow: Flow;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tsdb-archive-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    ts = await startTimescale({ name: 'tsdb_real' });
    sql = postgres(ts.url, { max: 6, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
    store = createLocalBlobStore({
      root,
      container: `c${Date.now()}${Math.random().toString(36).slice(2, 6)}`,
    });
  });
  // For docs/reliability.md (pnpm reliability): each case and how it ended.
  afterEach(async ({ task }) => {
    await recordResult('safety', {
      suite: 'real TimescaleDB',
      case: task.name,
      outcome: task.result?.errors?.length ? 'FAILED' : 'passed',
    });
  });
  afterEach(async () => {
    await flow?.stop();
    await sql?.end({ timeout: 5 });
    await ts?.stop();
  });

  async function startFlow(table: Record<string, unknown> = {}): Promise<Flow> {
    flow = await retentionFlow({
      databases: {
        tsdb: { sql, tables: [{ schema: 'public', name: 'metrics', kind: 'timescaledb', ...table }] },
      },
      store,
    });
    return flow;
  }

  /** The first expired chunk, compressed and archived (not yet confirmed to the manager). */
  async function archiveFirstCompressed() {
    await createMetrics(sql);
    await startFlow();
    const [first] = await sql<
      { c: string }[]
    >`select c::text from show_chunks('metrics', older_than => interval '30 days') c limit 1`;
    await sql`select compress_chunk(${first!.c}::regclass)`;
    await flow.manager.scanner.scanOnce();
    const [row] = await flow.ledger('tsdb');
    const confirmation = await flow.archiveDirectly('tsdb', row!);
    return { first: first!, row: row!, confirmation };
  }

  /** Archives every requested chunk through the real handler and hands its confirmation to the manager. */
  async function archiveRequested(): Promise<void> {
    for (const row of await flow.ledger('tsdb')) {
      if (row.state === 'requested')
        await flow.manager.handleConfirmation(await flow.archiveDirectly('tsdb', row));
    }
  }

  it('archives compressed and partially compressed chunks through decompression, identical in DuckDB, and drops them with their compressed tables', async () => {
    await createMetrics(sql);
    await startFlow();
    const chunks = await sql<
      { c: string }[]
    >`select c::text from show_chunks('metrics', older_than => interval '30 days') c`;
    for (const { c } of chunks.slice(0, 2)) await sql`select compress_chunk(${c}::regclass)`;
    // A late insert into a compressed chunk makes it partial: rows in both forms.
    await sql`insert into metrics values (999999, '2021-03-02 12:00:30+00', 3, 0.5, 'late')`;
    const before = new Map<string, Awaited<ReturnType<typeof sourceDigest>>>();
    for (const { c } of chunks) before.set(c, await sourceDigest(sql, c));
    const ids = (
      await sql<{ id: number }[]>`
      select id from _timescaledb_catalog.chunk where format('%I.%I', schema_name, table_name) = any(${chunks.map((c) => c.c)})`
    ).map((r) => r.id);

    await flow.manager.scanner.scanOnce();
    await archiveRequested();

    const ledger = await flow.ledger('tsdb');
    expect(ledger.map((r) => [r.state, r.storage_form])).toEqual([
      ['dropped', 'compressed'],
      ['dropped', 'partial'],
      ['dropped', 'heap'],
    ]);
    for (const row of ledger) {
      const expected = before.get(
        chunkName(row).replace('_timescaledb_internal.', '_timescaledb_internal.'),
      )!;
      expect(await archiveDigest(store, row.object_key!)).toEqual(expected);
      expect(Number(row.row_count)).toBe(expected.n);
    }
    expect(before.get(chunks[1]!.c)!.n).toBe(1441);
    expect(await sql`select count(*)::int as n from metrics`).toEqual([{ n: 30 }]);
    expect(await catalogDebris(sql, ids)).toBe(0);
    expect(
      await sql`select count(*)::int as n from pg_class where relname like 'compress_hyper_%chunk'`,
    ).toEqual([{ n: 0 }]);
  });

  it('never archives fewer rows when compress_chunk commits while the worker waits for the chunk (deterministic race)', async () => {
    await createMetrics(sql);
    await startFlow();
    await flow.manager.scanner.scanOnce();
    const [row] = await flow.ledger('tsdb');
    const chunk = chunkName(row!);
    const expected = await sourceDigest(sql, chunk);
    const oid = String(row!.chunk_oid);

    // A long reader holds the chunk; compress_chunk compresses, then queues for ACCESS EXCLUSIVE to
    // truncate the heap; the worker queues behind it. When the reader ends, the compression
    // commits first and the worker reads second.
    const reader = await sql.reserve();
    const compressor = await sql.reserve();
    try {
      await reader`begin`;
      await reader`lock table ${sql(row!.chunk_schema)}.${sql(row!.chunk_name)} in access share mode`;
      const compressing = compressor`select compress_chunk(${chunk}::regclass)`.execute();
      await waitForLockWaiters(sql, oid, 1);
      const archiving = flow.archiveDirectly('tsdb', row!);
      await waitForLockWaiters(sql, oid, 2);
      await reader`commit`;
      await compressing;
      const confirmation = await archiving;
      expect(confirmation.data.status).toBe('SUCCESS');
      if (confirmation.data.status !== 'SUCCESS') return;
      expect(confirmation.data.manifest.row_count).toBe(expected.n);
      await flow.manager.handleConfirmation(confirmation);
    } finally {
      reader.release();
      compressor.release();
    }
    const [after] = await flow.ledger('tsdb');
    expect(after!.state).toBe('dropped');
    expect(await archiveDigest(store, after!.object_key!)).toEqual(expected);
  });

  it('re-archives, never drops, a chunk compressed between its archive and its drop', async () => {
    await createMetrics(sql);
    await startFlow();
    await flow.manager.scanner.scanOnce();
    const [row] = await flow.ledger('tsdb');
    const expected = await sourceDigest(sql, chunkName(row!));
    const confirmation = await flow.archiveDirectly('tsdb', row!);
    await sql`select compress_chunk(${chunkName(row!)}::regclass)`;
    await flow.manager.handleConfirmation(confirmation);

    let [after] = await flow.ledger('tsdb');
    expect([after!.state, after!.last_error_code]).toEqual(['pending', 'COMPRESSION_CHANGED']);
    expect((await sourceDigest(sql, chunkName(row!))).n).toBe(expected.n);

    await flow.manager.scanner.scanOnce();
    await archiveRequested();
    [after] = await flow.ledger('tsdb');
    expect([after!.state, after!.storage_form]).toEqual(['dropped', 'compressed']);
    expect(await archiveDigest(store, after!.object_key!)).toEqual(expected);
  });

  it('never drops a compressed chunk against an archive that holds fewer rows than it stores (a 0-row archive)', async () => {
    const { first, row, confirmation } = await archiveFirstCompressed();
    expect(confirmation.data.status).toBe('SUCCESS');
    // What a read of the heap alone recorded before: an honest archive of 0 rows, checksum 0.
    await sql`update archiver.chunks set state = 'archived', row_count = 0, content_checksum = '0',
              storage_form = 'compressed', object_key = 'forged' where id = ${row.id}`;
    await flow.manager.scanner.scanOnce();

    const [after] = await flow.ledger('tsdb');
    expect(after!.state).not.toBe('dropped');
    expect(after!.last_error_code).toBe('CONTENT_CHANGED');
    expect((await sourceDigest(sql, first.c)).n).toBe(1440);
  });

  it('a late insert into a compressed chunk after its archive sends it back to be archived again', async () => {
    const { first, confirmation } = await archiveFirstCompressed();
    await sql`insert into metrics values (888888, '2021-03-01 06:00:30+00', 2, 0.25, 'late')`;
    await flow.manager.handleConfirmation(confirmation);
    let [after] = await flow.ledger('tsdb');
    expect(after!.state).toBe('pending');
    expect(['CONTENT_CHANGED', 'COMPRESSION_CHANGED']).toContain(after!.last_error_code);

    const expected = await sourceDigest(sql, first.c);
    await flow.manager.scanner.scanOnce();
    await archiveRequested();
    [after] = await flow.ledger('tsdb');
    expect(after!.state).toBe('dropped');
    expect(await archiveDigest(store, after!.object_key!)).toEqual(expected);
    expect(expected.n).toBe(1441);
  });

  it('archives space-partitioned chunks that share a time range and restores them all', async () => {
    await createMetrics(sql, { space: 2 });
    await sql`create table originals as select * from metrics where ts < now() - interval '30 days'`;
    await startFlow({ chunks_per_scan: 50 });
    await flow.manager.scanner.scanOnce();
    await archiveRequested();
    const ledger = await flow.ledger('tsdb');
    expect(ledger.length).toBe(6);
    expect(new Set(ledger.map((r) => r.range_start)).size).toBe(3);
    expect(ledger.map((r) => [r.state, r.dimension_slices.length, r.last_error_code])).toEqual(
      ledger.map(() => ['dropped', 1, null]),
    );

    const report = await flow.manager.restorer.restore({
      table: 'metrics',
      from: '2021-03-01',
      to: '2021-03-04',
    });
    expect(report.ok).toBe(true);
    expect(report.objects).toHaveLength(6);
    expect(await sourceDigest(sql, 'metrics', `ts < now() - interval '30 days'`)).toEqual(
      await sourceDigest(sql, 'originals'),
    );
  });

  it('restores the archive of compressed chunks into the hypertable, identical to the originals', async () => {
    await createMetrics(sql);
    await sql`select compress_chunk(c) from show_chunks('metrics', older_than => interval '30 days') c`;
    await sql`create table originals as select * from metrics where ts < now() - interval '30 days'`;
    await startFlow();
    await flow.manager.scanner.scanOnce();
    await archiveRequested();
    expect((await flow.ledger('tsdb')).every((r) => r.state === 'dropped')).toBe(true);
    const report = await flow.manager.restorer.restore({
      table: 'metrics',
      from: '2021-03-01',
      to: '2021-03-04',
    });
    expect(report.ok).toBe(true);
    expect(await sourceDigest(sql, 'metrics', `ts < now() - interval '30 days'`)).toEqual(
      await sourceDigest(sql, 'originals'),
    );
  });

  it('refuses to run a hypertable with a TimescaleDB retention policy, and reports it in status, /ready and metrics', async () => {
    await createMetrics(sql);
    // Not due for a day: run now, TimescaleDB's scheduler would drop the expired chunks itself,
    // unarchived, which is the very thing this guard is about.
    const [{ job }] =
      (await sql`select add_retention_policy('metrics', interval '1 year', initial_start => now() + interval '1 day') as job`) as unknown as [
        { job: number },
      ];
    await startFlow();
    const [report] = await flow.manager.scanner.scanOnce();
    expect(report!.requested).toEqual([]);
    expect(
      await sql`select to_regclass('archiver.chunks') is not null and exists (select 1 from archiver.chunks) as any`,
    ).toEqual([{ any: false }]);
    const status = (await flow.manager.status()) as {
      database_stats: Array<{ tables: Array<{ conflicts: Array<{ kind: string; job_id: number }> }> }>;
    };
    expect(status.database_stats[0]!.tables[0]!.conflicts).toEqual([
      expect.objectContaining({ kind: 'retention_policy', job_id: job }),
    ]);
    const checks = flow.manager.readinessChecks();
    await expect(checks['conflicts:tsdb']!()).rejects.toThrow(`job ${job}`);
    expect(await flow.manager.metrics.registry.metrics()).toContain(
      `retention_table_conflicts{database="tsdb",table="public.metrics",kind="retention_policy",job_id="${job}"} 1`,
    );

    await sql`select remove_retention_policy('metrics')`;
    const [again] = await flow.manager.scanner.scanOnce();
    expect(again!.error).toBeUndefined();
    expect(again!.requested).toHaveLength(3);
    await expect(checks['conflicts:tsdb']!()).resolves.toBeUndefined();
  });

  it('runs such a hypertable when allow_retention_policy says a person accepts the policy', async () => {
    await createMetrics(sql);
    await sql`select add_retention_policy('metrics', interval '10 years')`;
    await startFlow({ allow_retention_policy: true });
    const [report] = await flow.manager.scanner.scanOnce();
    expect(report!.requested).toHaveLength(3);
  });

  it('never drops a chunk a continuous aggregate has not materialized yet, and says so in status', async () => {
    await createMetrics(sql);
    await sql`create materialized view metrics_hourly with (timescaledb.continuous) as
              select time_bucket('1 hour', ts) as bucket, dev, avg(v) from metrics group by 1, 2 with no data`;
    await sql`call refresh_continuous_aggregate('metrics_hourly', '2021-03-01', '2021-03-02')`;
    await startFlow();
    await flow.manager.scanner.scanOnce();
    await archiveRequested();
    let ledger = await flow.ledger('tsdb');
    expect(ledger.map((r) => r.state)).toEqual(['dropped', 'archived', 'archived']);
    expect(ledger[1]!.last_error_code).toBe('WAITING_FOR_AGGREGATE');
    const status = (await flow.manager.status()) as {
      database_stats: Array<{ tables: Array<{ waiting: Array<{ chunk: string; reason: string }> }> }>;
    };
    expect(status.database_stats[0]!.tables[0]!.waiting).toEqual([
      expect.objectContaining({
        chunk: chunkName(ledger[1]!),
        reason: expect.stringContaining('public.metrics_hourly'),
      }),
      expect.objectContaining({ chunk: chunkName(ledger[2]!) }),
    ]);
    expect(
      await sql`select count(*)::int as n from metrics where ts >= '2021-03-02' and ts < '2021-03-04'`,
    ).toEqual([{ n: 2880 }]);

    await sql`call refresh_continuous_aggregate('metrics_hourly', '2021-03-01', '2021-03-04')`;
    await flow.manager.scanner.scanOnce();
    ledger = await flow.ledger('tsdb');
    expect(ledger.map((r) => r.state)).toEqual(['dropped', 'dropped', 'dropped']);
  });
});

/** Waits until `count` sessions wait for a lock on the relation. */
async function waitForLockWaiters(sql: Sql, oid: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks where relation = ${oid}::oid and not granted`;
    if (row!.n >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${count} sessions waited for a lock on ${oid}`);
}
