import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '@chunk-archiver/common';
import { auditArchive, buildApp, RESTORE_LOCK_CLASS, RestoreError } from '@chunk-archiver/database-service';
import { type BlobStore, MANIFEST_SUFFIX } from '@chunk-archiver/storage';
import { pgDatabase, startTimescale, type TimescaleHandle } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type Backend } from './backends.js';
import { retentionFlow } from './flow.js';
import { createReadings, differences } from './restore-fixture.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;

/** Scans once and archives every requested chunk, then hands each confirmation to the manager. */
async function archiveAndDrop(flow: Flow, database: string): Promise<void> {
  await flow.manager.scanner.scanOnce();
  for (const row of await flow.ledger(database)) {
    if (row.state !== 'requested') continue;
    await flow.manager.handleConfirmation(await flow.archiveDirectly(database, row));
  }
}

async function refusal(promise: Promise<unknown>): Promise<RestoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RestoreError);
  return error as RestoreError;
}

async function* bytes(buffer: Buffer): AsyncGenerator<Uint8Array> {
  yield buffer;
}

const CLI = new URL('../services/database-service/dist/cli.js', import.meta.url).pathname;

describe.each(Object.keys(BACKENDS))(
  'restore and verify on %s storage (native partitions)',
  (backendName) => {
    let backend: Backend;
    let store: BlobStore;
    let db: Awaited<ReturnType<typeof pgDatabase>>;
    let sql: postgres.Sql;
    let flow: Flow;

    beforeAll(async () => {
      backend = await BACKENDS[backendName]!();
      store = backend.store;
      await store.ensureContainer();
      db = await pgDatabase('restore');
      sql = postgres(db.url, { max: 4, onnotice: () => {} });
      await createReadings(sql, 'partition');
      // The originals, kept aside before anything is archived or dropped.
      await sql`create table originals as select * from readings`;
      flow = await retentionFlow({
        databases: { main: { sql, tables: [{ schema: 'public', name: 'readings', kind: 'partition' }] } },
        store,
      });
      await archiveAndDrop(flow, 'main');
      const ledger = await flow.ledger('main');
      expect(ledger.map((c) => [c.chunk_name, c.state])).toEqual([
        ['readings_2020_01', 'dropped'],
        ['readings_2020_02', 'dropped'],
        ['readings_2020_03', 'dropped'],
      ]);
      expect(await sql`select count(*)::int as n from readings`).toEqual([{ n: 0 }]);
    }, 120_000);

    afterAll(async () => {
      await flow?.stop();
      await sql?.end({ timeout: 5 });
      await db?.cleanup();
      await backend?.stop();
    });

    it('verifies the archive: every object against its manifest, every value decoded', async () => {
      const report = await auditArchive(store, { prefix: 'archive/', deep: true });
      expect(report.problems).toEqual([]);
      expect(report).toMatchObject({ ok: true, manifests: 3, verified: 3, objects: 6 });
      const [originals] = await sql<{ n: number }[]>`select count(*)::int as n from originals`;
      expect(report.rows).toBe(originals!.n);
    });

    it('restores a range spanning two chunks into the table, identical to the originals, and the ledger records it', async () => {
      const report = await flow.manager.restorer.restore({
        table: 'readings',
        from: '2020-01-20',
        to: '2020-02-10',
      });
      expect(report.ok).toBe(true);
      expect(report.objects.map((o) => [o.chunk, o.status])).toEqual([
        ['public.readings_2020_01', 'restored'],
        ['public.readings_2020_02', 'restored'],
      ]);
      // Whole chunks come back: the range restored is January and February.
      expect(report.covered).toEqual({ start: '2020-01-01T00:00:00.000Z', end: '2020-03-01T00:00:00.000Z' });
      expect(await differences(sql, 'originals', 'readings', '2020-01-01', '2020-03-01')).toMatchObject({
        missing: 0,
        extra: 0,
      });
      expect(await sql`select count(*)::int as n from readings where at >= '2020-03-01'`).toEqual([{ n: 0 }]);
      const restores =
        await sql`select state, held, created_partition, chunk_name, restored_rows::int, archived_rows::int
                               from archiver.restores order by id`;
      expect(restores).toHaveLength(2);
      for (const r of restores) {
        expect(r).toMatchObject({ state: 'restored', held: true, created_partition: true });
        expect(r.restored_rows).toBe(r.archived_rows);
      }
      // Held: a scan does not archive the restored rows a second time.
      await flow.manager.scanner.scanOnce();
      expect((await flow.ledger('main')).every((c) => c.state === 'dropped')).toBe(true);
    });

    it('refuses to restore over rows already there, and with skip_existing inserts only the missing ones', async () => {
      const refused = await refusal(
        flow.manager.restorer.restore({ table: 'readings', from: '2020-01-01', to: '2020-02-01' }),
      );
      expect(refused.code).toBe('ROWS_EXIST');
      expect(refused.message).toMatch(/readings_2020_01 .*rows; nothing was restored/);
      const deleted = await sql`delete from readings where at < '2020-02-01' and id % 7 = 0`;
      expect(deleted.count).toBeGreaterThan(10);
      const report = await flow.manager.restorer.restore({
        table: 'public.readings',
        from: '2020-01-01',
        to: '2020-02-01',
        skipExisting: true,
      });
      expect(report.objects).toHaveLength(1);
      expect(report.objects[0]).toMatchObject({ status: 'restored', restored_rows: deleted.count });
      expect(report.objects[0]!.skipped_rows).toBe(report.objects[0]!.archived_rows - deleted.count);
      expect(await differences(sql, 'originals', 'readings', '2020-01-01', '2020-03-01')).toMatchObject({
        missing: 0,
        extra: 0,
      });
    });

    it('releases restored rows only while they still match the archive', async () => {
      const [jan] = await sql<{ id: string }[]>`
      select id::text from archiver.restores where chunk_name = 'readings_2020_01' and state = 'restored' order by id limit 1`;
      await sql`insert into readings (id, at) values (999999, '2020-01-05')`;
      const changed = await refusal(flow.manager.restorer.release({ id: jan!.id }));
      expect(changed.code).toBe('RANGE_CHANGED');
      expect(await sql`select count(*)::int as n from readings where id = 999999`).toEqual([{ n: 1 }]);
      await sql`delete from readings where id = 999999`;
      const released = await flow.manager.restorer.release({ id: jan!.id });
      expect(released.released).toHaveLength(2); // the first restore and the skip_existing one
      expect(released.dropped_tables).toEqual(['public.readings_2020_01']);
      expect(await sql`select count(*)::int as n from readings where at < '2020-02-01'`).toEqual([{ n: 0 }]);
      expect(await sql`select to_regclass('readings_2020_01') as t`).toEqual([{ t: null }]);
      expect((await refusal(flow.manager.restorer.release({ id: jan!.id }))).code).toBe('NOT_HELD');
    });

    it('restores into another table over HTTP, after a dry run, with every refusal a 4xx naming the problem', async () => {
      await sql`create table readings_copy (like originals)`;
      const app = await buildApp({
        logger: silentLogger(),
        registry: new Registry(),
        apiToken: 'restore-token',
        readiness: async () => ({}),
        status: async () => ({}),
        trigger: async () => [],
        restore: (input) => flow.manager.restorer.restore(input),
        retry: (input) => flow.manager.retry(input),
        deadLetters: flow.manager.deadLetters,
        release: (input) => flow.manager.restorer.release(input),
      });
      const post = (body: unknown, token = 'restore-token') =>
        app.inject({
          method: 'POST',
          url: '/database/retention/restore',
          headers: { authorization: `Bearer ${token}` },
          payload: body as object,
        });
      const all = {
        table: 'readings',
        from: '2020-01-01T00:00:00Z',
        to: '2020-04-01T00:00:00Z',
        into: 'readings_copy',
      };
      expect((await post(all, 'wrong')).statusCode).toBe(401);
      const dry = await post({ ...all, dry_run: true });
      expect(dry.statusCode).toBe(200);
      expect(dry.json().objects.map((o: { status: string }) => o.status)).toEqual([
        'would_restore',
        'would_restore',
        'would_restore',
      ]);
      expect(await sql`select count(*)::int as n from readings_copy`).toEqual([{ n: 0 }]);

      const bad = await post({ ...all, from: 'yesterday' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/^from: "yesterday" is not an ISO 8601 time/);
      const unknown = await post({ ...all, table: 'nope' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().message).toMatch(/no archived chunks of public.nope/);
      const noTarget = await post({ ...all, into: 'missing_table' });
      expect(noTarget.statusCode).toBe(404);
      expect(noTarget.json().message).toMatch(/^into: table public.missing_table does not exist/);
      expect((await post({ ...all, extra: 1 })).statusCode).toBe(400);

      const done = await post(all);
      expect(done.statusCode).toBe(200);
      expect(done.json()).toMatchObject({ ok: true, held: false, target: 'public.readings_copy' });
      expect(await differences(sql, 'originals', 'readings_copy')).toMatchObject({ missing: 0, extra: 0 });
      const again = await post(all);
      expect(again.statusCode).toBe(409);
      expect(again.json().message).toMatch(/already holds rows/);
      // A restore into another table never holds the managed table's ranges.
      expect(
        await sql`select count(*)::int as n from archiver.restores where target_table = 'readings_copy' and held`,
      ).toEqual([{ n: 0 }]);
      await app.close();
    });

    it('verify reports a flipped byte, a truncated object, a missing manifest and an orphan; restore refuses the damaged object', async () => {
      const keys: string[] = [];
      for await (const item of store.list('archive/')) if (item.key.endsWith('.parquet')) keys.push(item.key);
      keys.sort();
      const [jan, feb, mar] = keys as [string, string, string];
      const flipped = Buffer.from(await store.read(jan));
      flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
      await store.upload(jan, bytes(flipped));
      const whole = await store.read(feb);
      await store.upload(feb, bytes(whole.subarray(0, Math.floor(whole.length / 2))));
      await store.remove(`${mar}${MANIFEST_SUFFIX}`);
      await store.upload('archive/main/leftover.partial', bytes(Buffer.from('half an upload')));

      const report = await auditArchive(store, { prefix: 'archive/' });
      expect(report.ok).toBe(false);
      const found = report.problems.map((p) => `${p.code} ${p.key}`).sort();
      expect(found).toEqual(
        [
          `SHA256_MISMATCH ${jan}`,
          `SIZE_MISMATCH ${feb}`,
          `SHA256_MISMATCH ${feb}`,
          `PARQUET_UNREADABLE ${feb}`,
          `MANIFEST_MISSING ${mar}`,
          'ORPHAN_OBJECT archive/main/leftover.partial',
        ].sort(),
      );

      await sql`truncate readings_copy`;
      const restore = await flow.manager.restorer.restore({
        table: 'readings',
        from: '2020-01-01',
        to: '2020-02-01',
        into: 'readings_copy',
      });
      expect(restore.ok).toBe(false);
      expect(restore.objects[0]).toMatchObject({
        status: 'failed',
        error_code: 'SHA256_MISMATCH',
        restored_rows: 0,
      });
      expect(await sql`select count(*)::int as n from readings_copy`).toEqual([{ n: 0 }]);
      expect(await sql`select state, error_code from archiver.restores order by id desc limit 1`).toEqual([
        { state: 'failed', error_code: 'SHA256_MISMATCH' },
      ]);

      if (backendName === 'local') {
        // The CLI: the same findings, and a non-zero exit code.
        const dir = await mkdtemp(join(tmpdir(), 'verify-cli-'));
        try {
          const config = join(dir, 'config.yaml');
          const local = backend.storage.local as { path: string; container: string };
          await writeFile(
            config,
            `storage:\n  backend: local\n  prefix: archive\n  local:\n    path: ${local.path}\n    container: ${local.container}\ndatabases: {}\n`,
          );
          const result = await promisify(execFile)(process.execPath, [
            CLI,
            'verify',
            '--config',
            config,
          ]).then(
            () => ({ code: 0, stdout: '' }),
            (e: { code: number; stdout: string }) => e,
          );
          expect(result.code).toBe(1);
          expect(result.stdout).toContain(`SHA256_MISMATCH  ${jan}`);
          expect(result.stdout).toContain(`MANIFEST_MISSING  ${mar}`);
          expect(result.stdout).toMatch(/PROBLEMS: 0 of 2 archived objects verified/);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
  },
);

describe('restore on a real TimescaleDB: hypertable chunks', () => {
  let ts: TimescaleHandle;
  let sql: postgres.Sql;
  let flow: Flow;
  let root: string;

  beforeAll(async () => {
    ts = await startTimescale();
    sql = postgres(ts.url, { max: 4, onnotice: () => {} });
    root = await mkdtemp(join(tmpdir(), 'restore-ts-'));
  }, 60_000);
  afterAll(async () => {
    await flow?.stop();
    await sql?.end({ timeout: 5 });
    await ts?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('archives, drops and restores every chunk with rows identical to the originals, and holds the range', async () => {
    const { createLocalBlobStore } = await import('@chunk-archiver/storage');
    const store = createLocalBlobStore({ root, container: 'archive' });
    await createReadings(sql, 'timescaledb');
    await sql`create table originals as select * from readings`;
    flow = await retentionFlow({
      databases: {
        tsdb: {
          sql,
          tables: [{ schema: 'public', name: 'readings', kind: 'timescaledb' }],
        },
      },
      store,
    });
    await archiveAndDrop(flow, 'tsdb');
    const ledger = await flow.ledger('tsdb');
    expect(ledger.length).toBeGreaterThanOrEqual(6);
    expect(ledger.every((c) => c.state === 'dropped')).toBe(true);
    expect(await sql`select count(*)::int as n from readings`).toEqual([{ n: 0 }]);

    const report = await flow.manager.restorer.restore({
      table: 'readings',
      from: '2019-12-01',
      to: '2020-04-01',
    });
    expect(report.objects.filter((o) => o.status !== 'restored')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.objects).toHaveLength(ledger.length);
    expect(await differences(sql, 'originals', 'readings')).toMatchObject({ missing: 0, extra: 0 });

    // The restored rows sit in new chunks past retention; held, they are not archived again.
    await flow.manager.scanner.scanOnce();
    expect((await flow.ledger('tsdb')).length).toBe(ledger.length);
    const audit = await auditArchive(store, { prefix: 'archive/', deep: true });
    expect(audit).toMatchObject({ ok: true, verified: ledger.length });

    // Released: the rows go, and so do the chunks they had created; retention finds nothing new.
    const holds = await sql<{ id: string }[]>`select id::text from archiver.restores where held order by id`;
    expect(holds).toHaveLength(ledger.length);
    for (const { id } of holds) {
      const released = await flow.manager.restorer.release({ id });
      expect(released.dropped_tables.length).toBeGreaterThanOrEqual(1);
    }
    expect(await sql`select count(*)::int as n from readings`).toEqual([{ n: 0 }]);
    await flow.manager.scanner.scanOnce();
    expect((await flow.ledger('tsdb')).length).toBe(ledger.length);
    // Restorable again after the release: the archive still holds every chunk exactly once.
    const again = await flow.manager.restorer.restore({
      table: 'readings',
      from: '2019-12-01',
      to: '2020-04-01',
      dryRun: true,
    });
    expect(again.objects.map((o) => o.status)).toEqual(ledger.map(() => 'would_restore'));
  }, 180_000);
});

describe('restore of integer-range partitions', () => {
  it('archives, drops and restores partitions of a bigint key, choosing them by integer bounds', async () => {
    const { createLocalBlobStore } = await import('@chunk-archiver/storage');
    const root = await mkdtemp(join(tmpdir(), 'restore-int-'));
    const db = await pgDatabase('restoreint');
    const sql = postgres(db.url, { max: 4, onnotice: () => {} });
    let flow: Flow | undefined;
    try {
      await sql`create table counters (seq bigint not null, label text, amount numeric(12,3)) partition by range (seq)`;
      for (const [name, from, to] of [
        ['counters_0', 0, 1000],
        ['counters_1', 1000, 2000],
        ['counters_2', 2000, 3000],
      ] as const) {
        // DDL takes no bind parameters; names and bounds are constants of the test.
        await sql.unsafe(`create table ${name} partition of counters for values from (${from}) to (${to})`);
      }
      await sql`insert into counters select g, 'label ' || g, g / 7.0 from generate_series(0, 2999) g`;
      await sql`create table originals as select * from counters where seq < 2000`;
      flow = await retentionFlow({
        databases: {
          main: { sql, tables: [{ name: 'counters', kind: 'partition', retention_integer: 1000 }] },
        },
        store: createLocalBlobStore({ root, container: 'archive' }),
      });
      await archiveAndDrop(flow, 'main');
      expect((await flow.ledger('main')).map((c) => [c.chunk_name, c.state])).toEqual([
        ['counters_0', 'dropped'],
        ['counters_1', 'dropped'],
      ]);
      const bad = await refusal(
        flow.manager.restorer.restore({ table: 'counters', from: '2020-01-01', to: '1500' }),
      );
      expect(bad).toMatchObject({ code: 'BAD_BOUND', field: 'from' });
      const report = await flow.manager.restorer.restore({ table: 'counters', from: '500', to: '1500' });
      expect(report.objects.map((o) => [o.chunk, o.status, o.restored_rows])).toEqual([
        ['public.counters_0', 'restored', 1000],
        ['public.counters_1', 'restored', 1000],
      ]);
      const [diff] = await sql<{ n: number }[]>`
        select count(*)::int as n from (
          (select t::text from originals t except all select t::text from counters t where seq < 2000)
          union all
          (select t::text from counters t where seq < 2000 except all select t::text from originals t)) x`;
      expect(diff!.n).toBe(0);

      // The same through the CLI, as an operator runs it: into a fresh table, and refused on a second go.
      await sql`create table counters_copy (like counters)`;
      const config = join(root, 'config.json');
      await writeFile(
        config,
        JSON.stringify({
          storage: { backend: 'local', prefix: 'archive', local: { path: root, container: 'archive' } },
          databases: { main: { url: db.url, tables: [{ name: 'counters', kind: 'partition' }] } },
        }),
      );
      const cli = (...args: string[]) =>
        promisify(execFile)(process.execPath, [CLI, 'restore', '--config', config, ...args]).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      const args = ['--table', 'counters', '--from', '0', '--to', '2000', '--into', 'public.counters_copy'];
      // Another restore into the same table holds it: this one is told so and changes nothing.
      const holder = await sql.reserve();
      await holder`select pg_advisory_lock(${RESTORE_LOCK_CLASS}::int, hashtext('public.counters_copy'))`;
      const busy = await cli(...args);
      await holder`select pg_advisory_unlock(${RESTORE_LOCK_CLASS}::int, hashtext('public.counters_copy'))`;
      holder.release();
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(
        /^error: another restore into public.counters_copy is running; try again when it has finished/,
      );
      expect(await sql`select count(*)::int as n from counters_copy`).toEqual([{ n: 0 }]);
      const ok = await cli(...args);
      expect(ok.code).toBe(0);
      expect((JSON.parse(ok.stdout) as { ok: boolean; objects: unknown[] }).objects).toHaveLength(2);
      expect(await sql`select count(*)::int as n from counters_copy`).toEqual([{ n: 2000 }]);
      const again = await cli(...args);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^error: public.counters_copy already holds rows/);
      // Refusals speak in the CLI's flags, not the HTTP body's fields.
      expect(again.stderr).toContain('(--into)');
      expect(again.stderr).toContain('(--skip-existing)');
      const outside = await cli('--table', 'counters', '--from', '900000', '--to', '900100');
      expect(outside.code).toBe(1);
      expect(outside.stderr).toMatch(
        /^error: no archived rows of public.counters in database main overlap \[900000, 900100\); its archive covers \[0, 2000\)/,
      );
      expect((await cli('--table', 'counters', '--from', '0')).code).toBe(2);
    } finally {
      await flow?.stop();
      await sql.end({ timeout: 5 });
      await db.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});
