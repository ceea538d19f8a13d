import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

/**
 * A half-open slice `[start, end)` of a table on one column: a plain table's archive window, or
 * the span of an archived chunk that restore and release work on. Bounds are ISO timestamps for
 * time columns (timestamptz, timestamp, date) and decimal integers for integer ones.
 */
export interface RowRange {
  column: string;
  dimension: 'timestamp' | 'integer';
  start: string;
  end: string;
  /**
   * A hypertable chunk's hash-partition slices: rows of other space partitions share the time
   * range, and are told apart by TimescaleDB's partition hash of the column.
   */
  slices?: Array<{ column: string; start: string; end: string }> | undefined;
  /**
   * Where the bounds come from: bind parameters (default), or the transaction's settings that
   * bindRangeSettings wrote, for statements that take no parameters (COPY).
   */
  bounds?: 'parameters' | 'settings' | undefined;
}

const START_SETTING = 'chunk_archiver.range_start';
const END_SETTING = 'chunk_archiver.range_end';

/**
 * Puts the range's bounds into transaction-local settings, so a COPY (which takes no bind
 * parameters) can compare with them without a value ever being spliced into SQL text.
 */
export async function bindRangeSettings(tx: postgres.TransactionSql, range: RowRange): Promise<RowRange> {
  await tx`select set_config(${START_SETTING}, ${range.start}, true), set_config(${END_SETTING}, ${range.end}, true)`;
  return { ...range, bounds: 'settings' };
}

/**
 * A bound as the column compares it. Every caller runs under pinSession (UTC), so timestamptz
 * bounds compare correctly with timestamp and date columns too, and btree's cross-type operators
 * keep an index on the column usable.
 */
function bound(
  sql: Db,
  range: Pick<RowRange, 'dimension' | 'start' | 'end' | 'bounds'>,
  which: 'start' | 'end',
) {
  if (range.bounds === 'settings') {
    const setting = which === 'start' ? START_SETTING : END_SETTING;
    return range.dimension === 'integer'
      ? sql`current_setting(${sql.unsafe(`'${setting}'`)})::bigint`
      : sql`current_setting(${sql.unsafe(`'${setting}'`)})::timestamptz`;
  }
  const value = range[which];
  return range.dimension === 'integer' ? sql`${value}::bigint` : sql`${value}::timestamptz`;
}

/**
 * The one definition of "a row is in the range", for extraction, the removal's delete, restore and
 * release alike. NULL never compares, so rows with a NULL time are in no range.
 */
export function rangePredicate(sql: Db, range: RowRange): postgres.PendingQuery<postgres.Row[]> {
  const time = sql`${sql(range.column)} >= ${bound(sql, range, 'start')} and ${beforeEnd(sql, range)}`;
  return (range.slices ?? []).reduce(
    (acc, slice) =>
      sql`${acc} and _timescaledb_functions.get_partition_hash(${sql(slice.column)}) >= ${slice.start}::bigint
              and _timescaledb_functions.get_partition_hash(${sql(slice.column)}) < ${slice.end}::bigint`,
    time,
  );
}

/** Only the upper bound of a range: every row before `end` (NULL times excluded). */
export function beforeEnd(
  sql: Db,
  range: Pick<RowRange, 'column' | 'dimension' | 'end' | 'bounds'>,
): postgres.PendingQuery<postgres.Row[]> {
  return sql`${sql(range.column)} < ${bound(sql, { ...range, start: '' }, 'end')}`;
}
