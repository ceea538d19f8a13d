import { randomUUID } from 'node:crypto';
import { coerceError } from '@chunk-archiver/common';
import { buildArchivalRequest, type ChunkIdentity, TOPICS } from '@chunk-archiver/events';
import type postgres from 'postgres';
import { effectiveTable, type RetentionConfig, type TableConfig } from './config.js';
import { ledgerIdentity } from './ledger/identity.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase, TableConflict } from './managed-database.js';
import { boundOf, overlaps } from './range.js';
import { databaseNow, expiredHypertableChunks, expiredPartitions } from './sql/discovery.js';
import { dueChunks } from './sql/ledger.js';
import { activeHolds } from './sql/restores-ledger.js';
import { retentionPolicies } from './sql/timescale-guards.js';
import { markRequested, unmarkRequested } from './sql/transitions.js';

type Db = postgres.Sql | postgres.TransactionSql;

export interface QueuedChunk {
  database: string;
  table: string;
  chunk: string;
  range_start: string;
  range_end: string;
  event_id: string | null;
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
export async function tableConflicts(sql: Db, table: TableConfig): Promise<TableConflict[]> {
  if (table.kind !== 'timescaledb' || table.allow_retention_policy) return [];
  const jobs = await retentionPolicies(sql, table);
  return jobs.map((job) => ({
    kind: 'retention_policy',
    job_id: job.job_id,
    message: `TimescaleDB retention policy job ${job.job_id} (drop_after ${job.drop_after ?? '?'}) on ${tableKey(table)} would drop chunks unarchived; remove it (select remove_retention_policy('${tableKey(table)}')) or set allow_retention_policy: true`,
  }));
}

/** The table's expired chunks, less those whose range holds restored rows (already archived). */
export async function discover(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: Db,
  table: TableConfig,
): Promise<ChunkIdentity[]> {
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
export function queued(chunk: ChunkIdentity, eventId: string | null): QueuedChunk {
  return {
    database: chunk.database,
    table: `${chunk.table_schema}.${chunk.table_name}`,
    chunk: `${chunk.chunk_schema}.${chunk.chunk_name}`,
    range_start: chunk.chunk_start_time,
    range_end: chunk.chunk_end_time,
    event_id: eventId,
  };
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
      out.push(queued(ledgerIdentity(db.name, marked), null));
      continue;
    }
    const identity = ledgerIdentity(db.name, marked);
    const event = buildArchivalRequest(
      {
        ...identity,
        attempt: marked.attempts,
        requested_at: new Date().toISOString(),
      },
      { producer: ctx.producer, secret: ctx.secret, eventId },
    );
    try {
      await ctx.publish(TOPICS.archivalRequest, event);
    } catch (error) {
      await unmarkRequested(sql, row.id, eventId, coerceError(error).message);
      throw error;
    }
    db.stats.chunks_requested++;
    out.push(queued(identity, eventId));
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
