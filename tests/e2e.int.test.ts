import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobStore } from '@chunk-archiver/storage';
import {
  duckdbLiteral,
  duckdbQuery,
  pgDatabase,
  redisNamespace,
  startTimescale,
} from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from './backends.js';
import { type RunningService, startService } from './services.js';

async function parquetRows(store: BlobStore, key: string): Promise<Array<Record<string, unknown>>> {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-read-'));
  try {
    const path = join(dir, 'x.parquet');
    await writeFile(path, await store.read(key));
    // "at" is a keyword in DuckDB.
    return await duckdbQuery(`select id::varchar as id, epoch_us("at")::varchar as "at", actor, detail::varchar as detail
      from read_parquet(${duckdbLiteral(path)}, hive_partitioning = false) order by "at", id`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function scenario(backendName: string, archivalProcesses: number, partitions: number) {
  const backend = await BACKENDS[backendName]!();
  const db = await pgDatabase(`e2e_${backendName}`);
  const ns = await redisNamespace(`e2e-${backendName}`);
  const sql = postgres(db.url, { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
  const running: RunningService[] = [];
  try {
    await sql`create table audit (id bigint not null, at timestamptz not null, actor text, detail jsonb) partition by range (at)`;
    await sql`create table audit_now partition of audit for values from (date_trunc('month', now())) to (date_trunc('month', now()) + interval '1 month')`;
    const common = {
      redis: { url: ns.url, key_prefix: ns.prefix },
      storage: { prefix: 'archive', ...backend.storage },
    };
    const dbUrl = { url: db.url };
    for (let i = 0; i < archivalProcesses; i++) {
      running.push(
        await startService(
          'archival-service',
          { ...common, max_concurrent_archival_tasks: 1, databases: { main: dbUrl } },
          { ...backend.env, CONSUMER_NAME: `worker-${i}`, ARCHIVER_EVENT_SECRET: 'e2e-hmac-secret' },
        ),
      );
    }
    const manager = await startService(
      'database-service',
      {
        ...common,
        defaults: { retention_days: 30, check_interval_s: 3600 },
        databases: { main: { ...dbUrl, tables: [{ name: 'audit', kind: 'partition' }] } },
      },
      { ...backend.env, API_TOKEN: 'e2e-token', ARCHIVER_EVENT_SECRET: 'e2e-hmac-secret' },
    );
    running.push(manager);
    // The manager scans once at start-up; let that scan finish so the trigger below is what queues.
    for (let i = 0; i < 100; i++) {
      const s = (await (await fetch(`${manager.url}/database/retention/status`)).json()) as {
        database_stats: Array<{ last_scan: { finished_at: string | null } }>;
      };
      if (s.database_stats[0]?.last_scan.finished_at) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    // Seed expired partitions after the first scan, so the REST trigger is what queues them.
    const names: string[] = [];
    for (let m = 1; m <= partitions; m++) {
      const name = `audit_2021_${String(m).padStart(2, '0')}`;
      names.push(name);
      const from = `2021-${String(m).padStart(2, '0')}-01`;
      const to = m === 12 ? '2022-01-01' : `2021-${String(m + 1).padStart(2, '0')}-01`;
      // DDL takes no bind parameters; these bounds are constants of the test.
      await sql.unsafe(`create table "${name}" partition of audit for values from ('${from}') to ('${to}')`);
    }
    await sql`insert into audit select g, '2021-01-01'::timestamptz + (g * interval '47 minutes'), 'user' || (g % 13), jsonb_build_object('g', g, 'note', repeat('x', g % 40))
              from generate_series(1, ${partitions * 900}) g where '2021-01-01'::timestamptz + (g * interval '47 minutes') < ${`2021-${String(partitions + 1).padStart(2, '0')}-01`}::timestamptz`;
    await sql`insert into audit values (-1, now(), 'current', null)`;
    const before = new Map<string, Array<Record<string, unknown>>>();
    for (const name of names) {
      before.set(
        name,
        await sql.unsafe(
          `select id::text as id, (extract(epoch from at) * 1000000)::bigint::text as at, actor, detail::text as detail from "${name}" order by at, id`,
        ),
      );
    }

    const unauthorized = await fetch(`${manager.url}/database/retention/trigger-archival?table_name=audit`, {
      method: 'POST',
    });
    expect(unauthorized.status).toBe(401);
    const trigger = await fetch(`${manager.url}/database/retention/trigger-archival?table_name=audit`, {
      method: 'POST',
      headers: { authorization: 'Bearer e2e-token' },
    });
    expect(trigger.status).toBe(200);
    const queued = (await trigger.json()) as { queued: Array<{ chunk: string }> };
    expect(queued.queued.map((q) => q.chunk)).toEqual(names.map((n) => `public.${n}`));

    const deadline = Date.now() + 90_000;
    let status:
      | {
          rows_archived: number;
          database_stats: Array<{ tables: Array<{ chunks: Record<string, number> }> }>;
        }
      | undefined;
    while (Date.now() < deadline) {
      status = (await (await fetch(`${manager.url}/database/retention/status`)).json()) as typeof status;
      if (status!.database_stats[0]!.tables[0]!.chunks.dropped === partitions) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status!.database_stats[0]!.tables[0]!.chunks).toMatchObject({
      dropped: partitions,
      pending: 0,
      requested: 0,
      failed: 0,
      dead: 0,
    });

    const ledger = await sql<
      { chunk_name: string; object_key: string; row_count: string }[]
    >`select chunk_name, object_key, row_count::text from archiver.chunks order by chunk_name`;
    for (const row of ledger) {
      expect(await sql`select to_regclass(${row.chunk_name}) as t`).toEqual([{ t: null }]);
      const expected = before.get(row.chunk_name)!;
      expect(Number(row.row_count)).toBe(expected.length);
      expect(await parquetRows(backend.store, row.object_key)).toEqual(expected.map((r) => ({ ...r })));
    }
    expect(status!.rows_archived).toBe([...before.values()].reduce((n, rows) => n + rows.length, 0));
    const [left] = await sql`select count(*)::int as n from audit`;
    expect(left!.n).toBe(1);

    const workers = running.slice(0, archivalProcesses);
    const archivedPerWorker = await Promise.all(
      workers.map(
        async (w) =>
          ((await (await fetch(`${w.url}/archival/metrics`)).json()) as { archived: number }).archived,
      ),
    );
    return { archivedPerWorker, logs: running.map((r) => r.logs()).join('\n') };
  } finally {
    for (const service of running.reverse()) expect(await service.stop()).toBe(0);
    await sql.end({ timeout: 5 });
    await db.cleanup();
    await ns.cleanup();
    await backend.stop();
  }
}

describe('end to end: both services as processes, triggered over REST', () => {
  for (const backend of ['azure', 's3', 'local']) {
    it(`archives, verifies and drops expired partitions into ${backend}`, async () => {
      const { archivedPerWorker, logs } = await scenario(backend, 1, 2);
      expect(archivedPerWorker).toEqual([2]);
      // Secrets never reach the logs.
      expect(logs).not.toContain('e2e-token');
      expect(logs).not.toContain('e2e-hmac-secret');
      expect(logs).not.toMatch(/AccountKey=|S3RVER/);
    }, 120_000);
  }

  it('shares the work between two archival-service processes', async () => {
    const { archivedPerWorker } = await scenario('azure', 2, 6);
    expect(archivedPerWorker.reduce((a, b) => a + b, 0)).toBe(6);
    expect(archivedPerWorker.every((n) => n >= 1)).toBe(true);
  }, 120_000);
});

describe('end to end on TimescaleDB: both services as processes, hypertable chunks', () => {
  it('archives, verifies and drops expired hypertable chunks, keeping recent ones', async () => {
    const ts = await startTimescale();
    const backend = await BACKENDS.local!();
    const ns = await redisNamespace('e2e-tsdb');
    const sql = postgres(ts.url, { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
    const running: RunningService[] = [];
    try {
      await sql`create table readings (time timestamptz not null, sensor int not null, value double precision)`;
      await sql`select create_hypertable('readings', by_range('time', interval '10 days'))`;
      await sql`insert into readings select t, s, s * 1.5 + extract(hour from t)
                from generate_series('2021-03-01'::timestamptz, '2021-03-29 23:00', interval '1 hour') t, generate_series(1, 3) s`;
      await sql`insert into readings select now() - (g || ' hours')::interval, 9, g from generate_series(1, 24) g`;
      const chunks = await sql<{ chunk_schema: string; chunk_name: string }[]>`
        select chunk_schema, chunk_name from timescaledb_information.chunks
        where hypertable_name = 'readings' and range_end < now() - interval '30 days' order by range_start`;
      const before = new Map<string, unknown[]>();
      for (const c of chunks) {
        before.set(c.chunk_name, [
          ...(await sql.unsafe(`select (extract(epoch from time) * 1000000)::bigint::text as t, sensor, value
          from "${c.chunk_schema}"."${c.chunk_name}" order by time, sensor`)),
        ]);
      }
      const database = { url: ts.url };
      const common = {
        redis: { url: ns.url, key_prefix: ns.prefix },
        storage: { prefix: 'archive', ...backend.storage },
      };
      running.push(await startService('archival-service', { ...common, databases: { tsdb: database } }));
      const manager = await startService('database-service', {
        ...common,
        defaults: { retention_days: 30, check_interval_s: 3600 },
        databases: {
          tsdb: { ...database, tables: [{ name: 'readings', kind: 'timescaledb' }] },
        },
      });
      running.push(manager);
      const trigger = await fetch(
        `${manager.url}/database/retention/trigger-archival?table_name=public.readings`,
        { method: 'POST' },
      );
      expect(trigger.status).toBe(200);

      const deadline = Date.now() + 100_000;
      let dropped = 0;
      while (Date.now() < deadline) {
        const status = (await (await fetch(`${manager.url}/database/retention/status`)).json()) as {
          database_stats: Array<{ tables: Array<{ chunks: Record<string, number> }> }>;
        };
        dropped = status.database_stats[0]!.tables[0]!.chunks.dropped ?? 0;
        if (dropped === chunks.length) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(dropped).toBe(chunks.length);
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      const ledger = await sql<
        { chunk_name: string; object_key: string }[]
      >`select chunk_name, object_key from archiver.chunks order by chunk_name`;
      for (const row of ledger) {
        const dir = await mkdtemp(join(tmpdir(), 'e2e-ts-'));
        try {
          const path = join(dir, 'x.parquet');
          await writeFile(path, await backend.store.read(row.object_key));
          const rows = await duckdbQuery(`select epoch_us(time)::varchar as t, sensor, value
            from read_parquet(${duckdbLiteral(path)}, hive_partitioning = false) order by time, sensor`);
          expect(rows).toEqual(
            (before.get(row.chunk_name) as Array<Record<string, unknown>>).map((r) => ({ ...r })),
          );
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      const [left] = await sql`select count(*)::int as n, min(sensor) as s from readings`;
      expect(left).toEqual({ n: 24, s: 9 });
    } catch (error) {
      for (const service of running) console.error(service.logs().slice(-3000));
      throw error;
    } finally {
      for (const service of running.reverse()) expect(await service.stop()).toBe(0);
      await sql.end({ timeout: 5 });
      await ns.cleanup();
      await backend.stop();
      await ts.stop();
    }
  }, 150_000);
});
