import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTimescale, type TimescaleHandle } from '../src/index.js';

describe('TimescaleDB helper', () => {
  let ts: TimescaleHandle;
  let sql: postgres.Sql;

  beforeAll(async () => {
    ts = await startTimescale();
    sql = postgres(ts.url, { max: 4, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await ts?.stop();
  });

  it('creates a hypertable, lists its chunks, copies one out and drops it', async () => {
    await sql`create table conditions (time timestamptz not null, device int, temp double precision)`;
    await sql`select create_hypertable('conditions', by_range('time', interval '1 day'))`;
    await sql`insert into conditions
      select t, (extract(epoch from t)::int % 5), random() * 30
      from generate_series('2024-01-01'::timestamptz, '2024-01-03 23:00'::timestamptz, interval '1 hour') t`;
    const chunks = await sql<{ chunk_schema: string; chunk_name: string; range_start: Date }[]>`
      select chunk_schema, chunk_name, range_start from timescaledb_information.chunks
      where hypertable_name = 'conditions' order by range_start`;
    expect(chunks).toHaveLength(3);

    const first = chunks[0]!;
    const [counted] = await sql<
      { count: string }[]
    >`select count(*) from ${sql(first.chunk_schema)}.${sql(first.chunk_name)}`;
    expect(Number(counted!.count)).toBe(24);

    let copied = '';
    const stream =
      await sql`copy (select * from ${sql(first.chunk_schema)}.${sql(first.chunk_name)}) to stdout`.readable();
    for await (const piece of stream) copied += piece.toString();
    expect(copied.trim().split('\n')).toHaveLength(24);

    await sql`select drop_chunks('conditions', older_than => ${chunks[1]!.range_start})`;
    const left =
      await sql`select chunk_name from timescaledb_information.chunks where hypertable_name = 'conditions'`;
    expect(left).toHaveLength(2);
    const [summed] = await sql<{ total: string }[]>`select count(*) as total from conditions`;
    expect(Number(summed!.total)).toBe(48);
  });
});
