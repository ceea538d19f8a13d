import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { duckdbLiteral, duckdbQuery, pgSchema } from '@chunk-archiver/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveChunk } from '../src/archive-chunk.js';
import { newEventId, partitionRequest } from './helpers.js';

describe('row groups bounded in bytes as well as rows (wide rows)', () => {
  let db: Awaited<ReturnType<typeof pgSchema>>;
  let root: string;

  beforeAll(async () => {
    db = await pgSchema('widerows');
    root = await mkdtemp(join(tmpdir(), 'archive-wide-'));
    const { sql, schema } = db;
    await sql`create table ${sql(schema)}.wide (id bigint not null, ts timestamptz not null, body text) partition by range (ts)`;
    await sql`create table ${sql(schema)}.wide_2024_03 partition of ${sql(schema)}.wide
      for values from ('2024-03-01') to ('2024-04-01')`;
    // 200 rows of 100 kB each: 20 MB in all, far past a 1 MiB row group.
    await sql`insert into ${sql(schema)}.wide select g, '2024-03-01'::timestamptz + g * interval '1 minute',
      repeat(md5(g::text), 3200) from generate_series(1, 200) g`;
  });

  afterAll(async () => {
    await db?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('ends a row group once its rows hold rowGroupBytes, long before rowGroupSize rows', async () => {
    const { sql, schema } = db;
    const store = createLocalBlobStore({ root, container: 'archive' });
    const request = partitionRequest(
      'main',
      schema,
      'wide',
      'wide_2024_03',
      '2024-03-01T00:00:00Z',
      '2024-04-01T00:00:00Z',
    );
    const settings = {
      prefix: 'archive',
      codec: 'snappy' as const,
      rowGroupSize: 10_000,
      rowGroupBytes: 1024 * 1024,
    };
    const result = await archiveChunk({ sql, store, settings }, request, newEventId());
    expect(result.manifest.row_count).toBe(200);
    const file = duckdbLiteral(join(root, 'archive', result.object.key));
    const groups = await duckdbQuery(
      `select row_group_id, max(row_group_num_rows)::int as n from parquet_metadata(${file}) group by 1 order by 1`,
    );
    // 100 kB rows, 1 MiB a group: eleven rows close each group (the one that crosses the bound).
    expect(groups.length).toBeGreaterThanOrEqual(18);
    for (const g of groups) expect(g.n as number).toBeLessThanOrEqual(11);
    const [read] = await duckdbQuery(
      `select count(*)::int as n, sum(length(body))::bigint::varchar as chars from read_parquet(${file}, hive_partitioning = false)`,
    );
    expect(read).toEqual({ n: 200, chars: String(200 * 32 * 3200) });
  });
});
