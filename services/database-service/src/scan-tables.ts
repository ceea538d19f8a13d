import type postgres from 'postgres';
import type { TableConfig } from './config.js';
import type { ManagedDatabase } from './managed-database.js';
import { type ScanContext, tableConflicts, tableKey } from './scan-steps.js';

/** Finds each table's conflicts, records them on the database, and returns the tables free to run. */
export async function runnableTables(
  ctx: ScanContext,
  db: ManagedDatabase,
  sql: postgres.Sql | postgres.TransactionSql,
  tables: TableConfig[],
) {
  const free: TableConfig[] = [];
  for (const table of tables) {
    const conflicts = await tableConflicts(ctx, db, sql, table);
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
