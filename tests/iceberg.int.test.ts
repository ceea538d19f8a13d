import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditArchive, type LedgerChunk } from '@chunk-archiver/database-service';
import {
  currentSchema,
  expireSnapshots,
  keyOf,
  liveEntries,
  openTable,
  type TableRef,
} from '@chunk-archiver/iceberg';
import { type BlobStore, createLocalBlobStore } from '@chunk-archiver/storage';
import {
  type DirectoryServer,
  duckdbLiteral,
  duckdbQuery,
  serveDirectory,
  startTimescale,
  type TimescaleHandle,
} from '@chunk-archiver/testkit';
import { icebergRead } from 'icebird';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';
import { recordResult } from './reliability/cluster.js';

type Flow = Awaited<ReturnType<typeof retentionFlow>>;

const DAYS = 24;
const TABLE_KEY = 'archive/tsdb/public.metrics/';
/** The columns as they are compared: PostgreSQL's text of each, and the same from the Iceberg reader. */
const COLUMNS = ['id', 'ts', 'dev', 'v', 'note', 'amount', 'payload', 'uid', 'tags', 'extra'] as const;

/** Every row of the copy kept beside the hypertable, as text, keyed by id. */
async function sourceRows(sql: postgres.Sql): Promise<Map<string, string[]>> {
  const rows = await sql<Record<string, string | null>[]>`
    select id::text, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ts, dev::text,
      v::text, note, amount::text, payload::text, uid::text, to_json(tags)::text as tags, extra
    from source_copy where ts < '2021-03-01'::timestamptz + ${DAYS} * interval '1 day'`;
  return new Map(rows.map((r) => [r.id!, COLUMNS.map((c) => r[c] ?? 'NULL')]));
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const uuidText = (b: Uint8Array) => hex(b).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

/** One row as the independent reader returned it, in the source's text forms. */
function readerRow(row: Record<string, unknown>): string[] {
  const text = (c: (typeof COLUMNS)[number], value: unknown): string => {
    if (value === null || value === undefined) return 'NULL';
    if (c === 'ts') return (value as Date).toISOString();
    if (c === 'amount') return Number(value).toFixed(2);
    if (c === 'v') return String(value);
    if (c === 'uid') return typeof value === 'string' ? value : uuidText(value as Uint8Array);
    return String(value);
  };
  return COLUMNS.map((c) => text(c, row[c]));
}

/** What DuckDB sees in one data file: its column types, and count and id sum. */
async function duckdbView(store: BlobStore, key: string) {
  const dir = await mkdtemp(join(tmpdir(), 'ice-duck-'));
  try {
    const path = join(dir, 'f.parquet');
    await writeFile(path, await store.read(key));
    const file = `read_parquet(${duckdbLiteral(path)}, hive_partitioning = false)`;
    const types = await duckdbQuery(`select column_name, column_type from (describe select * from ${file})`);
    const [sums] = await duckdbQuery(`select count(*)::int as n, sum(id)::varchar as ids from ${file}`);
    return {
      types: Object.fromEntries(types.map((t) => [t.column_name as string, t.column_type as string])),
      n: sums!.n as number,
      ids: BigInt(sums!.ids as string),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('Iceberg: a real TimescaleDB hypertable archived into one Iceberg table by two workers', () => {
  let ts: TimescaleHandle;
  let sql: postgres.Sql;
  let root: string;
  let store: BlobStore;
  let http: DirectoryServer;
  let flow: Flow;
  let table: TableRef;
  let reArchived: LedgerChunk;

  beforeAll(async () => {
    ts = await startTimescale({ name: 'tsdb_iceberg' });
    sql = postgres(ts.url, { max: 8, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
    root = await mkdtemp(join(tmpdir(), 'iceberg-archive-'));
    store = createLocalBlobStore({ root, container: 'archive' });
    http = await serveDirectory(join(root, 'archive'));
    await sql`create table metrics (id bigint not null, ts timestamptz not null, dev int not null,
      v double precision, note text, amount numeric(12,2), payload jsonb, uid uuid, tags int[])`;
    await sql`select create_hypertable('metrics', by_range('ts', interval '1 day'))`;
    await sql`insert into metrics
      select g, '2021-03-01'::timestamptz + (g - 1) * interval '6 minutes', g % 5, g / 7.0,
        case when g % 9 = 0 then null else 'n' || g end, (g * 1.25)::numeric(12,2),
        case when g % 4 = 0 then null else jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 3)) end,
        md5(g::text)::uuid, case when g % 6 = 0 then null else array[g % 3, g % 10, null] end
      from generate_series(1, ${DAYS} * 240) g`;
    await sql`insert into metrics select 1000000 + g, now() - g * interval '1 minute', 1, 0, 'recent', 0, null, null, null from generate_series(1, 20) g`;
    await sql`create table source_copy as select * from metrics`;
    await sql`alter table metrics set (timescaledb.compress, timescaledb.compress_segmentby = 'dev', timescaledb.compress_orderby = 'ts')`;
    await sql`select compress_chunk(c) from show_chunks('metrics', older_than => interval '30 days') c order by c limit 8`;
    flow = await retentionFlow({
      databases: {
        tsdb: {
          sql,
          tables: [
            {
              schema: 'public',
              name: 'metrics',
              kind: 'timescaledb',
              format: 'iceberg',
              iceberg_partition: 'day',
            },
          ],
        },
      },
      store,
      workers: 2,
      defaults: { chunks_per_scan: 12, lock_timeout_ms: 500 },
      retention: { iceberg: { location_base: http.url } },
    });
    table = { store, key: TABLE_KEY, locationBase: http.url };
    await flow.worker.start();
  }, 120_000);

  // For docs/reliability.md (pnpm reliability): each case and how it ended.
  afterEach(async ({ task }) => {
    await recordResult('safety', {
      suite: 'Iceberg',
      case: task.name,
      outcome: task.result?.errors?.length ? 'FAILED' : 'passed',
    });
  });
  afterAll(async () => {
    await flow?.stop();
    await http?.stop();
    await sql?.end({ timeout: 5 });
    await ts?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const states = async () => (await flow.ledger('tsdb')).map((r) => r.state);
  /** flow.waitFor, with the ledger in the error when it times out. */
  const waitFor = async (predicate: () => Promise<boolean>, what: string, ms?: number) => {
    try {
      await flow.waitFor(predicate, what, ms);
    } catch (error) {
      const rows = await flow.ledger('tsdb');
      const lines = rows.map(
        (r) => `${r.chunk_name} ${r.state} ${r.last_error_code ?? ''} ${r.last_error ?? ''}`,
      );
      throw new Error(`${(error as Error).message}\n${lines.join('\n')}`);
    }
  };
  const liveKeys = async () => {
    const opened = await openTable(store, TABLE_KEY);
    if (!opened) return [];
    return (await liveEntries(opened.table, opened.current.metadata)).map((e) =>
      keyOf(opened.table, e.data_file.file_path),
    );
  };

  it('commits each chunk before dropping it; a row inserted after the commit re-archives the chunk as an overwrite', async () => {
    // The eleventh chunk's drop cannot take its lock while this reader holds it, so it stays
    // archived (and committed): the lock is taken before the chunk is even requested.
    const [chunk] = await sql<{ schema: string; name: string }[]>`
      select chunk_schema as schema, chunk_name as name from timescaledb_information.chunks
      where hypertable_name = 'metrics' order by range_start offset 10 limit 1`;
    const reader = await sql.reserve();
    await reader`begin`;
    await reader`lock table ${reader(chunk!.schema)}.${reader(chunk!.name)} in access share mode`;
    // The manager's loop scans once at start (its interval is an hour): twelve chunks requested.
    await flow.manager.start();
    await waitFor(
      async () => (await states()).filter((s) => s !== 'pending').length === 12,
      'the first scan',
    );
    const first = await flow.ledger('tsdb');
    const target = first[10]!;
    expect(target.chunk_name).toBe(chunk!.name);
    try {
      await waitFor(async () => {
        const rows = await flow.ledger('tsdb');
        const archived = rows.find((r) => r.id === target.id)!;
        return (
          rows.filter((r) => r.state === 'dropped').length === 11 &&
          archived.state === 'archived' &&
          (await liveKeys()).includes(archived.object_key!)
        );
      }, 'eleven chunks dropped and the held one committed, not dropped');
      const late = `${target.range_start}`;
      for (const t of ['metrics', 'source_copy'])
        await sql.unsafe(
          `insert into ${t} values (999999, $1::timestamptz + interval '1 hour', 3, 0.5, 'late', 1.50, '{"late":true}', null, '{7}')`,
          [late],
        );
    } finally {
      await reader`commit`;
      reader.release();
    }
    // A column added at the source before the rest are archived: every later file carries it.
    for (const t of ['metrics', 'source_copy']) {
      await sql.unsafe(`alter table ${t} add column extra text`);
      await sql.unsafe(`update ${t} set extra = 'x' || id where ts >= '2021-03-16' and ts < '2021-03-20'`);
    }
    await waitFor(async () => {
      await flow.manager.scanner.scanOnce();
      const all = await states();
      return all.length === DAYS && all.every((s) => s === 'dropped');
    }, `all ${DAYS} chunks dropped, the changed one after archiving it again`);
    reArchived = (await flow.ledger('tsdb')).find((r) => r.id === target.id)!;
    expect(reArchived.object_key).not.toBe(first[10]!.object_key);
    const opened = (await openTable(store, TABLE_KEY))!;
    const operations = opened.current.metadata.snapshots.map((s) => s.summary.operation);
    expect(operations.filter((o) => o === 'overwrite')).toHaveLength(1);
    const overwrite = opened.current.metadata.snapshots.find((s) => s.summary.operation === 'overwrite')!;
    expect(overwrite.summary).toMatchObject({
      'deleted-data-files': '1',
      'chunk-archiver.data-file': reArchived.object_key,
      'chunk-archiver.row-count': reArchived.row_count,
      'chunk-archiver.content-checksum': reArchived.content_checksum,
      'chunk-archiver.sha256': reArchived.sha256,
    });
  }, 180_000);

  it('a column added at the source is a schema evolution: a new field id, older files read as null', async () => {
    const { current } = (await openTable(store, TABLE_KEY))!;
    const schema = currentSchema(current.metadata);
    expect(current.metadata.schemas).toHaveLength(2);
    expect(schema.fields.map((f) => [f.id, f.name, f.type])).toEqual([
      [1, 'id', 'long'],
      [2, 'ts', 'timestamptz'],
      [3, 'dev', 'int'],
      [4, 'v', 'double'],
      [5, 'note', 'string'],
      [6, 'amount', 'decimal(12, 2)'],
      [7, 'payload', 'string'],
      [8, 'uid', 'uuid'],
      [9, 'tags', 'string'],
      [10, 'extra', 'string'],
    ]);
    expect(current.metadata['partition-specs'][0]!.fields).toEqual([
      { 'source-id': 2, 'field-id': 1000, name: 'ts_day', transform: 'day' },
    ]);
  }, 120_000);

  it('an independent reader (icebird) returns exactly the source rows; both workers took part', async () => {
    const read = await icebergRead({ tableUrl: `${http.url}/${TABLE_KEY.slice(0, -1)}` });
    const source = await sourceRows(sql);
    expect(read.length).toBe(source.size);
    const byId = new Map(read.map((r) => [String(r.id), readerRow(r)]));
    expect(byId.size).toBe(source.size);
    for (const [id, row] of source) expect(byId.get(id), `row ${id}`).toEqual(row);
    const producers = new Set(flow.confirmations.map((c) => c.producer));
    expect([...producers].sort()).toEqual(['archival-service@worker-1', 'archival-service@worker-2']);
  });

  it('DuckDB reads every listed data file with the right types; each dropped chunk is listed once', async () => {
    const keys = await liveKeys();
    expect(keys).toHaveLength(DAYS);
    expect(new Set(keys).size).toBe(DAYS);
    const dropped = (await flow.ledger('tsdb')).map((r) => r.object_key);
    expect([...keys].sort()).toEqual([...dropped].sort());
    let rows = 0;
    let ids = 0n;
    for (const key of keys) {
      const view = await duckdbView(store, key);
      rows += view.n;
      ids += view.ids;
      expect(view.types).toMatchObject({
        id: 'BIGINT',
        ts: 'TIMESTAMP WITH TIME ZONE',
        dev: 'INTEGER',
        v: 'DOUBLE',
        note: 'VARCHAR',
        amount: 'DECIMAL(12,2)',
        payload: 'VARCHAR',
        uid: 'UUID',
        tags: 'VARCHAR',
      });
    }
    const [expected] = await sql<{ n: number; ids: string }[]>`
      select count(*)::int as n, sum(id)::text as ids from source_copy where ts < '2021-03-25'`;
    expect({ rows, ids: String(ids) }).toEqual({ rows: expected!.n, ids: expected!.ids });
  });

  it('verify checks the table against storage; restore reads through the current snapshot, not the replaced file', async () => {
    const audit = await auditArchive(store, { prefix: 'archive/' });
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ ok: true, iceberg_tables: [TABLE_KEY], iceberg_live_files: DAYS });
    // Both attempts at the re-archived chunk are in storage: only the current one is restored.
    await sql`create table restored (like source_copy)`;
    const report = await flow.manager.restorer.restore({
      database: 'tsdb',
      table: 'metrics',
      from: reArchived.range_start,
      to: reArchived.range_end,
      into: 'public.restored',
    });
    expect(report.ok).toBe(true);
    expect(report.objects.map((o) => o.object_key)).toEqual([reArchived.object_key]);
    const [counts] = await sql<{ restored: number; source: number }[]>`
      select (select count(*)::int from restored) as restored,
             (select count(*)::int from source_copy where ts >= ${reArchived.range_start}::timestamptz and ts < ${reArchived.range_end}::timestamptz) as source`;
    expect(counts!.restored).toBe(counts!.source);
    // Every value as it was, the array and JSON columns (strings in the Iceberg files) included.
    const [differ] = await sql<{ n: number }[]>`
      select count(*)::int as n from (
        (select * from restored except all select * from source_copy
           where ts >= ${reArchived.range_start}::timestamptz and ts < ${reArchived.range_end}::timestamptz)
        union all
        (select * from source_copy where ts >= ${reArchived.range_start}::timestamptz and ts < ${reArchived.range_end}::timestamptz
         except all select * from restored)) d`;
    expect(differ!.n).toBe(0);
  });

  it('expire-snapshots keeps the newest and removes the replaced file; the table still reads the same', async () => {
    const before = await icebergRead({ tableUrl: `${http.url}/${TABLE_KEY.slice(0, -1)}` });
    const result = await expireSnapshots(table, 2);
    expect(result.expiredSnapshots).toBeGreaterThan(DAYS - 2);
    expect(result.removedDataFiles).toHaveLength(1);
    expect(await store.stat(result.removedDataFiles[0]!)).toBeUndefined();
    const after = await icebergRead({ tableUrl: `${http.url}/${TABLE_KEY.slice(0, -1)}` });
    expect(after.map(readerRow).sort()).toEqual(before.map(readerRow).sort());
    const audit = await auditArchive(store, { prefix: 'archive/' });
    expect(audit.problems).toEqual([]);
  });
});
