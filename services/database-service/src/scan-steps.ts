import { randomUUID } from 'node:crypto';
import { coerceError } from '@chunk-archiver/common';
import { buildArchivalRequest, type ChunkIdentity, TOPICS } from '@chunk-archiver/events';
import type postgres from 'postgres';
import { effectiveTable, type RetentionConfig, type TableConfig, windowSettings } from './config.js';
import { tableFormat } from './iceberg/format.js';
import { ledgerIdentity } from './ledger/identity.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase, TableConflict } from './managed-database.js';
import { boundOf, overlaps } from './range.js';
import { databaseNow, expiredHypertableChunks, expiredPartitions } from './sql/discovery.js';
import { dueChunks } from './sql/ledger.js';
import { activeHolds } from './sql/restores-ledger.js';
import { retentionPolicies } from './sql/timescale-guards.js';
import { markRequested, unmarkRequested } from './sql/transitions.js';
import { nullTimeRows } from './sql/windows.js';
import { type CutWindow, cutWindows } from './windows/cut.js';
import { inspectWindowTable } from './windows/inspect.js';

type Db = postgres.Sql | postgres.TransactionSql;

export interface QueuedChunk {
  database: string;
  table: string;
  chunk: string;
  range_start: string;
  range_end: string;
  event_id: string | null;
  /** A plain table's window: the rows it was cut for. */
  expected_rows?: number;
}

export interface SkippedChunk {
  table: string;
  chunk: string;
  state: string;
  reason: string;
}

export interface ScanContext {
  config: RetentionConfig;
  publish: (topic: string, event: unknown) => Promise<unknown>;
  secret?: string | undefined;
  producer: string;
}

export const tableKey = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;

/**
 * Why a table must not be run at all, found afresh at every scan: a TimescaleDB retention policy
 * on it would drop chunks unarchived, so this archiver leaves the table alone (it neither archives
 * nor drops) until the policy is removed or `allow_retention_policy` says a person accepts it.
 */
export async function tableConflicts(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: Db,
  table: TableConfig,
): Promise<TableConflict[]> {
  if (table.kind === 'table') {
    const plan = await windowPlan(ctx, db, sql, table);
    if ('conflict' in plan) return [{ kind: 'not_plain_table', message: plan.conflict }];
    if (plan.warnings.length) db.warnings.set(tableKey(table), plan.warnings);
    else db.warnings.delete(tableKey(table));
    for (const warning of plan.warnings) db.logger.warn({ table: tableKey(table) }, warning);
    // Through the time column's index; without one this would scan the table at every scan.
    if (plan.timeIndexed)
      db.nullTimeRows.set(tableKey(table), await nullTimeRows(sql, plan.table, plan.column));
    return [];
  }
  if (table.kind !== 'timescaledb' || table.allow_retention_policy) return [];
  const jobs = await retentionPolicies(sql, table);
  return jobs.map((job) => ({
    kind: 'retention_policy',
    job_id: job.job_id,
    message: `TimescaleDB retention policy job ${job.job_id} (drop_after ${job.drop_after ?? '?'}) on ${tableKey(table)} would drop chunks unarchived; remove it (select remove_retention_policy('${tableKey(table)}')) or set allow_retention_policy: true`,
  }));
}

/** A plain table's catalog facts and cutoff, or why it cannot be run. */
async function windowPlan(ctx: ScanContext, db: ManagedDatabase, sql: Db, table: TableConfig) {
  const eff = effectiveTable(ctx.config, db.config, table);
  const retention = { days: eff.retentionDays, integer: eff.retentionInteger };
  return inspectWindowTable(sql, table, retention, await databaseNow(sql));
}

/**
 * A plain table's next windows: cut from the ledger's frontier, as many as leave at most
 * chunks_per_scan of its windows open.
 */
async function discoverWindows(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: Db,
  table: TableConfig,
): Promise<CutWindow[]> {
  const plan = await windowPlan(ctx, db, sql, table);
  if ('conflict' in plan) return [];
  const eff = effectiveTable(ctx.config, db.config, table);
  return cutWindows(sql, db.name, plan, windowSettings(table), eff.chunksPerScan);
}

/** The table's expired chunks, less those whose range holds restored rows (already archived). */
export async function discover(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: Db,
  table: TableConfig,
): Promise<ChunkIdentity[]> {
  if (table.kind === 'table') return withoutHeld(sql, table, await discoverWindows(ctx, db, sql, table));
  const eff = effectiveTable(ctx.config, db.config, table);
  const target = {
    database: db.name,
    schema: table.schema,
    name: table.name,
    retentionDays: eff.retentionDays,
    retentionInteger: eff.retentionInteger,
  };
  const now = await databaseNow(sql);
  const expired =
    table.kind === 'timescaledb'
      ? await expiredHypertableChunks(sql, target, now)
      : await expiredPartitions(sql, target, now);
  return withoutHeld(sql, table, expired);
}

/** Chunks less those whose range holds rows a restore brought back (already archived). */
async function withoutHeld<C extends ChunkIdentity>(sql: Db, table: TableConfig, expired: C[]): Promise<C[]> {
  const holds = await activeHolds(sql, table.schema, table.name);
  if (holds.length === 0) return expired;
  return expired.filter(
    (chunk) =>
      !holds.some((h) =>
        overlaps(
          boundOf(chunk.chunk_start_time, chunk.dimension_type),
          boundOf(chunk.chunk_end_time, chunk.dimension_type),
          boundOf(h.range_start, h.dimension_type),
          boundOf(h.range_end, h.dimension_type),
        ),
      ),
  );
}

/** A chunk as a scan reports it: requested with its event id, or (a dry run) that would be. */
export function queued(
  chunk: ChunkIdentity & { expected_rows?: number | string | null | undefined },
  eventId: string | null,
): QueuedChunk {
  return {
    database: chunk.database,
    table: `${chunk.table_schema}.${chunk.table_name}`,
    chunk: chunkLabel(chunk),
    range_start: chunk.chunk_start_time,
    range_end: chunk.chunk_end_time,
    event_id: eventId,
    ...(chunk.source_kind === 'table' ? { expected_rows: Number(chunk.expected_rows ?? 0) } : {}),
  };
}

/** How a chunk is named to people: `schema.chunk`, or `schema.table[start, end)` for a window. */
export function chunkLabel(
  chunk: Pick<
    ChunkIdentity,
    'source_kind' | 'chunk_schema' | 'chunk_name' | 'chunk_start_time' | 'chunk_end_time'
  >,
): string {
  const name = `${chunk.chunk_schema}.${chunk.chunk_name}`;
  return chunk.source_kind === 'table' ? `${name}[${chunk.chunk_start_time}, ${chunk.chunk_end_time})` : name;
}

/** The archival request for a ledger row, carried by `eventId` (a new one, or the ledger's own). */
export function requestEvent(
  ctx: ScanContext,
  database: string,
  row: LedgerChunk,
  eventId: string,
  requestedAt: Date,
) {
  const db = ctx.config.databases[database];
  const iceberg = db !== undefined && tableFormat(db, row) === 'iceberg';
  return buildArchivalRequest(
    {
      ...ledgerIdentity(database, row),
      attempt: row.attempts,
      requested_at: requestedAt.toISOString(),
      ...(iceberg ? { archive_format: 'iceberg' as const } : {}),
    },
    { producer: ctx.producer, secret: ctx.secret, eventId },
  );
}

/**
 * Marks the table's due chunks requested and publishes their requests, up to the per-scan limit.
 * With `publish: false` (a dry run, inside a transaction that is rolled back) it decides exactly
 * the same and sends nothing.
 */
export async function requestDue(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: Db,
  table: TableConfig,
  options: { publish: boolean },
): Promise<QueuedChunk[]> {
  const eff = effectiveTable(ctx.config, db.config, table);
  const out: QueuedChunk[] = [];
  for (const row of await dueChunks(sql, table, eff.chunksPerScan)) {
    const eventId = randomUUID();
    const marked = await markRequested(sql, row.id, eventId);
    if (!marked) continue;
    if (!options.publish) {
      out.push(queued({ ...ledgerIdentity(db.name, marked), expected_rows: marked.expected_rows }, null));
      continue;
    }
    const identity = ledgerIdentity(db.name, marked);
    const event = requestEvent(ctx, db.name, marked, eventId, new Date());
    try {
      await ctx.publish(TOPICS.archivalRequest, event);
    } catch (error) {
      await unmarkRequested(sql, row.id, eventId, coerceError(error).message);
      throw error;
    }
    db.stats.chunks_requested++;
    out.push(queued({ ...identity, expected_rows: marked.expected_rows }, eventId));
  }
  return out;
}

/** Why a known chunk is not requested by this scan, for a dry run's report. */
export function skipReason(row: LedgerChunk): string | undefined {
  switch (row.state) {
    case 'requested':
      return `in flight since ${row.requested_at?.toISOString() ?? '?'} (event ${row.request_event_id})`;
    case 'archived':
      return row.last_error_code
        ? `archived; drop deferred: ${row.last_error}`
        : 'archived; its drop is attempted (after a recount under lock)';
    case 'dropped':
      return 'already archived and dropped';
    case 'dead':
      return `dead after ${row.attempts} attempts: ${row.last_error_code ?? ''} ${row.last_error ?? ''}`.trim();
    case 'failed':
      return `failed; next attempt at ${row.next_attempt_at?.toISOString() ?? '?'}`;
    default:
      return undefined;
  }
}
