import {
  backoffDelay,
  coerceError,
  createSemaphore,
  failpoint,
  type Logger,
  sleep,
} from '@chunk-archiver/common';
import type postgres from 'postgres';
import type { TableConfig } from './config.js';
import { dropOptions, dropVerifiedChunk } from './drop-verified.js';
import type { DiscoveredChunk, LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import {
  discover,
  type QueuedChunk,
  queued,
  requestDue,
  type ScanContext,
  type SkippedChunk,
  skipReason,
  tableConflicts,
  tableKey,
} from './scan-steps.js';
import { archivedChunkIds, insertDiscovered, ledgerExists, tableLedger } from './sql/ledger.js';
import { expireRequests } from './sql/transitions.js';

export type { QueuedChunk, SkippedChunk } from './scan-steps.js';

export interface ScannerDeps extends ScanContext {
  databases: Map<string, ManagedDatabase>;
  logger: Logger;
}

export interface ScanReport {
  database: string;
  ok: boolean;
  standby?: boolean;
  error?: string;
  discovered: DiscoveredChunk[];
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
  return !name || name === table.name || name === tableKey(table);
}

/** Finds each table's conflicts, records them on the database, and returns the tables free to run. */
async function runnableTables(
  db: ManagedDatabase,
  sql: postgres.Sql | postgres.TransactionSql,
  tables: TableConfig[],
) {
  const free: TableConfig[] = [];
  for (const table of tables) {
    const conflicts = await tableConflicts(sql, table);
    if (conflicts.length) {
      db.conflicts.set(tableKey(table), conflicts);
      for (const c of conflicts) db.logger.error({ table: tableKey(table), job_id: c.job_id }, c.message);
    } else {
      db.conflicts.delete(tableKey(table));
      free.push(table);
    }
  }
  return free;
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
  const free = await runnableTables(db, db.sql, tables);
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
    if ((await dropVerifiedChunk(db, chunk.id, dropOptions(deps.config, db))) === 'dropped') report.dropped++;
  }
  for (const table of free)
    report.requested.push(...(await requestDue(deps, db, db.sql, table, { publish: true })));
}

/** Thrown to roll the dry run's transaction back once its report is complete. */
class DryRunRollback extends Error {}

/**
 * One database, as a preview: the same decisions as scanForReal (discovery, ledger inserts,
 * timeouts, requests up to the limit) inside one transaction that is then rolled back, so the
 * report is exactly what a real scan would request, and nothing is published, dropped or kept.
 */
async function scanDryRun(deps: ScannerDeps, db: ManagedDatabase, tables: TableConfig[], report: ScanReport) {
  if (!(await ledgerExists(db.sql))) {
    // No ledger yet: everything expired would be new and pending.
    for (const table of await runnableTables(db, db.sql, tables)) {
      const found = await discover(deps, db, db.sql, table);
      report.discovered.push(...found);
      report.requested.push(...found.map((c) => queued(db, c, null)));
    }
    return;
  }
  await db.sql
    .begin(async (tx) => {
      await tx`select set_config('lock_timeout', ${`${deps.config.defaults.lock_timeout_ms}ms`}, true)`;
      const free = await runnableTables(db, tx, tables);
      for (const table of free) {
        const found = await discover(deps, db, tx, table);
        report.discovered.push(...found);
        await insertDiscovered(tx, found);
      }
      await expireRequests(tx, deps.config.defaults.request_timeout_s);
      for (const table of free) {
        const requested = await requestDue(deps, db, tx, table, { publish: false });
        report.requested.push(...requested);
        const chosen = new Set(requested.map((q) => q.chunk));
        for (const row of await tableLedger(tx, table)) report.skipped.push(...skipped(row, chosen));
      }
      throw new DryRunRollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof DryRunRollback)) throw error;
    });
}

function skipped(row: LedgerChunk, chosen: Set<string>): SkippedChunk[] {
  const chunk = `${row.chunk_schema}.${row.chunk_name}`;
  if (chosen.has(chunk) && row.state === 'requested') return [];
  const reason = skipReason(row) ?? 'due, beyond chunks_per_scan for this scan';
  return [{ table: `${row.table_schema}.${row.table_name}`, chunk, state: row.state, reason }];
}

/**
 * The retention loop: each database it leads is scanned on its own; a database that fails is
 * reported and skipped, and the others carry on.
 */
export function createScanner(deps: ScannerDeps) {
  const abort = new AbortController();
  let loops: Promise<void>[] | undefined;
  const { config } = deps;
  const slots = createSemaphore(config.parallel_databases ? config.max_parallel_databases : 1);
  const scanTimeoutMs = config.defaults.scan_timeout_s * 1000;

  /** One database's scan, bounded: a database that stops answering fails its scan, not the others'. */
  function scanDatabase(db: ManagedDatabase, filter: ScanFilter): Promise<ScanReport> {
    return db
      .bounded('scan', scanTimeoutMs, () => scanDatabaseUnbounded(db, filter))
      .catch((error: unknown) => {
        const err = coerceError(error);
        db.stats.scans_failed++;
        db.stats.last_scan_error = err.message;
        db.stats.last_scan_finished_at = new Date().toISOString();
        db.logger.error({ err }, 'scan failed for this database; the others continue');
        return {
          database: db.name,
          ok: false,
          error: err.message,
          discovered: [],
          requested: [],
          skipped: [],
          dropped: 0,
        };
      });
  }

  async function scanDatabaseUnbounded(db: ManagedDatabase, filter: ScanFilter): Promise<ScanReport> {
    const report: ScanReport = {
      database: db.name,
      ok: true,
      discovered: [],
      requested: [],
      skipped: [],
      dropped: 0,
    };
    const dryRun = filter.dryRun ?? config.dry_run;
    const tables = db.config.tables.filter((t) => t.enabled && tableMatches(t, filter.table));
    db.stats.last_scan_started_at = new Date().toISOString();
    db.stats.scans++;
    try {
      if (dryRun) {
        await scanDryRun(deps, db, tables, report);
        return report;
      }
      if (!(await db.leader.ensure())) {
        db.stats.standby = true;
        report.standby = true;
        return report;
      }
      db.stats.standby = false;
      await scanForReal(deps, db, tables, report);
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
    const reports = await Promise.all(targets.map((db) => slots(() => scanDatabase(db, filter))));
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
        const report = await slots(() => scanDatabase(db, {}));
        failures = report.ok ? 0 : failures + 1;
      } catch (error) {
        failures++;
        deps.logger.error({ err: coerceError(error), database: db.name }, 'scan loop error');
      }
      const wait = failures
        ? backoffDelay(failures, { initialMs: intervalMs, maxMs: intervalMs * 10, factor: 2, jitter: 0.2 })
        : intervalMs;
      await sleep(wait, abort.signal);
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
