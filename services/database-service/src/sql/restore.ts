import {
  type ContentChecksum,
  checksumSelect,
  type RowRange,
  rangePredicate,
  toContentChecksum,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

export interface TableRef {
  schema: string;
  table: string;
}

/** The slice of a table one archived chunk covers: [start, end) on its partitioning column. */
export type RangeRef = RowRange;

/** Rows the table already holds in the range (all partitions or chunks). */
export async function rowsInRange(sql: Db, target: TableRef, range: RangeRef): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
    select count(*)::text as n from ${sql(target.schema)}.${sql(target.table)} where ${rangePredicate(sql, range)}`;
  return Number(row!.n);
}

/**
 * The content checksum of the rows in a range, each row printed with the archived columns in the
 * archived order: the same number the archiver computed from the chunk itself, whatever the
 * target's own column order.
 */
export async function rangeChecksum(
  sql: Db,
  target: TableRef,
  columns: string[],
  range: RangeRef,
): Promise<ContentChecksum> {
  const [row] = await sql<{ row_count: string; checksum: string }[]>`
    select ${checksumSelect(sql)}
    from (select ${sql(columns)} from ${sql(target.schema)}.${sql(target.table)} where ${rangePredicate(sql, range)}) as t`;
  return toContentChecksum(row);
}

/** The content checksum of a whole (staging) table, with the archived columns in order. */
export async function tableChecksum(sql: Db, target: TableRef, columns: string[]): Promise<ContentChecksum> {
  const [row] = await sql<{ row_count: string; checksum: string }[]>`
    select ${checksumSelect(sql)} from (select ${sql(columns)} from ${sql(target.schema)}.${sql(target.table)}) as t`;
  return toContentChecksum(row);
}

export const STAGE_TABLE: TableRef = { schema: 'pg_temp', table: 'chunk_archiver_restore_stage' };

/** A private staging table shaped like the target, gone at commit or rollback. */
export async function createStage(sql: Db, target: TableRef): Promise<void> {
  await sql`create temp table ${sql(STAGE_TABLE.table)} (like ${sql(target.schema)}.${sql(target.table)}) on commit drop`;
}

/** For a staged row `s`: no row of the target's range prints the same (archived columns, in order). */
function notInRange(sql: Db, target: TableRef, columns: string[], range: RangeRef) {
  return sql`not exists (
    select 1 from (select ${sql(columns)} from ${sql(target.schema)}.${sql(target.table)} where ${rangePredicate(sql, range)}) as t
    where t::text = s::text)`;
}

/**
 * Copies staged rows into the target, leaving out every row whose archived columns print exactly
 * like a row already in the range. Returns how many were inserted.
 */
export async function insertMissingFromStage(
  sql: Db,
  target: TableRef,
  columns: string[],
  range: RangeRef,
): Promise<number> {
  const result = await sql`
    insert into ${sql(target.schema)}.${sql(target.table)} (${sql(columns)})
    select s.* from (select ${sql(columns)} from ${sql(STAGE_TABLE.schema)}.${sql(STAGE_TABLE.table)}) as s
    where ${notInRange(sql, target, columns, range)}`;
  return result.count;
}

/** Staged rows with no identical row in the target's range: 0 after a complete restore. */
export async function stagedRowsMissing(
  sql: Db,
  target: TableRef,
  columns: string[],
  range: RangeRef,
): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
    select count(*)::text as n
    from (select ${sql(columns)} from ${sql(STAGE_TABLE.schema)}.${sql(STAGE_TABLE.table)}) as s
    where ${notInRange(sql, target, columns, range)}`;
  return Number(row!.n);
}

/**
 * Declared `unknown` (not left unspecified): the driver would otherwise learn each parameter's
 * column type and re-serialise the text through a JavaScript Date or number, losing microseconds,
 * BC years and infinities. As `unknown` the text reaches the column's own input function as it is.
 */
const UNKNOWN_OID = 705;

/** Rows as text parameters: the server parses each with the column's own input function. */
export async function insertTextRows(
  sql: Db,
  target: TableRef,
  columns: string[],
  rows: Array<Array<string | null>>,
): Promise<void> {
  // fromEntries defines own properties: a column named __proto__ stays a column.
  const records = rows.map((row) =>
    Object.fromEntries(
      columns.map((name, i) => [name, row[i] == null ? null : sql.typed(row[i]!, UNKNOWN_OID)]),
    ),
  );
  await sql`insert into ${sql(target.schema)}.${sql(target.table)} ${sql(records, columns)}`;
}

/** A COPY FROM STDIN (text format) stream into the target's columns. */
export async function copyIn(sql: Db, target: TableRef, columns: string[]) {
  return sql`copy ${sql(target.schema)}.${sql(target.table)} (${sql(columns)}) from stdin`.writable();
}

/**
 * Recreates a dropped range partition under its old name. DDL takes no parameters, so
 * PostgreSQL's format() quotes the identifiers and bounds, not this code.
 */
export async function createRangePartition(
  sql: Db,
  parent: TableRef,
  partition: TableRef,
  range: RangeRef,
): Promise<void> {
  const [row] = await sql<{ ddl: string }[]>`
    select format('create table %I.%I partition of %I.%I for values from (%L) to (%L)',
      ${partition.schema}::text, ${partition.table}::text, ${parent.schema}::text, ${parent.table}::text,
      ${range.start}::text, ${range.end}::text) as ddl`;
  await sql.unsafe(row!.ddl);
}

/**
 * Deletes the rows of a range and returns the content checksum of exactly the rows deleted, in
 * one statement: nothing inserted meanwhile can be deleted without being counted.
 */
export async function deleteRange(
  sql: Db,
  target: TableRef,
  columns: string[],
  range: RangeRef,
): Promise<ContentChecksum> {
  const [row] = await sql<{ row_count: string; checksum: string }[]>`
    with deleted as (delete from ${sql(target.schema)}.${sql(target.table)} where ${rangePredicate(sql, range)} returning *)
    select ${checksumSelect(sql)} from (select ${sql(columns)} from deleted) as t`;
  return toContentChecksum(row);
}

/** Only where TimescaleDB is installed (the view does not exist otherwise). */
export async function isHypertable(sql: Db, table: TableRef): Promise<boolean> {
  const [row] = await sql<{ yes: boolean }[]>`
    select exists (select 1 from timescaledb_information.hypertables
                   where hypertable_schema = ${table.schema} and hypertable_name = ${table.table}) as yes`;
  return row!.yes;
}

/** Hypertable chunks overlapping the range that hold no row (after a release deleted them). */
export async function emptyChunksInRange(
  sql: Db,
  hypertable: TableRef,
  range: RangeRef,
): Promise<TableRef[]> {
  const overlapping =
    range.dimension === 'integer'
      ? sql`range_start_integer < ${range.end}::bigint and range_end_integer > ${range.start}::bigint`
      : sql`range_start < ${range.end}::timestamptz and range_end > ${range.start}::timestamptz`;
  const chunks = await sql<{ chunk_schema: string; chunk_name: string }[]>`
    select chunk_schema, chunk_name from timescaledb_information.chunks
    where hypertable_schema = ${hypertable.schema} and hypertable_name = ${hypertable.table} and ${overlapping}`;
  const empty: TableRef[] = [];
  for (const c of chunks) {
    const [row] = await sql<{ empty: boolean }[]>`
      select not exists (select 1 from only ${sql(c.chunk_schema)}.${sql(c.chunk_name)}) as empty`;
    if (row!.empty) empty.push({ schema: c.chunk_schema, table: c.chunk_name });
  }
  return empty;
}

export async function dropTable(sql: Db, table: TableRef): Promise<void> {
  await sql`drop table ${sql(table.schema)}.${sql(table.table)}`;
}

/** For a staged row `s`: the target already holds a row with its primary key. */
function keyTaken(sql: Db, target: TableRef, key: string[]) {
  const same = key.map((c) => sql`t.${sql(c)} = s.${sql(c)}`).reduce((acc, part) => sql`${acc} and ${part}`);
  return sql`exists (select 1 from ${sql(target.schema)}.${sql(target.table)} as t where ${same})`;
}

/** Staged rows whose primary key the target already holds. */
export async function stagedKeysTaken(sql: Db, target: TableRef, key: string[]): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
    select count(*)::text as n from ${sql(STAGE_TABLE.schema)}.${sql(STAGE_TABLE.table)} as s
    where ${keyTaken(sql, target, key)}`;
  return Number(row!.n);
}

/** Copies the staged rows whose primary key the target does not hold yet; returns how many. */
export async function insertMissingKeys(
  sql: Db,
  target: TableRef,
  columns: string[],
  key: string[],
): Promise<number> {
  const result = await sql`
    insert into ${sql(target.schema)}.${sql(target.table)} (${sql(columns)})
    select ${sql(columns)} from ${sql(STAGE_TABLE.schema)}.${sql(STAGE_TABLE.table)} as s
    where not ${keyTaken(sql, target, key)}`;
  return result.count;
}
