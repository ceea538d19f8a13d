import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArchivalConfirmation, TOPICS } from '@chunk-archiver/events';
import {
  archiveKeys,
  type BlobStore,
  createAzureBlobStore,
  createLocalBlobStore,
} from '@chunk-archiver/storage';
import {
  type AzuriteHandle,
  duckdbLiteral,
  duckdbQuery,
  pgDatabase,
  startAzurite,
  startTimescale,
  type TimescaleHandle,
} from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;

async function downloadAndCount(
  store: BlobStore,
  key: string,
  idColumn = 'id',
): Promise<{ n: number; ids: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'verify-'));
  try {
    const path = join(dir, 'x.parquet');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, await store.read(key));
    const [row] = await duckdbQuery(
      `select count(*)::int as n, coalesce(sum(${idColumn}), 0)::varchar as ids from read_parquet(${duckdbLiteral(path)}, hive_partitioning = false)`,
    );
    return row as { n: number; ids: string };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A natively partitioned audit table: two months long expired, the current month, and a default partition. */
async function createAudit(sql: postgres.Sql): Promise<void> {
  await sql`create table audit (id bigint not null, at timestamptz not null, actor text, detail jsonb) partition by range (at)`;
  await sql`create table audit_2020_01 partition of audit for values from ('2020-01-01') to ('2020-02-01')`;
  await sql`create table audit_2020_02 partition of audit for values from ('2020-02-01') to ('2020-03-01')`;
  await sql`create table audit_current partition of audit for values from (date_trunc('month', now())) to (date_trunc('month', now()) + interval '1 month')`;
  await sql`create table audit_default partition of audit default`;
  await sql`insert into audit select g, '2020-01-01'::timestamptz + (g || ' minutes')::interval, 'u' || (g % 10), jsonb_build_object('g', g)
            from generate_series(1, 80000) g`;
  await sql`insert into audit select 1000000 + g, date_trunc('month', now()) + (g || ' seconds')::interval, 'now', null from generate_series(1, 100) g`;
  await sql`insert into audit values (2000000, '1999-01-01', 'ancient', null)`;
}

describe('retention manager with the archival worker: native partitions on Azurite', () => {
  let azurite: AzuriteHandle;
  let store: BlobStore;
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let flow: Flow;

  let containers = 0;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });
  beforeEach(async () => {
    // Keys are deterministic, so each test gets a container of its own.
    store = await createAzureBlobStore({
      container: `archive-${++containers}`,
      connectionString: azurite.connectionString,
      maxTries: 2,
    });
    await store.ensureContainer();
    db = await pgDatabase('retention');
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    await createAudit(sql);
    flow = await retentionFlow({
      databases: { main: { sql, tables: [{ schema: 'public', name: 'audit', kind: 'partition' }] } },
      store,
      defaults: { vacuum_after_drop: true },
    });
  });
  afterEach(async () => {
    await flow?.stop();
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
  });

  it('archives and drops exactly the expired partitions, after verification, and status shows it', async () => {
    const [jan] = await sql`select count(*)::int as n, sum(id)::text as ids from audit_2020_01`;
    await flow.worker.start();
    await flow.manager.start();
    await flow.waitFor(
      async () => (await flow.ledger('main')).every((c) => c.state === 'dropped'),
      'both partitions dropped',
    );
    const ledger = await flow.ledger('main');
    expect(ledger.map((c) => c.chunk_name)).toEqual(['audit_2020_01', 'audit_2020_02']);

    const left = await sql`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
                            where i.inhparent = 'audit'::regclass order by 1`;
    expect(left.map((r) => r.relname)).toEqual(['audit_current', 'audit_default']);
    expect(await sql`select to_regclass('audit_2020_01') as t`).toEqual([{ t: null }]);
    const [rest] = await sql`select count(*)::int as n from audit`;
    expect(rest!.n).toBe(101);

    const janRow = ledger[0]!;
    expect(Number(janRow.row_count)).toBe(jan!.n);
    expect(await downloadAndCount(store, janRow.object_key!)).toEqual({ n: jan!.n, ids: jan!.ids });
    const events =
      await sql`select to_state from archiver.chunk_events where chunk_id = ${janRow.id} order by id`;
    expect(events.map((e) => e.to_state)).toEqual(['requested', 'archived', 'dropped']);

    const status = (await flow.manager.status()) as {
      rows_archived: number;
      databases_failed: number;
      database_stats: Array<{ tables: Array<{ table: string; chunks: Record<string, number> }> }>;
    };
    expect(status.databases_failed).toBe(0);
    expect(status.rows_archived).toBe(80000);
    expect(status.database_stats[0]!.tables[0]).toMatchObject({
      table: 'public.audit',
      chunks: { dropped: 2, pending: 0, dead: 0 },
    });
  });

  it('never drops when the confirmed object is missing or its sha256 differs', async () => {
    await flow.manager.scanner.scanOnce();
    const [jan, feb] = await flow.ledger('main');
    const good = await flow.archiveDirectly('main', jan!);
    expect(good.data.status).toBe('SUCCESS');
    if (good.data.status !== 'SUCCESS') return;

    // A confirmation for February pointing at February's key, where nothing was ever written.
    const febIdentity = {
      ...good.data,
      chunk_name: feb!.chunk_name,
      chunk_oid: String(feb!.chunk_oid),
      chunk_start_time: feb!.range_start,
      chunk_end_time: feb!.range_end,
    };
    const febKeys = archiveKeys('archive', febIdentity);
    const missing: ArchivalConfirmation = {
      ...good,
      data: {
        ...febIdentity,
        request_event_id: feb!.request_event_id!,
        object: { ...good.data.object, key: febKeys.dataKey, manifest_key: febKeys.manifestKey },
      },
    };
    await flow.manager.handleConfirmation(missing);
    // The real object, with a sha256 that does not match it: the message lies about what is
    // stored, so it is refused and changes nothing.
    await flow.manager.handleConfirmation({
      ...good,
      data: { ...good.data, manifest: { ...good.data.manifest, sha256: 'f'.repeat(64) } },
    });
    // A stored object whose bytes no longer match its manifest fails verification.
    await store.upload(
      good.data.object.key,
      (async function* () {
        yield Buffer.from('not parquet');
      })(),
    );
    await flow.manager.handleConfirmation({
      ...good,
      data: { ...good.data, manifest: { ...good.data.manifest, bytes: 11 } },
    });

    const ledger = await flow.ledger('main');
    expect(ledger.map((c) => [c.state, c.last_error_code])).toEqual([
      ['failed', 'SIZE_MISMATCH'],
      ['failed', 'OBJECT_MISSING'],
    ]);
    const refusals =
      await sql`select detail from archiver.chunk_events where chunk_id = ${jan!.id} and detail like '%refused%'`;
    expect(refusals.map((r) => r.detail)).toEqual([expect.stringContaining('MANIFEST_MISMATCH')]);
    const [counts] =
      await sql`select (select count(*) from audit_2020_01)::int as jan, (select count(*) from audit_2020_02)::int as feb`;
    expect(counts!.jan).toBeGreaterThan(0);
    expect(counts!.feb).toBeGreaterThan(0);
  });

  it('does not drop a chunk that gained a row after extraction; it archives it again, then drops', async () => {
    await flow.manager.scanner.scanOnce();
    const [jan] = await flow.ledger('main');
    const confirmation = await flow.archiveDirectly('main', jan!);
    await sql`insert into audit values (999999, '2020-01-15', 'late writer', null)`;
    await flow.manager.handleConfirmation(confirmation);

    let row = (await flow.ledger('main'))[0]!;
    expect(row.state).toBe('pending');
    expect(row.last_error_code).toBe('CONTENT_CHANGED');
    const [still] = await sql`select count(*)::int as n from audit_2020_01 where id = 999999`;
    expect(still!.n).toBe(1);

    await flow.worker.start();
    await flow.manager.start();
    await flow.waitFor(
      async () => (await flow.ledger('main'))[0]!.state === 'dropped',
      're-archive and drop',
    );
    row = (await flow.ledger('main'))[0]!;
    const archived = await downloadAndCount(store, row.object_key!);
    expect(archived.n).toBe(Number(row.row_count));
    expect(Number(row.row_count)).toBe(
      Number(confirmation.data.status === 'SUCCESS' ? confirmation.data.manifest.row_count : 0) + 1,
    );
  });

  it('drops once when the same confirmation arrives twice, and ignores a replay after the drop', async () => {
    await flow.manager.scanner.scanOnce();
    const [jan] = await flow.ledger('main');
    const confirmation = await flow.archiveDirectly('main', jan!);
    await Promise.all([
      flow.manager.handleConfirmation(confirmation),
      flow.manager.handleConfirmation(confirmation),
    ]);
    await flow.manager.handleConfirmation(confirmation);
    const events =
      await sql`select to_state, count(*)::int as n from archiver.chunk_events where chunk_id = ${jan!.id} group by 1 order by 1`;
    expect(events).toEqual([
      { to_state: 'archived', n: 1 },
      { to_state: 'dropped', n: 1 },
      { to_state: 'requested', n: 1 },
    ]);
  });

  it('dry run reports the expired partitions and changes nothing', async () => {
    const reports = await flow.manager.scanner.scanOnce({ dryRun: true });
    expect(reports[0]!.requested.map((c) => c.chunk)).toEqual([
      'public.audit_2020_01',
      'public.audit_2020_02',
    ]);
    expect(await sql`select to_regclass('archiver.chunks') as t`).toEqual([{ t: null }]);
    expect(await flow.bus.pending(TOPICS.archivalRequest, 'archival-service')).toBe(0);
    const [count] = await sql`select count(*)::int as n from audit`;
    expect(count!.n).toBe(80101);
  });
});

describe('retention manager on a TimescaleDB hypertable', () => {
  let ts: TimescaleHandle;
  let sql: postgres.Sql;
  let root: string;

  beforeAll(async () => {
    ts = await startTimescale();
    sql = postgres(ts.url, { max: 4, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
    root = await mkdtemp(join(tmpdir(), 'archive-'));
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await ts?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('archives and drops expired chunks, keeps recent ones', async () => {
    await sql`create table metrics (time timestamptz not null, host text, value double precision)`;
    await sql`select create_hypertable('metrics', by_range('time', interval '7 days'))`;
    await sql`insert into metrics select t, 'h' || (extract(epoch from t)::int % 3), random()
              from generate_series('2021-01-01'::timestamptz, '2021-01-20', interval '10 minutes') t`;
    await sql`insert into metrics select now() - (g || ' minutes')::interval, 'recent', 1 from generate_series(1, 50) g`;
    const store = createLocalBlobStore({ root, container: 'archive' });
    const flow = await retentionFlow({
      databases: { tsdb: { sql, tables: [{ schema: 'public', name: 'metrics', kind: 'timescaledb' }] } },
      store,
    });
    try {
      const [{ n: before }] =
        (await sql`select count(*)::int as n from metrics where time < '2022-01-01'`) as unknown as [
          { n: number },
        ];
      await flow.worker.start();
      await flow.manager.start();
      await flow.waitFor(async () => {
        const rows = await flow.ledger('tsdb');
        return rows.length > 0 && rows.every((c) => c.state === 'dropped');
      }, 'hypertable chunks dropped');
      const ledger = await flow.ledger('tsdb');
      expect(ledger.length).toBeGreaterThanOrEqual(3);
      expect(ledger.reduce((n, c) => n + Number(c.row_count), 0)).toBe(before);
      const [{ n: old }] =
        (await sql`select count(*)::int as n from metrics where time < '2022-01-01'`) as unknown as [
          { n: number },
        ];
      expect(old).toBe(0);
      const [{ n: recent }] = (await sql`select count(*)::int as n from metrics`) as unknown as [
        { n: number },
      ];
      expect(recent).toBe(50);
      for (const c of ledger)
        expect((await downloadAndCount(store, c.object_key!, 'value')).n).toBe(Number(c.row_count));
    } finally {
      await flow.stop();
    }
  });
});
