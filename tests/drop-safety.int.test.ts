import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditArchive } from '@chunk-archiver/database-service';
import {
  type ArchivalConfirmation,
  type ArchivalSuccess,
  buildArchivalConfirmation,
  parseArchivalConfirmation,
} from '@chunk-archiver/events';
import { type BlobStore, createLocalBlobStore, readManifest } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';
import { recordResult } from './reliability/cluster.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;
const SECRET = 'drop-safety-test-secret';

/** Two expired months of `audit` in `public`, and the same rows in `s1.audit`, plus a current month. */
async function createAudit(sql: postgres.Sql, schema = 'public'): Promise<void> {
  await sql`create schema if not exists ${sql(schema)}`;
  await sql`create table ${sql(schema)}.audit (id bigint not null, at timestamptz not null, actor text) partition by range (at)`;
  for (const [name, from, to] of [
    ['audit_2020_01', '2020-01-01', '2020-02-01'],
    ['audit_2020_02', '2020-02-01', '2020-03-01'],
  ] as const) {
    await sql.unsafe(
      `create table "${schema}"."${name}" partition of "${schema}".audit for values from ('${from}') to ('${to}')`,
    );
  }
  await sql`create table ${sql(schema)}.audit_now partition of ${sql(schema)}.audit
            for values from (date_trunc('month', now())) to (date_trunc('month', now()) + interval '1 month')`;
  await sql`insert into ${sql(schema)}.audit select g, '2020-01-01'::timestamptz + g * interval '17 minutes', 'u' || g % 9
            from generate_series(1, 4000) g`;
}

/** Every identity field, changed one at a time to something plausible. */
function spoofs(good: ArchivalSuccess['data']): Array<[string, Partial<ArchivalSuccess['data']>]> {
  return [
    ['source_kind', { source_kind: 'timescaledb' }],
    ['table_schema', { table_schema: 's1' }],
    ['table_name', { table_name: 'audit_copy' }],
    ['chunk_schema', { chunk_schema: 's1' }],
    ['chunk_name', { chunk_name: 'audit_2020_02' }],
    ['time_column', { time_column: 'id' }],
    ['chunk_start_time', { chunk_start_time: '2019-12-31T00:00:00.000Z' }],
    ['chunk_end_time', { chunk_end_time: '2020-02-02T00:00:00.000Z' }],
    ['chunk_oid', { chunk_oid: String(Number(good.chunk_oid) + 1) }],
    ['dimension_slices', { dimension_slices: [{ column: 'actor', start: '0', end: '1073741823' }] }],
    ['attempt', { attempt: good.attempt + 1 }],
  ];
}

describe('drop safety: every confirmation bound to its ledger row', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let root: string;
  let store: BlobStore;
  let flow: Flow;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'drop-safety-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    db = await pgDatabase('drop_safety');
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    await createAudit(sql);
    await createAudit(sql, 's1');
    store = createLocalBlobStore({
      root,
      container: `c${Date.now()}${Math.random().toString(36).slice(2, 6)}`,
    });
  });
  // For docs/reliability.md (pnpm reliability): each case and how it ended.
  afterEach(async ({ task }) => {
    await recordResult('safety', {
      suite: 'drop safety',
      case: task.name,
      outcome: task.result?.errors?.length ? 'FAILED' : 'passed',
    });
  });
  afterEach(async () => {
    await flow?.stop();
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
  });

  async function start(secret?: string, defaults: Record<string, unknown> = {}): Promise<Flow> {
    flow = await retentionFlow({
      databases: {
        main: {
          sql,
          tables: [
            { schema: 'public', name: 'audit', kind: 'partition' },
            { schema: 's1', name: 'audit', kind: 'partition' },
          ],
        },
      },
      store,
      ...(secret ? { secret } : {}),
      defaults,
    });
    return flow;
  }

  /** Through the real parser (signature checked when a secret is set), then the real handler. */
  async function deliver(event: ArchivalConfirmation, secret?: string): Promise<void> {
    const parsed = parseArchivalConfirmation(JSON.parse(JSON.stringify(event)), secret ? { secret } : {});
    if (!parsed.ok) throw new Error(`the bus would dead-letter it: ${JSON.stringify(parsed.error)}`);
    await flow.manager.handleConfirmation(parsed.value);
  }

  for (const secret of [undefined, SECRET]) {
    it(`refuses a confirmation with any one identity field spoofed (${secret ? 'signed with the real secret' : 'no secret'}), and the real one still completes`, async () => {
      await start(secret);
      await flow.manager.scanner.scanOnce({ table: 'public.audit' });
      await flow.manager.scanner.scanOnce({ table: 's1.audit' });
      const target = (await flow.ledger('main')).find(
        (r) => r.table_schema === 'public' && r.chunk_name === 'audit_2020_01',
      )!;
      const other = (await flow.ledger('main')).find(
        (r) => r.table_schema === 's1' && r.chunk_name === 'audit_2020_01',
      )!;
      // The other table's archive exists and holds identical rows: the spoof the issue found.
      await flow.manager.handleConfirmation(await flow.archiveDirectly('main', other));
      const good = await flow.archiveDirectly('main', target);
      expect(good.data.status).toBe('SUCCESS');
      const data = good.data as ArchivalSuccess['data'];

      for (const [field, change] of spoofs(data)) {
        const forged = buildArchivalConfirmation({ ...data, ...change } as ArchivalSuccess['data'], {
          producer: 'attacker',
          secret,
        });
        await deliver(forged, secret);
        const [row] = await sql`select state from archiver.chunks where id = ${target.id}`;
        expect([field, row!.state]).toEqual([field, 'requested']);
        const [event] = await sql<{ detail: string }[]>`
          select detail from archiver.chunk_events where chunk_id = ${target.id} and detail like '%refused: IDENTITY_MISMATCH%'
          order by id desc limit 1`;
        expect(event?.detail).toContain(`${field} `);
        expect(await sql`select to_regclass('public.audit_2020_01') is not null as present`).toEqual([
          { present: true },
        ]);
      }
      // A database it does not name, and a request it does not answer: nothing to bind to, ignored.
      await deliver(
        buildArchivalConfirmation({ ...data, database: 'elsewhere' }, { producer: 'attacker', secret }),
        secret,
      );
      await deliver(
        buildArchivalConfirmation(
          { ...data, request_event_id: other.request_event_id! },
          { producer: 'attacker', secret },
        ),
        secret,
      );
      expect((await sql`select state from archiver.chunks where id = ${target.id}`)[0]!.state).toBe(
        'requested',
      );

      await deliver(good, secret);
      const [done] = await sql`select state, object_key from archiver.chunks where id = ${target.id}`;
      expect(done!.state).toBe('dropped');
      const manifest = await readManifest(store, `${done!.object_key}.manifest.json`);
      expect(manifest.source).toMatchObject({
        table_schema: 'public',
        chunk_name: 'audit_2020_01',
        chunk_oid: target.chunk_oid,
      });
    });
  }

  it('refuses a manifest in storage that names another source, whatever the confirmation says', async () => {
    await start();
    await flow.manager.scanner.scanOnce({ table: 'public.audit' });
    const target = (await flow.ledger('main')).find((r) => r.chunk_name === 'audit_2020_01')!;
    const good = (await flow.archiveDirectly('main', target)).data as ArchivalSuccess['data'];
    // Someone rewrote the manifest at the chunk's key to describe s1's partition.
    const key = good.object.manifest_key;
    const manifest = await readManifest(store, key);
    const body = Buffer.from(
      JSON.stringify({ ...manifest, source: { ...manifest.source, table_schema: 's1' } }),
    );
    await store.upload(
      key,
      (async function* () {
        yield body;
      })(),
    );
    await flow.manager.handleConfirmation(buildArchivalConfirmation(good, { producer: 'worker' }));
    const [row] = await sql`select state, last_error_code from archiver.chunks where id = ${target.id}`;
    expect(row).toEqual({ state: 'failed', last_error_code: 'MANIFEST_SOURCE_MISMATCH' });
    expect(await sql`select to_regclass('public.audit_2020_01') is not null as present`).toEqual([
      { present: true },
    ]);
  });

  it('a FAILED confirmation, even non-retryable, counts as one attempt and never kills a chunk at once', async () => {
    await start(undefined, { max_attempts: 3, retry_initial_s: 1, retry_max_s: 1 });
    await flow.manager.scanner.scanOnce({ table: 'public.audit' });
    const target = (await flow.ledger('main')).find((r) => r.chunk_name === 'audit_2020_01')!;
    const failure = (attempt: number, eventId: string) =>
      buildArchivalConfirmation(
        {
          database: 'main',
          source_kind: 'partition',
          table_schema: 'public',
          table_name: 'audit',
          chunk_schema: 'public',
          chunk_name: 'audit_2020_01',
          time_column: 'at',
          dimension_type: 'timestamp',
          chunk_start_time: target.range_start,
          chunk_end_time: target.range_end,
          chunk_oid: String(target.chunk_oid),
          request_event_id: eventId,
          attempt,
          completed_at: new Date().toISOString(),
          status: 'FAILED',
          error: { code: 'TABLE_NOT_ALLOWED', message: 'forged', retryable: false },
        },
        { producer: 'attacker' },
      );
    await deliver(failure(1, target.request_event_id!));
    let [row] = await sql`select state, attempts from archiver.chunks where id = ${target.id}`;
    expect(row).toEqual({ state: 'failed', attempts: 1 });
    // After max_attempts failures it is dead, as for any failure.
    for (let attempt = 2; attempt <= 3; attempt++) {
      await new Promise((r) => setTimeout(r, 1100));
      await flow.manager.scanner.scanOnce({ table: 'public.audit' });
      const [current] = await sql<
        { request_event_id: string }[]
      >`select request_event_id::text from archiver.chunks where id = ${target.id}`;
      await deliver(failure(attempt, current!.request_event_id));
    }
    [row] = await sql`select state, attempts from archiver.chunks where id = ${target.id}`;
    expect(row).toEqual({ state: 'dead', attempts: 3 });
  });

  it('archives a partition re-created under an archived one’s name again, under a distinct key, and restores both', async () => {
    await start();
    await flow.manager.scanner.scanOnce({ table: 'public.audit' });
    for (const row of await flow.ledger('main'))
      if (row.state === 'requested')
        await flow.manager.handleConfirmation(await flow.archiveDirectly('main', row));
    const first = (await flow.ledger('main')).find((r) => r.chunk_name === 'audit_2020_01')!;
    expect(first.state).toBe('dropped');
    await sql`create table public.audit_2020_01 partition of public.audit for values from ('2020-01-01') to ('2020-02-01')`;
    await sql`insert into public.audit select 500000 + g, '2020-01-03'::timestamptz + g * interval '1 hour', 'second' from generate_series(1, 300) g`;

    // The dry run sees it as new work, as the real scan does.
    const [preview] = await flow.manager.scanner.scanOnce({ table: 'public.audit', dryRun: true });
    expect(preview!.requested.map((q) => q.chunk)).toEqual(['public.audit_2020_01']);
    await flow.manager.scanner.scanOnce({ table: 'public.audit' });
    const rows = (await flow.ledger('main')).filter((r) => r.chunk_name === 'audit_2020_01');
    expect(rows).toHaveLength(2);
    const second = rows.find((r) => r.id !== first.id)!;
    expect(second.chunk_oid).not.toBe(first.chunk_oid);
    await flow.manager.handleConfirmation(await flow.archiveDirectly('main', second));
    const done = (await flow.ledger('main')).find((r) => r.id === second.id)!;
    expect(done.state).toBe('dropped');
    expect(done.object_key).not.toBe(first.object_key);
    const audit = await auditArchive(store, { prefix: 'archive/', deep: true });
    expect(audit).toMatchObject({ ok: true, verified: 3 });

    const report = await flow.manager.restorer.restore({
      table: 'public.audit',
      from: '2020-01-01',
      to: '2020-02-01',
    });
    expect(report.ok).toBe(true);
    expect(report.objects.map((o) => o.restored_rows)).toEqual([Number(first.row_count), 300]);
    const [restored] = await sql`select count(*)::int as n from public.audit where at < '2020-02-01'`;
    expect(restored!.n).toBe(Number(first.row_count) + 300);
  });

  it('a dry run lists exactly what the real run then requests, over the same ledger state, with why the rest wait', async () => {
    await start(undefined, { chunks_per_scan: 1 });
    await flow.manager.scanner.scanOnce({ table: 'public.audit' });
    // One requested, one pending (beyond the per-scan limit); s1 has no ledger rows yet.
    const [dry] = await flow.manager.scanner.scanOnce({ dryRun: true });
    const before = await flow.ledger('main');
    const [real] = await flow.manager.scanner.scanOnce();
    expect(dry!.requested.map((q) => q.chunk)).toEqual(real!.requested.map((q) => q.chunk));
    expect(dry!.requested.map((q) => q.chunk)).toEqual(['public.audit_2020_02', 's1.audit_2020_01']);
    expect(dry!.requested.every((q) => q.event_id === null)).toBe(true);
    expect(dry!.skipped).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ chunk: 'public.audit_2020_01', state: 'requested' }),
      ]),
    );
    expect(before.length).toBe(2); // the dry run inserted nothing
  });
});
