import {
  backoffDelay,
  coerceError,
  createSemaphore,
  failpoint,
  type Logger,
  sleep,
} from '@chunk-archiver/common';
import type { ChunkIdentity } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import { namesTable, type TableConfig } from './config.js';
import { commitAndDrop } from './drop-archived.js';
import { dropOptions, dropVerifiedChunk } from './drop-verified.js';
import type { ManagedDatabase } from './managed-database.js';
import { scanDryRun } from './scan-dry-run.js';
import { discover, type QueuedChunk, requestDue, type ScanContext, type SkippedChunk } from './scan-steps.js';
import { runnableTables } from './scan-tables.js';
import { archivedChunkIds, insertDiscovered } from './sql/ledger.js';
import { expireRequests } from './sql/transitions.js';

export type { QueuedChunk, SkippedChunk } from './scan-steps.js';

export interface ScannerDeps extends ScanContext {
  databases: Map<string, ManagedDatabase>;
  /** Where archives are: an Iceberg table's chunk is committed there before its drop. */
  store?: BlobStore;
  logger: Logger;
}

export interface ScanReport {
  database: string;
  ok: boolean;
  standby?: boolean;
  error?: string;
  discovered: ChunkIdentity[];
  requested: QueuedChunk[];
  /** Dry run: known chunks that this scan would not request, and why. */
  skipped: SkippedChunk[];
  dropped: number;
}

export interface ScanFilter {
  database?: string | undefined;
  table?: string | undefined;
  dryRun?: boolean | undefined;
}

function tableMatches(table: TableConfig, name: string | undefined): boolean {
  return !name || namesTable(table, name);
}

/**
 * One database, for real: find expired chunks, record them, re-request what timed out, finish
 * verified drops left half-done, and request up to the per-scan limit.
 */
async function scanForReal(
  deps: ScannerDeps,
  db: ManagedDatabase,
  tables: TableConfig[],
  report: ScanReport,
) {
  await db.ensureLedger();
  const free = await runnableTables(deps, db, db.sql, tables);
  for (const table of free) {
    const found = await discover(deps, db, db.sql, table);
    report.discovered.push(...found);
    db.stats.chunks_discovered += await insertDiscovered(db.sql, found);
    await failpoint('scan.mid-scan');
  }
  for (const expired of await expireRequests(db.sql, deps.config.defaults.request_timeout_s)) {
    db.logger.warn(
      { chunk: `${expired.chunk_schema}.${expired.chunk_name}` },
      'archival request timed out; requesting again',
    );
  }
  // Drops a previous process verified the archive for but did not finish (or had to defer).
  const conflicted = new Set(db.conflicts.keys());
  for (const chunk of await archivedChunkIds(db.sql)) {
    if (conflicted.has(chunk.table)) continue;
    try {
      const outcome = deps.store
        ? await commitAndDrop({ store: deps.store, config: deps.config }, db, chunk.id)
        : await dropVerifiedChunk(db, chunk.id, dropOptions(deps.config, db));
      if (outcome === 'dropped') report.dropped++;
    } catch (error) {
      // One drop that cannot take its lock now (a long reader, a removal in another process)
      // is tried again at the next scan; the requests below still go out.
      db.logger.warn({ err: coerceError(error), chunk_id: chunk.id }, 'drop deferred to the next scan');
    }
  }
  for (const table of free)
    report.requested.push(...(await requestDue(deps, db, db.sql, table, { publish: true })));
}

/**
 * The retention loop: each database it leads is scanned on its own; a database that fails is
 * reported and skipped, and the others carry on.
 */
function emptyReport(db: ManagedDatabase): ScanReport {
  return { database: db.name, ok: true, discovered: [], requested: [], skipped: [], dropped: 0 };
}

/** A failed scan, on the database's books and in the log; the other databases carry on. */
function scanFailed(db: ManagedDatabase, report: ScanReport, error: unknown): ScanReport {
  const err = coerceError(error);
  report.ok = false;
  report.error = err.message;
  db.stats.scans_failed++;
  db.stats.last_scan_error = err.message;
  db.logger.error({ err }, 'scan failed for this database; the others continue');
  return report;
}

async function scanDatabaseUnbounded(
  deps: ScannerDeps,
  db: ManagedDatabase,
  filter: ScanFilter,
): Promise<ScanReport> {
  const report = emptyReport(db);
  const tables = db.config.tables.filter((t) => t.enabled && tableMatches(t, filter.table));
  db.stats.last_scan_started_at = new Date().toISOString();
  db.stats.scans++;
  try {
    if (filter.dryRun ?? deps.config.dry_run) {
      await scanDryRun(deps, db, tables, report);
      return report;
    }
    db.stats.standby = !(await db.leader.ensure());
    if (db.stats.standby) return { ...report, standby: true };
    await scanForReal(deps, db, tables, report);
    return report;
  } catch (error) {
    return scanFailed(db, report, error);
  } finally {
    db.stats.last_scan_finished_at = new Date().toISOString();
    if (report.ok) db.stats.last_scan_error = null;
    if (!(filter.dryRun ?? deps.config.dry_run)) {
      db.stats.last_scan_discovered = report.discovered.length;
      db.stats.last_scan_requested = report.requested.length;
      db.stats.last_scan_dropped = report.dropped;
    }
  }
}

/** One database's scan, bounded: a database that stops answering fails its scan, not the others'. */
function scanDatabase(deps: ScannerDeps, db: ManagedDatabase, filter: ScanFilter): Promise<ScanReport> {
  return db
    .bounded('scan', deps.config.defaults.scan_timeout_s * 1000, () =>
      scanDatabaseUnbounded(deps, db, filter),
    )
    .catch((error: unknown) => {
      db.stats.last_scan_finished_at = new Date().toISOString();
      return scanFailed(db, emptyReport(db), error);
    });
}

export function createScanner(deps: ScannerDeps) {
  const abort = new AbortController();
  let loops: Promise<void>[] | undefined;
  const { config } = deps;
  const slots = createSemaphore(config.parallel_databases ? config.max_parallel_databases : 1);

  async function scanOnce(filter: ScanFilter = {}): Promise<ScanReport[]> {
    const targets = [...deps.databases.values()].filter(
      (db) => db.config.enabled && (!filter.database || filter.database === db.name),
    );
    const reports = await Promise.all(targets.map((db) => slots(() => scanDatabase(deps, db, filter))));
    return reports.sort((a, b) => a.database.localeCompare(b.database));
  }

  /**
   * Each database on a loop of its own, so one that hangs or fails never delays another's scan;
   * one that keeps failing is scanned less often (back-off up to ten intervals), not given up.
   */
  async function loop(db: ManagedDatabase): Promise<void> {
    let failures = 0;
    const intervalMs = config.defaults.check_interval_s * 1000;
    while (!abort.signal.aborted) {
      try {
        const report = await slots(() => scanDatabase(deps, db, {}));
        failures = report.ok ? 0 : failures + 1;
      } catch (error) {
        failures++;
        deps.logger.error({ err: coerceError(error), database: db.name }, 'scan loop error');
      }
      const wait = failures
        ? backoffDelay(failures, { initialMs: intervalMs, maxMs: intervalMs * 10, factor: 2, jitter: 0.2 })
        : intervalMs;
      // A removed window wakes the loop: the next windows are cut and requested at once.
      if (failures) await sleep(wait, abort.signal);
      else await db.waitForWake(wait, abort.signal);
    }
  }

  return {
    scanOnce,
    start(): void {
      loops ??= [...deps.databases.values()].filter((db) => db.config.enabled).map((db) => loop(db));
    },
    async stop(): Promise<void> {
      abort.abort();
      await Promise.all(loops ?? []);
    },
  };
}

export type Scanner = ReturnType<typeof createScanner>;
