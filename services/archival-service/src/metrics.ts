import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters for both the JSON endpoint (people) and the Prometheus endpoint (scrapers). */
export function createArchivalMetrics() {
  const registry = new Registry();
  const archived = new Counter({
    name: 'archiver_chunks_archived_total',
    help: 'Chunks archived and verified',
    labelNames: ['database'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'archiver_chunks_failed_total',
    help: 'FAILED confirmations sent',
    labelNames: ['database', 'code'],
    registers: [registry],
  });
  const rows = new Counter({
    name: 'archiver_rows_archived_total',
    help: 'Rows written to Parquet',
    labelNames: ['database'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'archiver_bytes_written_total',
    help: 'Parquet bytes uploaded',
    labelNames: ['database'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'archiver_chunk_duration_seconds',
    help: 'Time to archive one chunk, extraction to manifest',
    labelNames: ['database'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'archiver_chunks_in_flight',
    help: 'Chunks being archived now',
    registers: [registry],
  });

  const totals = {
    archived: 0,
    failed: 0,
    rows: 0,
    bytes: 0,
    in_flight: 0,
    durations_seconds: [] as number[],
    failures_by_code: {} as Record<string, number>,
  };

  return {
    registry,
    started() {
      totals.in_flight++;
      inFlight.inc();
    },
    finished() {
      totals.in_flight--;
      inFlight.dec();
    },
    archived(database: string, rowCount: number, byteCount: number, seconds: number) {
      totals.archived++;
      totals.rows += rowCount;
      totals.bytes += byteCount;
      totals.durations_seconds.push(seconds);
      if (totals.durations_seconds.length > 1000) totals.durations_seconds.shift();
      archived.inc({ database });
      rows.inc({ database }, rowCount);
      bytes.inc({ database }, byteCount);
      duration.observe({ database }, seconds);
    },
    failed(database: string, code: string) {
      totals.failed++;
      totals.failures_by_code[code] = (totals.failures_by_code[code] ?? 0) + 1;
      failed.inc({ database, code });
    },
    snapshot() {
      const d = [...totals.durations_seconds].sort((a, b) => a - b);
      const pick = (q: number) => (d.length ? d[Math.min(d.length - 1, Math.floor(q * d.length))] : null);
      return {
        archived: totals.archived,
        failed: totals.failed,
        rows: totals.rows,
        bytes: totals.bytes,
        in_flight: totals.in_flight,
        failures_by_code: totals.failures_by_code,
        duration_seconds: { count: d.length, p50: pick(0.5), p95: pick(0.95), max: d.at(-1) ?? null },
      };
    },
  };
}

export type ArchivalMetrics = ReturnType<typeof createArchivalMetrics>;
