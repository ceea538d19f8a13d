import type { BlobStore } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, type Backend } from './backends.js';
import { retentionFlow } from './flow.js';
import { queryArchived } from './parquet-read.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;
type Db = Awaited<ReturnType<typeof pgDatabase>>;

/**
 * The rows as one fingerprint both sides compute alike: id, the time as epoch microseconds, actor
 * and amount, in id order, hashed. PostgreSQL reads the table; DuckDB reads the Parquet files.
 */
const PG_FINGERPRINT = `select count(*)::int as n,
  md5(string_agg(id::text || '|' || (extract(epoch from at) * 1000000)::bigint::text || '|' || actor || '|' || amount::text, ',' order by id)) as fp
  from audit_logs`;

async function duckdbFingerprint(store: BlobStore, keys: string[]): Promise<{ n: number; fp: string }> {
  const [row] = await queryArchived(
    store,
    keys,
    `select count(*)::int as n,
      md5(string_agg(id::varchar || '|' || epoch_us("at")::varchar || '|' || actor || '|' || amount::varchar, ',' order by id)) as fp`,
  );
  return row as { n: number; fp: string };
}

/** An audit table as the archiver this product replaces knew it: a timestamp and a primary key. */
async function createAuditLogs(sql: postgres.Sql, expiredRows: number): Promise<void> {
  await sql`create table audit_logs (id bigint primary key, at timestamptz, actor text not null, amount numeric(12,2) not null, detail jsonb)`;
  await sql`create index audit_logs_at on audit_logs (at)`;
  // Ten seconds apart from 2020-01-01: long expired. Then today's rows, and rows with no time.
  await sql`insert into audit_logs select g, '2020-01-01'::timestamptz + g * interval '10 seconds', 'user' || (g % 97),
              (g % 100000) / 100.0, jsonb_build_object('g', g) from generate_series(1, ${expiredRows}) g`;
  await sql`insert into audit_logs select 10000000 + g, now() - g * interval '1 minute', 'recent', 1, null from generate_series(1, 500) g`;
  await sql`insert into audit_logs select 20000000 + g, null, 'no time', 2, null from generate_series(1, 7) g`;
  await sql`analyze audit_logs`;
}

const ONE_ROW = 'select id::varchar as id, actor, amount::varchar as amount';

const AUDIT_LOGS = { schema: 'public', name: 'audit_logs', kind: 'table', time_column: 'at' };

describe('plain tables: time windows archived, verified and deleted', () => {
  let db: Db | undefined;
  let sql: postgres.Sql | undefined;
  let flow: Flow | undefined;
  let backend: Backend | undefined;

  afterEach(async () => {
    await flow?.stop();
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
    await backend?.stop();
    flow = sql = db = backend = undefined;
  });

  async function setUp(name: string, _table: Record<string, unknown>, backendName = 'local') {
    backend = await BACKENDS[backendName]!();
    db = await pgDatabase(name);
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    return { sql, backend };
  }

  async function startFlow(table: Record<string, unknown>, defaults: Record<string, unknown> = {}) {
    flow = await retentionFlow({
      databases: { main: { sql: sql!, tables: [table] } },
      store: backend!.store,
      defaults: { chunks_per_scan: 4, ...defaults },
    });
    return flow;
  }

  for (const backendName of ['local', 'azure', 's3']) {
    it(`archives a 1M-row table window by window to ${backendName}; DuckDB reads back exactly the expired rows, and only they are gone`, async () => {
      await setUp(`plain_${backendName}`, AUDIT_LOGS, backendName);
      await createAuditLogs(sql!, 1_000_000);
      const [before] = await sql!.unsafe(`${PG_FINGERPRINT} where at < now() - interval '30 days'`);
      const f = await startFlow({ ...AUDIT_LOGS, target_rows: 200_000, max_rows: 400_000 });
      await f.worker.start();
      await f.manager.start();
      await f.waitFor(
        async () => {
          const [left] =
            await sql!`select count(*)::int as n from audit_logs where at < now() - interval '30 days'`;
          const ledger = await f.ledger('main');
          return left!.n === 0 && ledger.length > 0 && ledger.every((c) => c.state === 'dropped');
        },
        'every expired window removed',
        240_000,
      );
      const ledger = await f.ledger('main');
      expect(ledger.length).toBeGreaterThanOrEqual(4);
      for (const w of ledger) expect(Number(w.row_count)).toBeLessThanOrEqual(400_000);
      // Contiguous windows: each starts where the one before ended.
      for (let i = 1; i < ledger.length; i++) expect(ledger[i]!.range_start).toBe(ledger[i - 1]!.range_end);
      const archived = await duckdbFingerprint(
        backend!.store,
        ledger.map((w) => w.object_key!),
      );
      expect(archived).toEqual({ n: before!.n, fp: before!.fp });
      expect(archived.n).toBe(1_000_000);
      // Only the unexpired rows and the rows with no time are left, untouched.
      const [left] = await sql!`select count(*) filter (where at is null)::int as null_time,
        count(*) filter (where at is not null)::int as recent from audit_logs`;
      expect(left).toEqual({ null_time: 7, recent: 500 });
      const status = (await f.manager.status()) as {
        database_stats: Array<{ tables: Array<{ table: string; kind: string; rows_archived: number }> }>;
      };
      expect(status.database_stats[0]!.tables[0]).toMatchObject({
        table: 'public.audit_logs',
        kind: 'table',
        rows_archived: 1_000_000,
        null_time_rows: 7,
      });
    }, 300_000);
  }

  /** A small audit table in one window, scanned and archived, its confirmation not yet handled. */
  async function archivedWindow(name: string) {
    await setUp(name, AUDIT_LOGS);
    await createAuditLogs(sql!, 5_000);
    const f = await startFlow({ ...AUDIT_LOGS, target_rows: 10_000 });
    await f.manager.scanner.scanOnce();
    const [row] = await f.ledger('main');
    expect(row!.state).toBe('requested');
    return { f, row: row!, confirmation: await f.archiveDirectly('main', row!) };
  }

  /** Lets the manager and worker run until the table's only window is removed. */
  async function untilRemoved(f: Flow): Promise<void> {
    await f.worker.start();
    await f.manager.start();
    await f.waitFor(
      async () => (await f.ledger('main')).every((w) => w.state === 'dropped'),
      'window removed',
    );
  }

  it('window_pause_ms spaces the removals from one table, without holding up a confirmation', async () => {
    await setUp('plain_pause', AUDIT_LOGS);
    await createAuditLogs(sql!, 5_000);
    const PAUSE_MS = 1_500;
    const f = await startFlow(
      { ...AUDIT_LOGS, target_rows: 1_000, window_pause_ms: PAUSE_MS },
      { chunks_per_scan: 10 },
    );
    await f.worker.start();
    await f.manager.start();
    await f.waitFor(async () => {
      const windows = await f.ledger('main');
      const [left] =
        await sql!`select count(*)::int as n from audit_logs where at < now() - interval '30 days'`;
      return left!.n === 0 && windows.length >= 4 && windows.every((w) => w.state === 'dropped');
    }, 'every expired window removed');
    const removals = await sql!<{ at: Date }[]>`
      select at from archiver.chunk_events where to_state = 'dropped' order by at`;
    expect(removals.length).toBeGreaterThanOrEqual(4);
    const gaps = removals.slice(1).map((r, i) => r.at.getTime() - removals[i]!.at.getTime());
    // The reservation is taken just before each removal's transaction starts.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(PAUSE_MS - 50);
  }, 60_000);

  it('a late insert into the window between archive and delete: nothing deleted, archived again with it, then removed', async () => {
    const { f, confirmation } = await archivedWindow('plain_late');
    await sql!`insert into audit_logs values (999999, '2020-01-01 00:05:00+00', 'late writer', 1.5, null)`;
    await f.manager.handleConfirmation(confirmation);
    const [row] = await f.ledger('main');
    expect(row).toMatchObject({ state: 'pending', last_error_code: 'CONTENT_CHANGED' });
    const [kept] = await sql!`select count(*)::int as n from audit_logs where at < '2021-01-01'`;
    expect(kept!.n).toBe(5_001);

    await untilRemoved(f);
    const [final] = await f.ledger('main');
    expect(Number(final!.row_count)).toBe(5_001);
    const archived = await queryArchived(backend!.store, [final!.object_key!], ONE_ROW, 'where id = 999999');
    expect(archived).toEqual([{ id: '999999', actor: 'late writer', amount: '1.50' }]);
  });

  it('an UPDATE inside the window between archive and delete: nothing deleted, the archive holds the new value', async () => {
    const { f, confirmation } = await archivedWindow('plain_update');
    await sql!`update audit_logs set actor = 'changed after archive' where id = 42`;
    await f.manager.handleConfirmation(confirmation);
    const [row] = await f.ledger('main');
    expect(row).toMatchObject({ state: 'pending', last_error_code: 'CONTENT_CHANGED' });
    await untilRemoved(f);
    const [final] = await f.ledger('main');
    const archived = await queryArchived(backend!.store, [final!.object_key!], ONE_ROW, 'where id = 42');
    expect(archived).toEqual([{ id: '42', actor: 'changed after archive', amount: '0.42' }]);
  });

  it('a writer still open during the delete commits a row into the window: the removal waits for it, sees it, and undoes the delete', async () => {
    const { f, confirmation } = await archivedWindow('plain_inflight');
    // An open transaction has inserted into the window: the delete cannot see its row yet.
    const writer = postgres(db!.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const writing = writer.begin(async (tx) => {
      await tx`insert into audit_logs values (888888, '2020-01-01 00:07:00+00', 'in flight', 2.5, null)`;
      await released;
    });
    try {
      await f.waitFor(async () => {
        const [n] = await sql!`select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation
          where c.relname = 'audit_logs' and l.mode = 'RowExclusiveLock' and l.granted`;
        return n!.n > 0;
      }, 'the writer holds its lock');
      const handled = f.manager.handleConfirmation(confirmation);
      // The removal waits for the writer's lock; let the writer commit then.
      await f.waitFor(async () => {
        const [n] = await sql!`select count(*)::int as n from pg_locks l join pg_class c on c.oid = l.relation
          where c.relname = 'audit_logs' and l.mode = 'ShareRowExclusiveLock' and not l.granted`;
        return n!.n > 0;
      }, 'the removal waiting for the writer');
      release();
      await writing;
      await handled;
    } finally {
      release();
      await writer.end({ timeout: 5 });
    }
    const [row] = await f.ledger('main');
    expect(row).toMatchObject({ state: 'pending', last_error_code: 'LATE_ROWS' });
    const [kept] = await sql!`select count(*)::int as n from audit_logs where at < '2021-01-01'`;
    expect(kept!.n).toBe(5_001);
    await untilRemoved(f);
    const [final] = await f.ledger('main');
    expect(Number(final!.row_count)).toBe(5_001);
  });
});

describe('plain tables: restore of a window by primary key', () => {
  it('refuses keys the table already holds (naming how many), and with skip_existing loads only the missing rows', async () => {
    const backend = await BACKENDS.local!();
    const db = await pgDatabase('plain_restore');
    const sql = postgres(db.url, { max: 4, onnotice: () => {} });
    const flow = await retentionFlow({
      databases: { main: { sql, tables: [{ ...AUDIT_LOGS, target_rows: 10_000 }] } },
      store: backend.store,
    });
    try {
      await createAuditLogs(sql, 3_000);
      await sql`create table originals as select * from audit_logs where at < '2021-01-01'`;
      await flow.manager.scanner.scanOnce();
      const [row] = await flow.ledger('main');
      await flow.manager.handleConfirmation(await flow.archiveDirectly('main', row!));
      expect((await flow.ledger('main'))[0]!.state).toBe('dropped');
      // Row 42 came back meanwhile with a new time: its key is taken, outside the window's range.
      await sql`insert into audit_logs values (42, now(), 'back again', 0, null)`;
      const input = { table: 'audit_logs', from: '2019-01-01', to: '2021-01-01' };
      const refused = (await flow.manager.restorer.restore(input)) as {
        ok: boolean;
        objects: Array<{ status: string; error_code?: string; error?: string }>;
      };
      expect(refused.ok).toBe(false);
      expect(refused.objects[0]).toMatchObject({ status: 'failed', error_code: 'ROWS_EXIST' });
      expect(refused.objects[0]!.error).toContain('already holds 1 of the 3000 archived primary keys (id)');
      expect(await sql`select count(*)::int as n from audit_logs where at < '2021-01-01'`).toEqual([
        { n: 0 },
      ]);

      const report = (await flow.manager.restorer.restore({ ...input, skipExisting: true })) as {
        objects: Array<{ restored_rows: number; skipped_rows: number }>;
      };
      expect(report.objects).toEqual([expect.objectContaining({ restored_rows: 2_999, skipped_rows: 1 })]);
      const [diff] = await sql`select count(*)::int as n from (
        (select * from originals where id <> 42 except select * from audit_logs)
        union all (select * from audit_logs where at < '2021-01-01' except select * from originals)) d`;
      expect(diff!.n).toBe(0);
    } finally {
      await flow.stop();
      await sql.end({ timeout: 5 });
      await db.cleanup();
      await backend.stop();
    }
  });
});
