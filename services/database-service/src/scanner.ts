import { randomUUID } from 'node:crypto';
import { coerceError, failpoint, type Logger, sleep } from '@chunk-archiver/common';
import { buildArchivalRequest, TOPICS } from '@chunk-archiver/events';
import { effectiveTable, type RetentionConfig, type TableConfig } from './config.js';
import { dropOptions, dropVerifiedChunk } from './drop-verified.js';
import type { DiscoveredChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import { boundOf, overlaps } from './restore/range.js';
import { databaseNow, expiredHypertableChunks, expiredPartitions } from './sql/discovery.js';
import {
  archivedChunkIds,
  dueChunks,
  expireRequests,
  insertDiscovered,
  markRequested,
  recordEvent,
  unmarkRequested,
} from './sql/ledger.js';
import { activeHolds } from './sql/restores-ledger.js';

export interface ScannerDeps {
  databases: Map<string, ManagedDatabase>;
  config: RetentionConfig;
  publish: (topic: string, event: unknown) => Promise<unknown>;
  logger: Logger;
  secret?: string | undefined;
  producer: string;
}

export interface QueuedChunk {
  database: string;
  table: string;
  chunk: string;
  range_start: string;
  range_end: string;
  event_id: string | null;
}

export interface ScanReport {
  database: string;
  ok: boolean;
  standby?: boolean;
  error?: string;
  discovered: DiscoveredChunk[];
  requested: QueuedChunk[];
  dropped: number;
}

export interface ScanFilter {
  database?: string | undefined;
  table?: string | undefined;
  dryRun?: boolean | undefined;
}

/** Runs `tasks` with at most `limit` at once. */
async function withLimit<T>(limit: number, items: T[], task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
    }),
  );
}

function tableMatches(table: TableConfig, name: string | undefined): boolean {
  return !name || name === table.name || name === `${table.schema}.${table.name}`;
}

/**
 * The retention loop: for each database it leads, find expired chunks, record them, re-request
 * what timed out, finish verified drops left half-done, and request up to the per-scan limit.
 * A database that fails is reported and skipped; the others carry on.
 */
export function createScanner(deps: ScannerDeps) {
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  const { config } = deps;

  async function discover(db: ManagedDatabase, table: TableConfig): Promise<DiscoveredChunk[]> {
    const eff = effectiveTable(config, db.config, table);
    const target = {
      schema: table.schema,
      name: table.name,
      retentionDays: eff.retentionDays,
      retentionInteger: eff.retentionInteger,
    };
    const expired =
      table.kind === 'timescaledb'
        ? await expiredHypertableChunks(db.sql, target)
        : await expiredPartitions(db.sql, target, await databaseNow(db.sql));
    // Restored rows are already archived: archiving them again would put them in the archive twice.
    const holds = await activeHolds(db.sql, table.schema, table.name);
    if (holds.length === 0) return expired;
    return expired.filter((chunk) => {
      const hold = holds.find((h) =>
        overlaps(
          boundOf(chunk.range_start, chunk.dimension_type),
          boundOf(chunk.range_end, chunk.dimension_type),
          boundOf(h.range_start, h.dimension_type),
          boundOf(h.range_end, h.dimension_type),
        ),
      );
      if (hold) {
        db.logger.debug(
          { chunk: `${chunk.chunk_schema}.${chunk.chunk_name}`, restore_id: hold.id },
          'expired chunk holds restored rows; left alone until the restore is released',
        );
      }
      return !hold;
    });
  }

  async function requestDue(db: ManagedDatabase, table: TableConfig): Promise<QueuedChunk[]> {
    const eff = effectiveTable(config, db.config, table);
    const queued: QueuedChunk[] = [];
    for (const row of await dueChunks(db.sql, table, eff.chunksPerScan)) {
      const eventId = randomUUID();
      const marked = await markRequested(db.sql, row.id, eventId);
      if (!marked) continue;
      const event = buildArchivalRequest(
        {
          database: db.name,
          source_kind: marked.source_kind,
          table_schema: marked.table_schema,
          table_name: marked.table_name,
          chunk_schema: marked.chunk_schema,
          chunk_name: marked.chunk_name,
          time_column: marked.time_column,
          dimension_type: marked.dimension_type,
          chunk_start_time: marked.range_start,
          chunk_end_time: marked.range_end,
          attempt: marked.attempts,
          requested_at: new Date().toISOString(),
        },
        { producer: deps.producer, secret: deps.secret, eventId },
      );
      try {
        await deps.publish(TOPICS.archivalRequest, event);
      } catch (error) {
        await unmarkRequested(db.sql, row.id, eventId, coerceError(error).message);
        throw error;
      }
      await recordEvent(
        db.sql,
        row.id,
        row.state,
        'requested',
        `attempt ${marked.attempts}, event ${eventId}`,
      );
      db.stats.chunks_requested++;
      queued.push({
        database: db.name,
        table: `${marked.table_schema}.${marked.table_name}`,
        chunk: `${marked.chunk_schema}.${marked.chunk_name}`,
        range_start: marked.range_start,
        range_end: marked.range_end,
        event_id: eventId,
      });
    }
    return queued;
  }

  async function scanDatabase(db: ManagedDatabase, filter: ScanFilter): Promise<ScanReport> {
    const report: ScanReport = { database: db.name, ok: true, discovered: [], requested: [], dropped: 0 };
    const dryRun = filter.dryRun ?? config.dry_run;
    const tables = db.config.tables.filter((t) => t.enabled && tableMatches(t, filter.table));
    db.stats.last_scan_started_at = new Date().toISOString();
    db.stats.scans++;
    try {
      if (dryRun) {
        // Reads only: no ledger, no lock, no request, no drop.
        for (const table of tables) report.discovered.push(...(await discover(db, table)));
        report.requested = report.discovered.map((c) => ({
          database: db.name,
          table: `${c.table_schema}.${c.table_name}`,
          chunk: `${c.chunk_schema}.${c.chunk_name}`,
          range_start: c.range_start,
          range_end: c.range_end,
          event_id: null,
        }));
        return report;
      }
      if (!(await db.leader.ensure())) {
        db.stats.standby = true;
        report.standby = true;
        return report;
      }
      db.stats.standby = false;
      await db.ensureLedger();
      for (const table of tables) {
        const found = await discover(db, table);
        report.discovered.push(...found);
        db.stats.chunks_discovered += await insertDiscovered(db.sql, found);
        await failpoint('scan.mid-scan');
      }
      for (const expired of await expireRequests(db.sql, config.defaults.request_timeout_s)) {
        await recordEvent(db.sql, expired.id, 'requested', 'pending', 'request timed out');
        db.logger.warn(
          { chunk: `${expired.chunk_schema}.${expired.chunk_name}` },
          'archival request timed out; requesting again',
        );
      }
      // Drops a previous process verified the archive for but did not finish.
      for (const id of await archivedChunkIds(db.sql)) {
        if ((await dropVerifiedChunk(db, id, dropOptions(config, db))) === 'dropped') report.dropped++;
      }
      for (const table of tables) report.requested.push(...(await requestDue(db, table)));
      return report;
    } catch (error) {
      const err = coerceError(error);
      report.ok = false;
      report.error = err.message;
      db.stats.scans_failed++;
      db.stats.last_scan_error = err.message;
      db.logger.error({ err }, 'scan failed for this database; the others continue');
      return report;
    } finally {
      db.stats.last_scan_finished_at = new Date().toISOString();
      if (report.ok) db.stats.last_scan_error = null;
    }
  }

  async function scanOnce(filter: ScanFilter = {}): Promise<ScanReport[]> {
    const targets = [...deps.databases.values()].filter(
      (db) => db.config.enabled && (!filter.database || filter.database === db.name),
    );
    const reports: ScanReport[] = [];
    const limit = config.parallel_databases ? config.max_parallel_databases : 1;
    await withLimit(limit, targets, async (db) => {
      reports.push(await scanDatabase(db, filter));
    });
    return reports.sort((a, b) => a.database.localeCompare(b.database));
  }

  return {
    scanOnce,
    start(): void {
      loop ??= (async () => {
        while (!abort.signal.aborted) {
          try {
            await scanOnce();
          } catch (error) {
            deps.logger.error({ err: coerceError(error) }, 'scan loop error');
          }
          await sleep(config.defaults.check_interval_s * 1000, abort.signal);
        }
      })();
    },
    async stop(): Promise<void> {
      abort.abort();
      await loop;
    },
  };
}

export type Scanner = ReturnType<typeof createScanner>;
