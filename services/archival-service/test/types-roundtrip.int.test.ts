import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkContentChecksum } from '@chunk-archiver/pg';
import { createLocalBlobStore, readManifest } from '@chunk-archiver/storage';
import { duckdbLiteral, duckdbQuery, pgSchema } from '@chunk-archiver/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveChunk } from '../src/archive-chunk.js';
import { checkChunk } from '../src/catalog-check.js';
import { newEventId, partitionRequest } from './helpers.js';

describe('Parquet type fidelity (local PostgreSQL → local disk → DuckDB)', () => {
  let db: Awaited<ReturnType<typeof pgSchema>>;
  let root: string;

  beforeAll(async () => {
    db = await pgSchema('types');
    root = await mkdtemp(join(tmpdir(), 'archive-'));
    const { sql, schema } = db;
    await sql`create type ${sql(schema)}.mood as enum ('sad', 'ok', 'happy')`;
    await sql`
      create table ${sql(schema)}.audit (
        id bigint not null,
        ts timestamptz not null,
        small smallint, whole int, f4 real, f8 double precision,
        dec_small numeric(12,2), dec_big numeric(30,10), num_free numeric,
        flag boolean, label text, code varchar(10), fixed char(3),
        uid uuid, doc jsonb, raw_json json,
        local_ts timestamp, day date, tod time, span interval,
        blob bytea, ip inet, net cidr, feeling ${sql(schema)}.mood,
        ints int[], words text[]
      ) partition by range (ts)`;
    await sql`create table ${sql(schema)}.audit_2024_03 partition of ${sql(schema)}.audit
      for values from ('2024-03-01 00:00:00+00') to ('2024-04-01 00:00:00+00')`;
    await sql.unsafe(`
      insert into "${schema}".audit values
      (1, '2024-03-10 01:59:59.999999-05', 32767, -2147483648, 3.4028235e38, 1.7976931348623157e308,
       -1234567890.12, 12345678901234567890.0123456789, 123456789012345678901234567890.123456789012345,
       true, E'tab\\there\\nnewline \\\\ backslash ✓ ünïcødé', 'varchar', 'ab',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, null], "b": {"c": "x\\"y"}}', '{"keep":  "spacing"}',
       '2024-03-10 02:30:00.5', '2024-03-10', '23:59:59.999999', '1 year 2 mons 3 days 04:05:06.789',
       '\\x00ff10', '192.168.1.1/24', '10.0.0.0/8', 'happy', '{1,NULL,3}', '{"a b",NULL,"c,d"}'),
      (2, '2024-03-31 23:59:59.999999+00', -32768, 2147483647, 'NaN', 'Infinity',
       0.00, -0.0000000001, 'NaN',
       false, '', 'x', 'z', '00000000-0000-0000-0000-000000000000', '[]', 'null',
       '0001-01-01 00:00:00', '0044-03-15 BC', '00:00:00', '-1 days +00:00:01',
       '\\x', '::1', '2001:db8::/32', 'sad', '{}', '{}'),
      (3, '2024-03-01 00:00:00+00', null, null, '-Infinity', '-0', null, null, null,
       null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`);
  });

  afterAll(async () => {
    await db?.cleanup();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('archives every type so DuckDB reads back the same values with the right types', async () => {
    const { sql, schema } = db;
    const store = createLocalBlobStore({ root, container: 'archive' });
    const request = partitionRequest(
      'main',
      schema,
      'audit',
      'audit_2024_03',
      '2024-03-01T00:00:00Z',
      '2024-04-01T00:00:00Z',
    );
    await checkChunk(sql, request);
    const result = await archiveChunk(
      { sql, store, settings: { prefix: 'archive', codec: 'snappy', rowGroupSize: 2 } },
      request,
      newEventId(),
    );

    expect(result.object.key).toBe(
      `archive/main/${schema}.audit/year=2024/month=03/day=01/audit_2024_03_20240301T000000.000Z_20240401T000000.000Z.parquet`,
    );
    const expected = await chunkContentChecksum(sql, schema, 'audit_2024_03');
    expect(result.manifest.row_count).toBe(3);
    expect(result.manifest.content_checksum).toBe(expected.checksum);

    const manifest = await readManifest(store, result.object.manifest_key);
    expect(manifest.sha256).toBe(result.manifest.sha256);

    const file = duckdbLiteral(join(root, 'archive', result.object.key));
    const types = Object.fromEntries(
      (await duckdbQuery(`describe select * from read_parquet(${file}, hive_partitioning = false)`)).map(
        (r) => [r.column_name, r.column_type],
      ),
    );
    expect(types).toMatchObject({
      id: 'BIGINT',
      ts: 'TIMESTAMP WITH TIME ZONE',
      small: 'SMALLINT',
      whole: 'INTEGER',
      f4: 'FLOAT',
      f8: 'DOUBLE',
      dec_small: 'DECIMAL(12,2)',
      dec_big: 'DECIMAL(30,10)',
      num_free: 'VARCHAR',
      flag: 'BOOLEAN',
      label: 'VARCHAR',
      uid: 'UUID',
      doc: 'JSON',
      local_ts: 'TIMESTAMP',
      day: 'DATE',
      tod: 'TIME',
      blob: 'BLOB',
      ints: 'JSON',
    });

    const fromParquet = await duckdbQuery(`
      select id, epoch_us(ts)::varchar as ts_us, small, whole, f4, f8, dec_small::varchar as dec_small,
             dec_big::varchar as dec_big, num_free, flag, label, code, fixed, uid::varchar as uid,
             doc::varchar as doc, raw_json::varchar as raw_json, epoch_us(local_ts)::varchar as local_us,
             day::varchar as day, datediff('microsecond', TIME '00:00:00', tod)::varchar as tod_us, span,
             hex(blob) as blob, ip, net, feeling, ints::varchar as ints, words::varchar as words
      from read_parquet(${file}, hive_partitioning = false) order by id`);
    const fromPostgres = await sql.unsafe(`
      select id::int as id, (extract(epoch from ts) * 1000000)::bigint::text as ts_us, small, whole,
             f4::float8 as f4, f8, dec_small::text as dec_small, dec_big::text as dec_big, num_free::text as num_free,
             flag, label, code, fixed, uid::text as uid, doc::text as doc, raw_json::text as raw_json,
             (extract(epoch from local_ts) * 1000000)::bigint::text as local_us,
             to_char(day, 'YYYY-MM-DD') || case when day < '0001-01-01' then ' (BC)' else '' end as day,
             (extract(epoch from tod) * 1000000)::bigint::text as tod_us, span::text as span,
             upper(encode(blob, 'hex')) as blob, inet_out(ip)::text as ip, cidr_out(net)::text as net, feeling::text as feeling,
             to_json(ints)::text as ints, to_json(words)::text as words
      from "${schema}".audit order by id`);

    const kv = Object.fromEntries(
      (
        await duckdbQuery(
          `select decode(key) as key, decode(value) as value from parquet_kv_metadata(${file})`,
        )
      ).map((r) => [r.key, r.value]),
    );
    expect(kv).toMatchObject({
      'chunk_archiver.database': 'main',
      'chunk_archiver.table': `${schema}.audit`,
      'chunk_archiver.chunk': `${schema}.audit_2024_03`,
      'chunk_archiver.row_count': '3',
      'chunk_archiver.content_checksum': expected.checksum,
      'chunk_archiver.range_start': '2024-03-01T00:00:00Z',
    });
    expect(kv['chunk_archiver.writer_version']).toMatch(/^chunk-archiver /);

    expect(fromParquet).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const p = fromParquet[i]!;
      const g = { ...fromPostgres[i]! } as Record<string, unknown>;
      // DuckDB prints BC dates as "0044-03-15 (BC)"; PostgreSQL's to_char gives the same year digits.
      for (const [key, value] of Object.entries(g)) {
        const actual = p[key];
        if (typeof value === 'number' && Number.isNaN(value))
          expect(Number.isNaN(actual as number), key).toBe(true);
        else if (key === 'f4' && typeof value === 'number')
          expect(Math.fround(actual as number), key).toBe(Math.fround(value));
        else if (key === 'id') expect(Number(actual), key).toBe(value);
        else expect(actual === undefined ? null : actual, `row ${i + 1} column ${key}`).toEqual(value);
      }
    }
  });

  it.each(['gzip', 'zstd', 'uncompressed'] as const)('writes %s files that DuckDB reads', async (codec) => {
    const { sql, schema } = db;
    const store = createLocalBlobStore({ root: join(root, codec), container: 'archive' });
    const request = partitionRequest(
      'main',
      schema,
      'audit',
      'audit_2024_03',
      '2024-03-01T00:00:00Z',
      '2024-04-01T00:00:00Z',
    );
    const result = await archiveChunk(
      { sql, store, settings: { prefix: 'archive', codec, rowGroupSize: 1000 } },
      request,
      newEventId(),
    );
    const file = duckdbLiteral(join(root, codec, 'archive', result.object.key));
    const [row] = await duckdbQuery(
      `select count(*)::int as n, sum(id)::int as ids from read_parquet(${file}, hive_partitioning = false)`,
    );
    expect(row).toEqual({ n: 3, ids: 6 });
    const codecs = await duckdbQuery(`select distinct compression from parquet_metadata(${file})`);
    expect(codecs.map((c) => c.compression)).toEqual([codec.toUpperCase()]);
  });
});
