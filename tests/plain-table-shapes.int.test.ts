import { silentLogger } from '@chunk-archiver/common';
import { buildApp } from '@chunk-archiver/database-service';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, type Backend } from './backends.js';
import { retentionFlow } from './flow.js';
import { queryArchived } from './parquet-read.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;
type Db = Awaited<ReturnType<typeof pgDatabase>>;

interface TableStatus {
  table: string;
  conflicts: Array<{ kind: string; message: string }>;
  warnings: string[];
  windows?: Array<{ rows: number; expected_rows: number | null; removal_ms: number | null }>;
}

describe('plain tables: keys, time types, refusals and adaptive windows', () => {
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

  async function start(
    name: string,
    tables: Array<Record<string, unknown>>,
    seed: (sql: postgres.Sql) => Promise<void>,
  ) {
    backend = await BACKENDS.local!();
    db = await pgDatabase(name);
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    await seed(sql);
    flow = await retentionFlow({
      databases: { main: { sql, tables } },
      store: backend.store,
      defaults: { chunks_per_scan: 4 },
    });
    return flow;
  }

  async function tableStatus(f: Flow): Promise<TableStatus[]> {
    const status = (await f.manager.status()) as { database_stats: Array<{ tables: TableStatus[] }> };
    return status.database_stats[0]!.tables;
  }

  async function runUntilEmpty(f: Flow, table: string, where: string): Promise<void> {
    await f.worker.start();
    await f.manager.start();
    await f.waitFor(
      async () => {
        const [left] = await sql!.unsafe(`select count(*)::int as n from ${table} where ${where}`);
        const ledger = await f.ledger('main');
        return left!.n === 0 && ledger.length > 0 && ledger.every((w) => w.state === 'dropped');
      },
      `${table} emptied of expired rows`,
      120_000,
    );
  }

  it('a composite primary key and an integer epoch (milliseconds) time column: windows in the column’s units', async () => {
    const f = await start(
      'plain_epoch',
      [{ name: 'readings', kind: 'table', time_column: 'ts', time_unit: 'ms', target_rows: 20_000 }],
      async (s) => {
        await s`create table readings (device int, seq int, ts bigint, v double precision, primary key (device, seq))`;
        await s`create index on readings (ts)`;
        // 60,000 expired rows a minute apart from 2020-01-01, and 100 from the last hour.
        await s`insert into readings select g % 10, g, 1577836800000 + g::bigint * 60000, g / 7.0 from generate_series(1, 60000) g`;
        await s`insert into readings select 99, g, (extract(epoch from now()) * 1000)::bigint - g * 1000, 0 from generate_series(1, 100) g`;
      },
    );
    const [source] =
      await sql!`select count(*)::int as n, sum(seq)::text as seqs, sum(ts)::text as ts from readings where device <> 99`;
    await runUntilEmpty(f, 'readings', 'device <> 99');
    const ledger = await f.ledger('main');
    expect(ledger.length).toBeGreaterThanOrEqual(3);
    expect(ledger.every((w) => w.dimension_type === 'integer' && /^\d+$/.test(w.range_start))).toBe(true);
    const [archived] = await queryArchived(
      backend!.store,
      ledger.map((w) => w.object_key!),
      'select count(*)::int as n, sum(seq)::varchar as seqs, sum(ts)::varchar as ts',
    );
    expect(archived).toEqual(source);
    expect(await sql!`select count(*)::int as n from readings`).toEqual([{ n: 100 }]);
  });

  it('refuses a table without a primary key, naming why, and touches nothing', async () => {
    const f = await start('plain_nokey', [{ name: 'loose', kind: 'table', time_column: 'at' }], async (s) => {
      await s`create table loose (at timestamptz, v text)`;
      await s`insert into loose select '2020-01-01'::timestamptz + g * interval '1 minute', 'x' from generate_series(1, 1000) g`;
    });
    const [report] = await f.manager.scanner.scanOnce();
    expect(report!.requested).toEqual([]);
    const [loose] = await tableStatus(f);
    expect(loose!.conflicts).toEqual([
      expect.objectContaining({
        kind: 'not_plain_table',
        message: expect.stringContaining('has no primary key'),
      }),
    ]);
    expect(await f.ledger('main')).toEqual([]);
    expect(await sql!`select count(*)::int as n from loose`).toEqual([{ n: 1000 }]);
  });

  it('warns when no index leads with the time column, and still archives and removes the expired rows', async () => {
    const f = await start(
      'plain_noindex',
      [{ name: 'slow', kind: 'table', time_column: 'at' }],
      async (s) => {
        await s`create table slow (id bigint primary key, at timestamptz)`;
        await s`insert into slow select g, '2020-01-01'::timestamptz + g * interval '1 minute' from generate_series(1, 3000) g`;
      },
    );
    await f.manager.scanner.scanOnce({ dryRun: true });
    const [slow] = await tableStatus(f);
    expect(slow!.warnings).toEqual([expect.stringContaining('no index leads with public.slow.at')]);
    await runUntilEmpty(f, 'slow', "at < now() - interval '30 days'");
    expect(await sql!`select count(*)::int as n from slow`).toEqual([{ n: 0 }]);
  });

  it('sizes windows toward target_rows on a table whose density changes 100× across time', async () => {
    const target = 20_000;
    const f = await start(
      'plain_density',
      [{ name: 'bursty', kind: 'table', time_column: 'at', target_rows: target, min_rows: 1_000 }],
      async (s) => {
        await s`create table bursty (id bigint primary key, at timestamptz not null)`;
        await s`create index on bursty (at)`;
        // 100 rows a minute for 40 hours, then one a minute for 90 days: 240,000 + 129,600 rows.
        await s`insert into bursty select g, '2020-01-01'::timestamptz + g * interval '600 milliseconds' from generate_series(1, 240000) g`;
        await s`insert into bursty select 1000000 + g, '2020-01-03'::timestamptz + g * interval '1 minute' from generate_series(1, 129600) g`;
        await s`analyze bursty`;
      },
    );
    await runUntilEmpty(f, 'bursty', "at < now() - interval '30 days'");
    const ledger = await f.ledger('main');
    const rows = ledger.map((w) => Number(w.row_count));
    expect(rows.reduce((a, b) => a + b, 0)).toBe(369_600);
    // Every window but the last (which ends where the data does) holds half to twice the target.
    for (const n of rows.slice(0, -1)) {
      expect(n).toBeGreaterThanOrEqual(target / 2);
      expect(n).toBeLessThanOrEqual(target * 2);
    }
    // The same rows per window means spans about 100× apart: the sizer followed the density.
    const spans = ledger.slice(0, -1).map((w) => Date.parse(w.range_end) - Date.parse(w.range_start));
    expect(Math.max(...spans) / Math.min(...spans)).toBeGreaterThan(30);
    const [bursty] = await tableStatus(f);
    expect(bursty!.windows!.length).toBeGreaterThan(0);
    expect(bursty!.windows![0]).toMatchObject({ rows: expect.any(Number), removal_ms: expect.any(Number) });
  }, 180_000);

  it('timestamp and date time columns; a REST dry run lists each window with its rows; VACUUM FULL rewrites the table afterwards', async () => {
    const f = await start(
      'plain_types',
      [
        {
          name: 'local_events',
          kind: 'table',
          time_column: 'happened',
          target_rows: 10_000,
          vacuum_after_archival: 'full',
        },
        { name: 'daily', kind: 'table', time_column: 'day', target_rows: 2_000 },
      ],
      async (s) => {
        await s`create table local_events (id int primary key, happened timestamp not null, note text)`;
        await s`create index on local_events (happened)`;
        await s`insert into local_events select g, '2020-03-01'::timestamp + g * interval '1 minute', 'n' || g from generate_series(1, 30000) g`;
        await s`create table daily (day date not null, k int not null, v int, primary key (day, k))`;
        await s`insert into daily select '2020-01-01'::date + (g / 20), g % 20, g from generate_series(0, 9999) g`;
        await s`insert into daily select current_date, g, 0 from generate_series(1, 5) g`;
      },
    );
    const app = await buildApp({
      logger: silentLogger(),
      registry: new Registry(),
      apiToken: 'plain-token',
      readiness: async () => ({}),
      status: async () => ({}),
      trigger: (input) => f.manager.trigger(input),
      restore: (input) => f.manager.restorer.restore(input),
      retry: (input) => f.manager.retry(input),
      deadLetters: f.manager.deadLetters,
      release: (input) => f.manager.restorer.release(input),
    });
    const dry = await app.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=local_events&dry_run=true',
      headers: { authorization: 'Bearer plain-token' },
    });
    expect(dry.statusCode).toBe(200);
    const queued = (dry.json() as { queued: Array<{ chunk: string; expected_rows: number }> }).queued;
    // Exact counts (an index leads with the column): every row in one window, none too big.
    expect(queued.reduce((n, w) => n + w.expected_rows, 0)).toBe(30_000);
    for (const w of queued) {
      expect(w.chunk).toMatch(/^public\.local_events\[2020-/);
      expect(w.expected_rows).toBeLessThanOrEqual(20_000);
    }
    for (const w of queued.slice(0, -1)) expect(w.expected_rows).toBeGreaterThanOrEqual(5_000);
    await app.close();
    const [{ file: fileBefore }] =
      (await sql!`select pg_relation_filenode('local_events')::text as file`) as unknown as [
        { file: string },
      ];
    const [source] = await sql!`select count(*)::int as n, sum(id)::text as ids,
      min(extract(epoch from happened))::bigint::text as first, max(extract(epoch from happened))::bigint::text as last
      from local_events`;
    await runUntilEmpty(f, 'local_events', 'true');
    await f.waitFor(
      async () => (await sql!`select count(*)::int as n from daily`)[0]!.n === 5,
      'daily emptied of expired days',
    );
    const ledger = await f.ledger('main');
    const events = ledger.filter((w) => w.table_name === 'local_events');
    const [archived] = await queryArchived(
      backend!.store,
      events.map((w) => w.object_key!),
      `select count(*)::int as n, sum(id)::varchar as ids, min(epoch(happened))::bigint::varchar as first,
        max(epoch(happened))::bigint::varchar as last`,
    );
    expect(archived).toEqual(source);
    // VACUUM FULL (in the background, once no window is open) wrote the emptied table anew.
    await f.waitFor(async () => {
      const [row] = await sql!`select pg_relation_filenode('local_events')::text as file`;
      return row!.file !== fileBefore;
    }, 'VACUUM FULL after archival');
    const days = ledger.filter((w) => w.table_name === 'daily');
    const [dayRows] = await queryArchived(
      backend!.store,
      days.map((w) => w.object_key!),
      'select count(*)::int as n, sum(v)::varchar as v, min(day)::varchar as first',
    );
    expect(dayRows).toEqual({ n: 10_000, v: String((9_999 * 10_000) / 2), first: '2020-01-01' });
  });
});
