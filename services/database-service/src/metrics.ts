import { Counter, Registry } from 'prom-client';

export function createRetentionMetrics() {
  const registry = new Registry();
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
    dropped(database: string, rowCount: number) {
      dropped.inc({ database });
      rows.inc({ database }, rowCount);
    },
  };
}
