import { coerceError, withDeadline } from '@chunk-archiver/common';
import { CHUNK_STATES, type ChunkState } from './ledger/types.js';
import type { ManagedDatabase, TableConflict } from './managed-database.js';
import {
  latestWindows,
  ledgerExists,
  nextDue,
  stateCounts,
  troubledChunks,
  waitingDrops,
} from './sql/ledger.js';

export interface TableStatus {
  table: string;
  kind: string;
  enabled: boolean;
  chunks: Record<ChunkState, number>;
  /** The range start of the oldest chunk waiting to be requested (pending only). */
  oldest_pending: string | null;
  /** The range start of the oldest chunk whose request is out, unanswered. */
  oldest_requested: string | null;
  rows_archived: number;
  bytes_archived: number;
  /** Why the table is not run (a TimescaleDB retention policy on it); empty when it is. */
  conflicts: TableConflict[];
  /** Archived chunks whose drop waits (a continuous aggregate not yet materialized, say). */
  waiting: Array<{ chunk: string; code: string | null; reason: string | null }>;
  /** What runs, but not as well as it could (a plain table without an index on its time column). */
  warnings: string[];
  /** A plain table's latest removed windows, newest first: the sizes chosen and how they went. */
  windows?: WindowReport[];
  /** A plain table's rows with a NULL time: in no window, never archived (null: not counted, no index). */
  null_time_rows?: number | null;
}

export interface WindowReport {
  range_start: string;
  range_end: string;
  expected_rows: number | null;
  rows: number;
  removal_ms: number | null;
}

/** The last scan of this process: its own figures, not a running total. */
export interface LastScan {
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  standby: boolean;
  discovered: number;
  requested: number;
  dropped: number;
}

/** This process's running totals since it started (the ledger in `tables` is the durable truth). */
export interface SinceStart {
  scans: number;
  scans_failed: number;
  chunks_discovered: number;
  chunks_requested: number;
  chunks_dropped: number;
  rows_archived: number;
}

export interface DatabaseStatus {
  database: string;
  ok: boolean;
  error: string | null;
  leader: boolean;
  /** Absent from the CLI's `status`, which reads the ledger only. */
  last_scan?: LastScan;
  since_start?: SinceStart;
  tables: TableStatus[];
  /** What the next scans will request, soonest first. */
  next_due: Array<{ id: string; table: string; chunk: string; state: string; due_at: string | null }>;
  failures: Array<{
    /** The ledger id: what `retry` takes. */
    id: string;
    table: string;
    chunk: string;
    state: string;
    attempts: number;
    error_code: string | null;
    error: string | null;
    next_attempt_at: string | null;
  }>;
}

function processViews(stats: ManagedDatabase['stats']): { last_scan: LastScan; since_start: SinceStart } {
  return {
    last_scan: {
      started_at: stats.last_scan_started_at,
      finished_at: stats.last_scan_finished_at,
      error: stats.last_scan_error,
      standby: stats.standby,
      discovered: stats.last_scan_discovered,
      requested: stats.last_scan_requested,
      dropped: stats.last_scan_dropped,
    },
    since_start: {
      scans: stats.scans,
      scans_failed: stats.scans_failed,
      chunks_discovered: stats.chunks_discovered,
      chunks_requested: stats.chunks_requested,
      chunks_dropped: stats.chunks_dropped,
      rows_archived: stats.rows_archived,
    },
  };
}

async function databaseStatus(
  db: ManagedDatabase,
  timeoutMs: number,
  withProcess: boolean,
): Promise<DatabaseStatus> {
  const base = {
    database: db.name,
    leader: db.leader.isLeader(),
    ...(withProcess ? processViews(db.stats) : {}),
  };
  const tables = new Map<string, TableStatus>(
    db.config.tables.map((t) => [
      `${t.schema}.${t.name}`,
      {
        table: `${t.schema}.${t.name}`,
        kind: t.kind,
        enabled: t.enabled,
        chunks: Object.fromEntries(CHUNK_STATES.map((s) => [s, 0])) as Record<ChunkState, number>,
        oldest_pending: null,
        oldest_requested: null,
        rows_archived: 0,
        bytes_archived: 0,
        conflicts: db.conflicts.get(`${t.schema}.${t.name}`) ?? [],
        waiting: [],
        warnings: db.warnings.get(`${t.schema}.${t.name}`) ?? [],
        ...(t.kind === 'table'
          ? { windows: [], null_time_rows: db.nullTimeRows.get(`${t.schema}.${t.name}`) ?? null }
          : {}),
      },
    ]),
  );
  try {
    // Bounded: a database that does not answer is reported as such, and status still answers.
    return await withDeadline(ledgerStatus(db, base, tables), timeoutMs, `database ${db.name}: status`);
  } catch (err) {
    return {
      ...base,
      ok: false,
      error: coerceError(err).message,
      tables: [...tables.values()],
      next_due: [],
      failures: [],
    };
  }
}

async function ledgerStatus(
  db: ManagedDatabase,
  base: Pick<DatabaseStatus, 'database' | 'leader' | 'last_scan' | 'since_start'>,
  tables: Map<string, TableStatus>,
): Promise<DatabaseStatus> {
  {
    const failures: DatabaseStatus['failures'] = [];
    const next_due: DatabaseStatus['next_due'] = [];
    if (await ledgerExists(db.sql)) {
      for (const c of await stateCounts(db.sql)) {
        const key = `${c.table_schema}.${c.table_name}`;
        const entry = tables.get(key);
        if (!entry) continue;
        entry.chunks[c.state] = c.chunks;
        if (c.state === 'pending') entry.oldest_pending = c.oldest_range_start;
        if (c.state === 'requested') entry.oldest_requested = c.oldest_range_start;
        if (c.state === 'dropped' || c.state === 'archived') {
          entry.rows_archived += Number(c.rows ?? 0);
          entry.bytes_archived += Number(c.bytes ?? 0);
        }
      }
      for (const w of await waitingDrops(db.sql)) {
        tables.get(`${w.table_schema}.${w.table_name}`)?.waiting.push({
          chunk: `${w.chunk_schema}.${w.chunk_name}`,
          code: w.last_error_code,
          reason: w.last_error,
        });
      }
      for (const w of await latestWindows(db.sql, 5)) {
        tables.get(`${w.table_schema}.${w.table_name}`)?.windows?.push({
          range_start: w.range_start,
          range_end: w.range_end,
          expected_rows: w.expected_rows === null ? null : Number(w.expected_rows),
          rows: Number(w.row_count),
          removal_ms: w.removal_ms,
        });
      }
      for (const d of await nextDue(db.sql)) {
        next_due.push({
          id: String(d.id),
          table: `${d.table_schema}.${d.table_name}`,
          chunk: `${d.chunk_schema}.${d.chunk_name}`,
          state: d.state,
          due_at: d.next_attempt_at?.toISOString() ?? null,
        });
      }
      for (const t of await troubledChunks(db.sql)) {
        failures.push({
          id: String(t.id),
          table: `${t.table_schema}.${t.table_name}`,
          chunk: `${t.chunk_schema}.${t.chunk_name}`,
          state: t.state,
          attempts: t.attempts,
          error_code: t.last_error_code,
          error: t.last_error,
          next_attempt_at: t.next_attempt_at?.toISOString() ?? null,
        });
      }
    }
    const error = db.stats.last_scan_error;
    return { ...base, ok: error === null, error, tables: [...tables.values()], next_due, failures };
  }
}

/**
 * What `GET /database/retention/status` shows, and (with `withProcess: false`, the ledger's truth
 * only) the CLI's `status`: a CLI process has scanned nothing, so its own counters would mislead.
 */
export async function retentionStatus(
  databases: Map<string, ManagedDatabase>,
  dryRun: boolean,
  timeoutMs = 1_500,
  withProcess = true,
) {
  const database_stats = await Promise.all(
    [...databases.values()].map((db) => databaseStatus(db, timeoutMs, withProcess)),
  );
  const scanned = database_stats.filter((d) => d.ok && (d.since_start?.scans ?? 0) > 0);
  return {
    generated_at: new Date().toISOString(),
    dry_run: dryRun,
    ...(withProcess
      ? {
          databases_processed: scanned.length,
          tables_processed: scanned.reduce((n, d) => n + d.tables.filter((t) => t.enabled).length, 0),
        }
      : {}),
    databases_failed: database_stats.filter((d) => !d.ok).length,
    rows_archived: database_stats.reduce((n, d) => n + d.tables.reduce((m, t) => m + t.rows_archived, 0), 0),
    database_stats,
  };
}
