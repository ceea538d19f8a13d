import type { TableConfig } from './config.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import { chunkLabel, discover, queued, requestDue, type SkippedChunk, skipReason } from './scan-steps.js';
import { runnableTables } from './scan-tables.js';
import type { ScannerDeps, ScanReport } from './scanner.js';
import { insertDiscovered, ledgerExists, tableLedger } from './sql/ledger.js';
import { expireRequests } from './sql/transitions.js';

/** Thrown to roll the dry run's transaction back once its report is complete. */
class DryRunRollback extends Error {}

/**
 * One database, as a preview: the same decisions as scanForReal (discovery, ledger inserts,
 * timeouts, requests up to the limit) inside one transaction that is then rolled back, so the
 * report is exactly what a real scan would request, and nothing is published, dropped or kept.
 */
export async function scanDryRun(
  deps: ScannerDeps,
  db: ManagedDatabase,
  tables: TableConfig[],
  report: ScanReport,
) {
  if (!(await ledgerExists(db.sql))) {
    // No ledger yet: everything expired would be new and pending.
    for (const table of await runnableTables(deps, db, db.sql, tables)) {
      const found = await discover(deps, db, db.sql, table);
      report.discovered.push(...found);
      report.requested.push(...found.map((c) => queued(c, null)));
    }
    return;
  }
  await db.sql
    .begin(async (tx) => {
      await tx`select set_config('lock_timeout', ${`${deps.config.defaults.lock_timeout_ms}ms`}, true)`;
      const free = await runnableTables(deps, db, tx, tables);
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
  const chunk = chunkLabel({ ...row, chunk_start_time: row.range_start, chunk_end_time: row.range_end });
  if (chosen.has(chunk) && row.state === 'requested') return [];
  const reason = skipReason(row) ?? 'due, beyond chunks_per_scan for this scan';
  return [{ table: `${row.table_schema}.${row.table_name}`, chunk, state: row.state, reason }];
}
