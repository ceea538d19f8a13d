import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkContentChecksum } from '@chunk-archiver/pg';
import { type BlobStore, createAzureBlobStore, createLocalBlobStore } from '@chunk-archiver/storage';
import { duckdbLiteral, duckdbQuery, pgSchema, startAzurite } from '@chunk-archiver/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerHarness } from './harness.js';
import { downloadToTemp, partitionRequest } from './helpers.js';

async function keysIn(store: BlobStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of store.list(prefix)) keys.push(item.key);
  return keys;
}

describe('archival request handler on native partitions', () => {
  let db: Awaited<ReturnType<typeof pgSchema>>;
  let root: string;
  let store: BlobStore;
  let harness: Awaited<ReturnType<typeof handlerHarness>>;
  const jan = () =>
    partitionRequest(
      'main',
      db.schema,
      'events',
      'events_2024_01',
      '2024-01-01T00:00:00Z',
      '2024-02-01T00:00:00Z',
    );

  beforeAll(async () => {
    db = await pgSchema('handler');
    const { sql, schema } = db;
    await sql`create table ${sql(schema)}.events (id bigint not null, ts timestamptz not null, payload jsonb, note text) partition by range (ts)`;
    await sql`create table ${sql(schema)}.events_2024_01 partition of ${sql(schema)}.events for values from ('2024-01-01') to ('2024-02-01')`;
    await sql`create table ${sql(schema)}.events_2024_02 partition of ${sql(schema)}.events for values from ('2024-02-01') to ('2024-03-01')`;
    await sql`create table ${sql(schema)}.bystander (id int)`;
    await sql`insert into ${sql(schema)}.events
      select g, '2024-01-01'::timestamptz + (g || ' minutes')::interval, jsonb_build_object('n', g, 'tag', 'x' || (g % 7)),
             case when g % 5 = 0 then null else 'note ' || g end
      from generate_series(1, 5000) g`;
    root = await mkdtemp(join(tmpdir(), 'archive-'));
    store = createLocalBlobStore({ root, container: 'archive' });
    harness = await handlerHarness({
      databases: { main: { sql, allowedTables: [`${schema}.events`] } },
      store,
    });
  });

  afterAll(async () => {
    await harness?.cleanup();
    await db?.cleanup();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('archives a partition and confirms SUCCESS with the checksum the database computes', async () => {
    const confirmation = await harness.archive(jan());
    expect(confirmation.data.status).toBe('SUCCESS');
    if (confirmation.data.status !== 'SUCCESS') return;
    const expected = await chunkContentChecksum(db.sql, db.schema, 'events_2024_01');
    expect(expected.rowCount).toBe(5000);
    expect(confirmation.data.manifest.row_count).toBe(5000);
    expect(confirmation.data.manifest.content_checksum).toBe(expected.checksum);
    const info = await store.stat(confirmation.data.object.key);
    expect(info?.sha256).toBe(confirmation.data.manifest.sha256);
    expect(await store.stat(confirmation.data.object.manifest_key)).toBeDefined();

    const file = duckdbLiteral(join(root, 'archive', confirmation.data.object.key));
    const [agg] = await duckdbQuery(
      `select count(*)::int as n, sum(id)::bigint::varchar as ids, count(note)::int as notes from read_parquet(${file})`,
    );
    expect(agg).toEqual({ n: 5000, ids: String((5000 * 5001) / 2), notes: 4000 });
  });

  it('overwrites the same key when a chunk is archived again', async () => {
    const first = await harness.archive(jan());
    const second = await harness.archive(jan());
    expect(first.data.status).toBe('SUCCESS');
    expect(second.data.status).toBe('SUCCESS');
    if (first.data.status !== 'SUCCESS' || second.data.status !== 'SUCCESS') return;
    expect(second.data.object.key).toBe(first.data.object.key);
    const keys = await keysIn(store, `archive/main/${db.schema}.events/`);
    expect(keys.filter((k) => k.endsWith('.parquet'))).toEqual([first.data.object.key]);
  });

  it.each<
    [
      string,
      Partial<
        Record<'table_schema' | 'table_name' | 'chunk_schema' | 'chunk_name' | 'chunk_end_time', string>
      >,
      string,
    ]
  >([
    [
      'a system catalog',
      {
        table_schema: 'pg_catalog',
        table_name: 'pg_authid',
        chunk_schema: 'pg_catalog',
        chunk_name: 'pg_authid',
      },
      'SYSTEM_SCHEMA',
    ],
    [
      'a table that is not configured',
      { table_name: 'bystander', chunk_name: 'bystander' },
      'TABLE_NOT_ALLOWED',
    ],
    ['a partition that does not exist (stale request)', { chunk_name: 'events_2023_12' }, 'CHUNK_NOT_FOUND'],
    [
      'an injection attempt in the chunk name',
      { chunk_name: 'events_2024_01"; drop table bystander; --' },
      'CHUNK_NOT_FOUND',
    ],
    [
      'a range that does not match the partition',
      { chunk_end_time: '2024-01-15T00:00:00Z' },
      'RANGE_MISMATCH',
    ],
  ])('refuses %s with FAILED %s before reading any row', async (_label, change, code) => {
    const before = await keysIn(store);
    const confirmation = await harness.archive({
      ...jan(),
      ...change,
      table_schema: change.table_schema ?? db.schema,
      chunk_schema: change.chunk_schema ?? db.schema,
    });
    expect(confirmation.data.status).toBe('FAILED');
    if (confirmation.data.status !== 'FAILED') return;
    expect(confirmation.data.error.code).toBe(code);
    expect(confirmation.data.error.retryable).toBe(false);
    expect(await keysIn(store)).toEqual(before);
    const [exists] = await db.sql`select to_regclass(${`${db.schema}.bystander`}) is not null as ok`;
    expect(exists!.ok).toBe(true);
  });

  it('refuses a database that is not configured here, naming it', async () => {
    const confirmation = await harness.archive({ ...jan(), database: 'elsewhere' });
    expect(confirmation.data.status).toBe('FAILED');
    if (confirmation.data.status === 'FAILED') {
      expect(confirmation.data.error.code).toBe('DATABASE_NOT_CONFIGURED');
      expect(confirmation.data.error.message).toContain('elsewhere');
    }
  });
});

describe('archival during a storage outage', () => {
  let db: Awaited<ReturnType<typeof pgSchema>>;
  let dir: string;

  beforeAll(async () => {
    db = await pgSchema('outage');
    const { sql, schema } = db;
    await sql`create table ${sql(schema)}.big (id bigint, ts timestamptz not null, filler text) partition by range (ts)`;
    await sql`create table ${sql(schema)}.big_2024_01 partition of ${sql(schema)}.big for values from ('2024-01-01') to ('2024-02-01')`;
    // Random text does not compress: the upload spans several blocks.
    await sql`insert into ${sql(schema)}.big
      select g, '2024-01-01'::timestamptz + (g || ' seconds')::interval, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text)
      from generate_series(1, 150000) g`;
    dir = await mkdtemp(join(tmpdir(), 'azurite-outage-'));
  });
  afterAll(async () => {
    await db?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('confirms FAILED retryable and leaves no object under the final key when Azurite dies mid-upload', async () => {
    let azurite = await startAzurite({ dir });
    const real = await createAzureBlobStore({
      container: 'archive',
      connectionString: azurite.connectionString,
      blockSize: 1024 * 1024,
      maxTries: 1,
    });
    await real.ensureContainer();
    let killed = false;
    // The real store, with Azurite stopped once the first megabytes have gone out.
    const store: BlobStore = {
      ...real,
      upload: (key, source, opts) =>
        real.upload(
          key,
          (async function* () {
            let sent = 0;
            for await (const piece of source) {
              sent += piece.length;
              if (sent > 3 * 1024 * 1024 && !killed) {
                killed = true;
                await azurite.stop();
              }
              yield piece;
            }
          })(),
          opts,
        ),
    };
    const harness = await handlerHarness({
      databases: { main: { sql: db.sql } },
      store,
      rowGroupSize: 10_000,
      attempts: 1,
    });
    try {
      const request = partitionRequest(
        'main',
        db.schema,
        'big',
        'big_2024_01',
        '2024-01-01T00:00:00Z',
        '2024-02-01T00:00:00Z',
      );
      const confirmation = await harness.archive(request);
      expect(killed).toBe(true);
      expect(confirmation.data.status).toBe('FAILED');
      if (confirmation.data.status !== 'FAILED') return;
      expect(confirmation.data.error.code).toBe('STORAGE_ERROR');
      expect(confirmation.data.error.retryable).toBe(true);

      azurite = await startAzurite({ dir, port: azurite.port });
      const keys: string[] = [];
      for await (const item of real.list('')) keys.push(item.key);
      expect(keys).toEqual([]);

      // Storage is back: the retry succeeds and the rows are all there.
      const retried = await harness.archive({ ...request, attempt: 2 });
      expect(retried.data.status).toBe('SUCCESS');
      if (retried.data.status !== 'SUCCESS') return;
      const local = await downloadToTemp(real, retried.data.object.key);
      try {
        const [row] = await duckdbQuery(
          `select count(*)::int as n from read_parquet(${duckdbLiteral(local.path)})`,
        );
        expect(row!.n).toBe(150000);
      } finally {
        await local.cleanup();
      }
    } finally {
      await harness.cleanup();
      await azurite.stop();
    }
  });
});
