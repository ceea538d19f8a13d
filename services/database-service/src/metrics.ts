import { Counter, Gauge, Registry } from 'prom-client';
import type { ManagedDatabase } from './managed-database.js';

export function createRetentionMetrics(databases?: Map<string, ManagedDatabase>) {
  const registry = new Registry();
  const refused = new Counter({
    name: 'retention_confirmations_refused_total',
    help: 'Confirmations refused because they do not match the ledger or storage, by reason',
    labelNames: ['database', 'reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'retention_table_conflicts',
    help: 'Tables not run because of a conflict (a TimescaleDB retention policy), per job',
    labelNames: ['database', 'table', 'kind', 'job_id'],
    registers: [registry],
    collect() {
      this.reset();
      for (const db of databases?.values() ?? []) {
        for (const [table, conflicts] of db.conflicts) {
          for (const c of conflicts)
            this.set(
              {
                database: db.name,
                table,
                kind: c.kind,
                job_id: c.job_id === undefined ? '' : String(c.job_id),
              },
              1,
            );
        }
      }
    },
  });
  const perTable = (
    name: string,
    help: string,
    values: (db: ManagedDatabase) => Iterable<[string, number]>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['database', 'table'],
      registers: [registry],
      collect() {
        this.reset();
        for (const db of databases?.values() ?? [])
          for (const [table, value] of values(db)) this.set({ database: db.name, table }, value);
      },
    });
  perTable(
    'retention_table_warnings',
    'Tables that run, but not as well as they could (a plain table without an index on its time column)',
    (db) => [...db.warnings].map(([table, w]) => [table, w.length]),
  );
  perTable(
    'retention_window_rows',
    "Rows of a plain table's last removed window (the adaptive size it was cut to)",
    (db) => [...db.lastWindows].map(([table, w]) => [table, w.rows]),
  );
  perTable(
    'retention_window_removal_seconds',
    "How long a plain table's last window's verified delete took",
    (db) => [...db.lastWindows].map(([table, w]) => [table, w.removalMs / 1000]),
  );
  const dropped = new Counter({
    name: 'retention_chunks_dropped_total',
    help: 'Chunks dropped after verification',
    labelNames: ['database'],
    registers: [registry],
  });
  const rows = new Counter({
    name: 'retention_rows_archived_total',
    help: 'Rows in chunks dropped after verification',
    labelNames: ['database'],
    registers: [registry],
  });
  return {
    registry,
    refused(database: string, reason: string) {
      refused.inc({ database, reason });
    },
    dropped(database: string, rowCount: number) {
      dropped.inc({ database });
      rows.inc({ database }, rowCount);
    },
  };
}
