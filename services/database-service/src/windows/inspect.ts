import {
  listColumns,
  missingKeyReason,
  notPlainReason,
  plainTableFacts,
  windowDimension,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { TableConfig } from '../config.js';

type Db = postgres.Sql | postgres.TransactionSql;

/** What a scan needs to cut a plain table into windows, read from the catalog at every scan. */
export interface WindowPlan {
  table: { schema: string; name: string };
  column: string;
  dimension: 'timestamp' | 'integer';
  oid: string;
  primaryKey: string[];
  timeIndexed: boolean;
  /** Rows strictly before this are expired: epoch ms for time columns, the column's units for integers. */
  cutoff: number;
  warnings: string[];
}

/** How many units of an integer epoch column make one millisecond. */
const UNITS_PER_MS = { s: 1 / 1000, ms: 1, us: 1000 } as const;

/** The table is not archived: why, naming the configuration key to change where there is one. */
export interface WindowRefusal {
  conflict: string;
}

function cutoffOf(
  table: TableConfig,
  dimension: 'timestamp' | 'integer',
  retention: { days: number; integer?: number | undefined },
  now: Date,
): number | WindowRefusal {
  const name = `${table.schema}.${table.name}`;
  if (dimension === 'timestamp') return now.getTime() - retention.days * 86_400_000;
  if (!table.time_unit)
    return {
      conflict: `${name}.${table.time_column} is an integer: set time_unit (s, ms or us) so retention_days can be turned into its units`,
    };
  const perMs = UNITS_PER_MS[table.time_unit];
  const span = retention.integer ?? retention.days * 86_400_000 * perMs;
  return Math.floor(now.getTime() * perMs) - span;
}

/**
 * Reads the catalog for a `kind: table` entry: the table must be an ordinary table with a window
 * time column and a primary key (configured or its own). A missing index on the time column is a
 * warning: every window's delete would scan the whole table.
 */
export async function inspectWindowTable(
  sql: Db,
  table: TableConfig,
  retention: { days: number; integer?: number | undefined },
  now: Date,
): Promise<WindowPlan | WindowRefusal> {
  const name = `${table.schema}.${table.name}`;
  const column = table.time_column!;
  const facts = await plainTableFacts(sql, table.schema, table.name, column);
  const reason = notPlainReason(facts, name, column);
  if (reason || !facts) return { conflict: reason ?? `table ${name} does not exist` };
  const keyless = missingKeyReason(facts, name, table.primary_key);
  if (keyless) return { conflict: keyless };
  if (table.primary_key) {
    const known = new Set((await listColumns(sql, table.schema, table.name)).map((c) => c.name));
    const missing = table.primary_key.filter((c) => !known.has(c));
    if (missing.length)
      return { conflict: `primary_key names ${missing.join(', ')}, not columns of ${name}` };
  }
  const dimension = windowDimension(facts.timeType!)!;
  const cutoff = cutoffOf(table, dimension, retention, now);
  if (typeof cutoff !== 'number') return cutoff;
  const warnings = facts.timeIndexed
    ? []
    : [
        `no index leads with ${name}.${column}: every window's delete scans the whole table; create index on ${name} (${column})`,
      ];
  return {
    table: { schema: table.schema, name: table.name },
    column,
    dimension,
    oid: facts.oid,
    primaryKey: table.primary_key ?? facts.primaryKey,
    timeIndexed: facts.timeIndexed,
    cutoff,
    warnings,
  };
}

/** A bound as identities carry it: an ISO timestamp, or the integer's decimal text. */
export function boundText(plan: Pick<WindowPlan, 'dimension'>, value: number): string {
  return plan.dimension === 'integer' ? String(Math.floor(value)) : new Date(value).toISOString();
}

/** The other direction of boundText. */
export function boundValue(plan: Pick<WindowPlan, 'dimension'>, text: string): number {
  return plan.dimension === 'integer' ? Number(text) : Date.parse(text);
}
