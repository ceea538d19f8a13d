import {
  beforeEnd,
  type ContentChecksum,
  checksumSelect,
  type RowRange,
  rangePredicate,
  toContentChecksum,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;
type Tx = postgres.TransactionSql;

export interface TableRef {
  schema: string;
  name: string;
}

/** Where a table's windows stand in the ledger: the end of the last one cut, and how many are open. */
export interface WindowFrontier {
  /** range_end of the latest window of this table (this OID); null before the first. */
  lastEnd: string | null;
  /** Windows not yet removed (pending, requested, archived, failed). */
  open: number;
}

export async function windowFrontier(sql: Db, table: TableRef, oid: string): Promise<WindowFrontier> {
  const [row] = await sql<{ last_end: string | null; open: number }[]>`
    select (select range_end from archiver.chunks
            where source_kind = 'table' and table_schema = ${table.schema} and table_name = ${table.name}
              and chunk_oid = ${oid}::bigint
            order by case when dimension_type = 'integer' then lpad(range_end, 24, '0') else range_end end desc
            limit 1) as last_end,
           (select count(*)::int from archiver.chunks
            where source_kind = 'table' and table_schema = ${table.schema} and table_name = ${table.name}
              and chunk_oid = ${oid}::bigint and state in ('pending', 'requested', 'archived', 'failed')) as open`;
  return { lastEnd: row?.last_end ?? null, open: row?.open ?? 0 };
}

/** The latest removed windows of a table, newest first: what the sizer learns from. */
export async function recentRemovals(
  sql: Db,
  table: TableRef,
  limit: number,
): Promise<Array<{ rows: number; expected: number | null; removal_ms: number }>> {
  return sql<Array<{ rows: number; expected: number | null; removal_ms: number }>>`
    select row_count::float8 as rows, expected_rows::float8 as expected, removal_ms
    from archiver.chunks
    where source_kind = 'table' and table_schema = ${table.schema} and table_name = ${table.name}
      and state = 'dropped' and removal_ms is not null
    order by dropped_at desc limit ${limit}`;
}

/**
 * The first time value at or after `from` (from the table's beginning when null) and before
 * `cutoff`, as epoch milliseconds (time columns, read in UTC) or as the integer itself; null when
 * there is none. With an index leading on the column this reads one index entry.
 */
export async function firstTimeFrom(
  tx: Tx,
  table: TableRef,
  range: Pick<RowRange, 'column' | 'dimension'> & { from: string | null; cutoff: string },
): Promise<number | null> {
  const column = tx(range.column);
  const where =
    range.from === null
      ? beforeEnd(tx, { ...range, end: range.cutoff })
      : rangePredicate(tx, { ...range, start: range.from, end: range.cutoff });
  const value =
    range.dimension === 'integer'
      ? tx`min(${column})::float8`
      : tx`(extract(epoch from min(${column})::timestamptz) * 1000)::float8`;
  const [row] = await tx<{ v: number | null }[]>`
    select ${value} as v from ${tx(table.schema)}.${tx(table.name)} where ${where}`;
  return row?.v ?? null;
}

/** The planner's statistics of the time column: how many rows, and the histogram's bounds. */
export interface TimeStatistics {
  /** Non-null rows by the table's last ANALYZE (pg_class.reltuples × (1 − null_frac)). */
  rows: number;
  /** Equal-frequency histogram bounds, epoch ms for time columns, the values for integers. */
  bounds: number[];
}

export async function timeStatistics(
  tx: Tx,
  table: TableRef,
  column: string,
  dimension: 'timestamp' | 'integer',
): Promise<TimeStatistics | undefined> {
  const bounds =
    dimension === 'integer'
      ? tx`array(select b::float8 from unnest(s.histogram_bounds::text::bigint[]) b)`
      : tx`array(select (extract(epoch from b) * 1000)::float8 from unnest(s.histogram_bounds::text::timestamptz[]) b)`;
  const [row] = await tx<{ rows: number; bounds: number[] | null }[]>`
    select (c.reltuples * (1 - s.null_frac))::float8 as rows, ${bounds} as bounds
    from pg_stats s
    join pg_namespace n on n.nspname = s.schemaname
    join pg_class c on c.relnamespace = n.oid and c.relname = s.tablename
    where s.schemaname = ${table.schema} and s.tablename = ${table.name} and s.attname = ${column}
      and s.histogram_bounds is not null and c.reltuples > 0`;
  if (!row?.bounds || row.bounds.length < 2) return undefined;
  return { rows: row.rows, bounds: row.bounds.map(Number) };
}

/** Rows in the range, counting at most `limit` (an index scan stops there). */
export async function boundedCount(tx: Tx, table: TableRef, range: RowRange, limit: number): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from (
      select 1 from ${tx(table.schema)}.${tx(table.name)} where ${rangePredicate(tx, range)} limit ${limit}
    ) as x`;
  return row!.n;
}

/**
 * Deletes exactly the window's rows and returns the content checksum of the rows deleted, in one
 * statement: a row is counted if and only if it was deleted. The row hash is taken over the
 * deleted row as the table prints it, the same definition extraction used.
 */
export async function deleteWindowRows(tx: Tx, table: TableRef, range: RowRange): Promise<ContentChecksum> {
  const [row] = await tx<{ row_count: string; checksum: string }[]>`
    with deleted as (
      delete from ${tx(table.schema)}.${tx(table.name)} where ${rangePredicate(tx, range)} returning *
    )
    select ${checksumSelect(tx)} from deleted as t`;
  return toContentChecksum(row);
}

/**
 * One removal per table at a time (a confirmation and a scan may both try): two deletes that then
 * each wait for the other's writer lock would deadlock. Waits at most the transaction's lock_timeout.
 */
export async function serializeRemovals(tx: Tx, oid: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${`chunk-archiver window removal ${oid}`}, 0))`;
}

/**
 * Blocks every writer of the table until the transaction ends (readers carry on), waiting at most
 * `lockTimeoutMs` for writers already running: once it is held, no row can enter the window.
 */
export async function lockAgainstWriters(tx: Tx, table: TableRef, lockTimeoutMs: number): Promise<void> {
  await tx`select set_config('lock_timeout', ${`${Math.max(1, Math.floor(lockTimeoutMs))}ms`}, true)`;
  await tx`lock table ${tx(table.schema)}.${tx(table.name)} in share row exclusive mode`;
}

/** Rows with a NULL time: never in any window, never archived. Shown in status. */
export async function nullTimeRows(sql: Db, table: TableRef, column: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::float8 as n from ${sql(table.schema)}.${sql(table.name)} where ${sql(column)} is null`;
  return Number(row!.n);
}

/** VACUUM cannot run in a transaction: this takes a connection of the pool for itself. */
export async function vacuumTable(
  sql: postgres.Sql,
  table: TableRef,
  mode: 'analyze' | 'full',
): Promise<void> {
  if (mode === 'full') await sql`vacuum (full, analyze) ${sql(table.schema)}.${sql(table.name)}`;
  else await sql`vacuum (analyze) ${sql(table.schema)}.${sql(table.name)}`;
}

export async function analyzeOnly(sql: Db, table: TableRef): Promise<void> {
  await sql`analyze ${sql(table.schema)}.${sql(table.name)}`;
}
