import type postgres from 'postgres';

/**
 * A table holding every type the archive must bring back unchanged, with the values that break
 * naive conversions: NULLs, numerics at full precision, NaN and ±Infinity, -0, timestamps across
 * DST changes and time zones, BC dates and ±infinity, jsonb and json (duplicate keys, spacing),
 * one- and two-dimensional arrays, bytea, uuid, an enum, and text with tabs, newlines, backslashes
 * and the strings NULL and \N. Rows fall in January, February and March 2020.
 */
export async function createReadings(sql: postgres.Sql, kind: 'partition' | 'timescaledb'): Promise<void> {
  await sql`create type mood as enum ('sad', 'ok', 'happy')`;
  await sql.unsafe(`
    create table readings (
      id bigint not null,
      at timestamptz not null,
      local_at timestamp,
      day date,
      tod time,
      amount numeric(30,10),
      ratio numeric,
      small smallint,
      f4 real,
      f8 double precision,
      flag boolean,
      doc jsonb,
      raw_doc json,
      ints int[],
      labels text[],
      stamps timestamptz[],
      grid int[][],
      blob bytea,
      uid uuid,
      feeling mood,
      span interval,
      addr inet,
      note text,
      docs jsonb[]
    )${kind === 'partition' ? ' partition by range (at)' : ''}`);
  if (kind === 'partition') {
    await sql`create table readings_2020_01 partition of readings for values from ('2020-01-01') to ('2020-02-01')`;
    await sql`create table readings_2020_02 partition of readings for values from ('2020-02-01') to ('2020-03-01')`;
    await sql`create table readings_2020_03 partition of readings for values from ('2020-03-01') to ('2020-04-01')`;
    await sql`create table readings_current partition of readings for values from (date_trunc('month', now())) to (date_trunc('month', now()) + interval '1 month')`;
  } else {
    await sql`select create_hypertable('readings', 'at', chunk_time_interval => interval '14 days')`;
  }
  await sql.unsafe(`
    insert into readings
    select g,
           '2020-01-01 00:00:00+00'::timestamptz + (g * interval '37 minutes 13.000017 seconds'),
           '2019-12-31 23:59:59.999999'::timestamp + (g * interval '1 hour 1 microsecond'),
           '2020-01-01'::date + (g % 400) - 200,
           '00:00:00'::time + (g * interval '17 seconds 3 microseconds'),
           case when g % 11 = 0 then null else (g * 1234567.0123456789 - 987654321.5)::numeric(30,10) end,
           (g::numeric / 7),
           (g % 32767 - 16000)::smallint,
           (g / 3.0)::real,
           (g / 7.0)::double precision,
           g % 3 = 0,
           jsonb_build_object('g', g, 'half', g / 2.0, 'tags', jsonb_build_array('a', g % 5)),
           ('{"g": ' || g || ',   "g": "dup"}')::json,
           array[g, g + 1, null, -g]::int[],
           array['x' || g, 'with space', 'comma,' || g]::text[],
           array['2020-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', null]::timestamptz[],
           array[array[g, 2], array[3, g]]::int[][],
           decode(md5(g::text), 'hex'),
           md5(g::text)::uuid,
           (array['sad', 'ok', 'happy'])[g % 3 + 1]::mood,
           g * interval '1 day 3 hours 5.5 seconds',
           ('10.' || (g % 256) || '.0.0/16')::inet,
           'row ' || g || E'\\twith tab',
           array[jsonb_build_object('k', g)]
    from generate_series(1, 2400) g`);
  await sql.unsafe(`
    insert into readings values
      (100001, '2020-01-15 12:00:00.123456-08', '0044-03-15 12:00:00 BC', '0001-01-01 BC', '24:00:00',
       '12345678901234567890.0123456789', 'NaN', 32767, 'NaN', '-0', true,
       '{"big": 123456789012345678901234567890, "small": 1e-20, "s": "é\\t\\n\\\\\\"q"}',
       '{"b":1,  "a":2, "b":3}', '{}', '{"a,b","NULL",NULL,"quote\\"","back\\\\slash","{brace}"," space "}',
       '{"2020-01-01 00:00:00+00",infinity,-infinity,NULL}', '{{1,2},{3,4}}', '\\x00ff10',
       '00000000-0000-0000-0000-000000000000', 'happy', '-1 year 2 mons -3 days 04:05:06.789', '::1',
       E'tab\\there\\nnewline\\r\\\\backslash NULL \\\\N 😀', '{"{\\"a\\": {\\"b\\": [1, 2]}}","\\"str\\""}'),
      (100002, '2020-03-08 01:59:59.999999-05', 'infinity', 'infinity', '00:00:00.000001',
       '-0.0000000001', 'Infinity', -32768, 'Infinity', 1.7976931348623157e308, false,
       '[]', 'null', null, '{}', null, null, '',
       'ffffffff-ffff-ffff-ffff-ffffffffffff', 'sad', '0', '192.168.0.1/24', 'NULL', '{}'),
      (100003, '2020-03-08 03:00:00-04', '-infinity', '-infinity', '23:59:59.999999',
       '-99999999999999999999.9999999999', '-Infinity', 0, '-Infinity', 5e-324, null,
       '{"nested": {"deep": [null, true, false, 0.1]}}', '"just a string"', '{0}', '{""}', '{}', null, null,
       null, null, null, null, '\\N', null),
      (100004, '2020-03-29 00:59:59.999999+00', '2021-03-28 02:30:00', '2020-02-29', null,
       null, '123456789012345678901234567890.123456789012345678901234567890', null, '-0', 0.1, null,
       null, null, null, null, null, null, null, null, null, null, null, '', null),
      (100005, '2020-03-29 01:00:00+00', '2020-10-25 02:30:00', null, null,
       null, '-0.000000000000000000000000000001', null, 3.4028235e38, -1.7976931348623157e308, null,
       null, null, null, null, null, null, null, null, null, null, null, null, null),
      (100006, '2020-02-01 00:00:00+00', null, null, null, null, null, null, null, null, null,
       null, null, null, null, null, null, null, null, null, null, null, null, null)`);
}

/** Rows of `a` missing from `b` and of `b` missing from `a` in [from, to), compared by their text. */
export async function differences(
  sql: postgres.Sql,
  a: string,
  b: string,
  from = '2020-01-01',
  to = '2020-04-01',
): Promise<{ missing: number; extra: number; rows: number }> {
  const [row] = await sql<{ missing: number; extra: number; rows: number }[]>`
    select
      (select count(*)::int from (
        select t::text from ${sql(a)} t where at >= ${from}::timestamptz and at < ${to}::timestamptz
        except all
        select t::text from ${sql(b)} t where at >= ${from}::timestamptz and at < ${to}::timestamptz) x) as missing,
      (select count(*)::int from (
        select t::text from ${sql(b)} t where at >= ${from}::timestamptz and at < ${to}::timestamptz
        except all
        select t::text from ${sql(a)} t where at >= ${from}::timestamptz and at < ${to}::timestamptz) x) as extra,
      (select count(*)::int from ${sql(a)} where at >= ${from}::timestamptz and at < ${to}::timestamptz) as rows`;
  return row!;
}
