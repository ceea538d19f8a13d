import type postgres from 'postgres';
import { hasTimescaleDb } from './catalog.js';

type Db = postgres.Sql | postgres.TransactionSql;

/** What the catalog says about a table configured as `kind: table`. */
export interface PlainTableFacts {
  oid: string;
  /** pg_class.relkind: `r` for an ordinary table, `p` for a partitioned parent, ... */
  relkind: string;
  /** A partition of a partitioned table (archived through its parent instead). */
  isPartition: boolean;
  /** A TimescaleDB hypertable or one of its chunks (archived as chunks instead). */
  isTimescale: boolean;
  /** The primary key's columns in key order; empty when the table has none. */
  primaryKey: string[];
  /** format_type() of the time column; undefined when the column does not exist. */
  timeType: string | undefined;
  /** Whether some valid btree index leads with the time column (the delete can use it). */
  timeIndexed: boolean;
}

interface FactsRow {
  oid: string;
  relkind: string;
  is_partition: boolean;
  time_type: string | null;
  time_indexed: boolean;
}

/** A table's primary key columns in key order; empty when it has none (or does not exist). */
export async function primaryKeyColumns(sql: Db, schema: string, table: string): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select a.attname::text as name
    from pg_index i
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = to_regclass(format('%I.%I', ${schema}::text, ${table}::text)) and i.indisprimary
    order by k.ord`;
  return rows.map((r) => r.name);
}

/** One read of the catalog: everything the manager and the worker check about a plain table. */
export async function plainTableFacts(
  sql: Db,
  schema: string,
  table: string,
  timeColumn: string,
): Promise<PlainTableFacts | undefined> {
  const [row] = await sql<FactsRow[]>`
    select c.oid::text as oid, c.relkind::text as relkind, c.relispartition as is_partition,
      (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
       where a.attrelid = c.oid and a.attname = ${timeColumn} and a.attnum > 0 and not a.attisdropped) as time_type,
      exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
              join pg_class ic on ic.oid = i.indexrelid join pg_am am on am.oid = ic.relam
              where i.indrelid = c.oid and i.indisvalid and am.amname = 'btree'
                and a.attname = ${timeColumn}) as time_indexed
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and c.relname = ${table}`;
  if (!row) return undefined;
  return {
    oid: row.oid,
    relkind: row.relkind,
    isPartition: row.is_partition,
    isTimescale: await isTimescaleRelation(sql, schema, table),
    primaryKey: await primaryKeyColumns(sql, schema, table),
    timeType: row.time_type ?? undefined,
    timeIndexed: row.time_indexed,
  };
}

/** A hypertable or a TimescaleDB chunk; false where TimescaleDB is not installed. */
async function isTimescaleRelation(sql: Db, schema: string, table: string): Promise<boolean> {
  // Two statements: a query naming the catalog would not even parse without the extension.
  if (!(await hasTimescaleDb(sql))) return false;
  const [row] = await sql<{ yes: boolean }[]>`
    select exists (select 1 from _timescaledb_catalog.hypertable where schema_name = ${schema} and table_name = ${table})
        or exists (select 1 from _timescaledb_catalog.chunk where schema_name = ${schema} and table_name = ${table}) as yes`;
  return row!.yes;
}

/** Time columns a window can be cut on: their bounds are ISO timestamps or epoch integers. */
const TIME_TYPES = ['timestamp with time zone', 'timestamp without time zone', 'date'];
const INTEGER_TYPES = ['bigint', 'integer', 'smallint'];

/** The window's dimension for a time column type; undefined for a type windows cannot cut. */
export function windowDimension(timeType: string): 'timestamp' | 'integer' | undefined {
  const base = timeType.replace(/\(\d+\)/, '');
  if (TIME_TYPES.includes(base)) return 'timestamp';
  if (INTEGER_TYPES.includes(base)) return 'integer';
  return undefined;
}

/**
 * Why the table cannot be archived in windows (undefined when it can): a missing table, another
 * kind of table, or a time column that is missing or of another type. Whether it has a key is the
 * manager's question (missingKeyReason): only it knows the configured primary_key.
 */
export function notPlainReason(
  facts: PlainTableFacts | undefined,
  name: string,
  timeColumn: string,
): string | undefined {
  if (!facts) return `table ${name} does not exist`;
  if (facts.isTimescale)
    return `${name} is a TimescaleDB hypertable or chunk; configure it as kind: timescaledb`;
  if (facts.relkind === 'p') return `${name} is partitioned; configure it as kind: partition`;
  if (facts.isPartition) return `${name} is a partition; configure its parent as kind: partition`;
  if (facts.relkind !== 'r') return `${name} is not an ordinary table (relkind ${facts.relkind})`;
  if (facts.timeType === undefined) return `${name} has no column ${timeColumn} (time_column)`;
  if (!windowDimension(facts.timeType))
    return `${name}.${timeColumn} is ${facts.timeType}; time_column must be timestamptz, timestamp, date or an integer epoch`;
  return undefined;
}

/** Restore and the operator's checks identify a plain table's rows by a key: its own or configured. */
export function missingKeyReason(
  facts: PlainTableFacts,
  name: string,
  configuredKey: string[] = [],
): string | undefined {
  if (facts.primaryKey.length > 0 || configuredKey.length > 0) return undefined;
  return `${name} has no primary key; a plain table is archived only with one (add it, or name columns that identify a row in primary_key)`;
}
