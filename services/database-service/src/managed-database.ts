import { DeadlineError, type Logger, sleep, withDeadline } from '@chunk-archiver/common';
import { connectDatabase } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { ManagedDatabaseConfig } from './config.js';
import { createLeaderLock, type LeaderLock } from './leader.js';
import { migrate } from './ledger/migrations.js';

export interface ScanStats {
  last_scan_started_at: string | null;
  last_scan_finished_at: string | null;
  last_scan_error: string | null;
  scans: number;
  scans_failed: number;
  chunks_discovered: number;
  chunks_requested: number;
  chunks_dropped: number;
  rows_archived: number;
  standby: boolean;
  /** What the last scan found, requested and dropped (not since start). */
  last_scan_discovered: number;
  last_scan_requested: number;
  last_scan_dropped: number;
}

/** Why a configured table is not run: found at every scan, shown in status, /ready and metrics. */
export interface TableConflict {
  /** A TimescaleDB retention policy, or a `kind: table` entry the catalog refuses (no primary key, ...). */
  kind: 'retention_policy' | 'not_plain_table';
  job_id?: number;
  message: string;
}

export interface ManagedDatabase {
  name: string;
  config: ManagedDatabaseConfig;
  sql: postgres.Sql;
  leader: LeaderLock;
  stats: ScanStats;
  /** Tables (`schema.table`) refused at the last scan, with why. */
  conflicts: Map<string, TableConflict[]>;
  /** Tables (`schema.table`) that run, but not as well as they could (no index on the time column). */
  warnings: Map<string, string[]>;
  /** Each plain table's last removed window (`schema.table`): its rows and how long its delete took. */
  lastWindows: Map<string, { rows: number; removalMs: number }>;
  /** When the next removal from each plain table (`schema.table`) may start (window_pause_ms). */
  nextRemovalAt: Map<string, number>;
  /** Each plain table's rows with a NULL time (in no window, never archived), where an index counts them. */
  nullTimeRows: Map<string, number>;
  /** The tail of each Iceberg table's (`key`) commit queue in this process. */
  icebergCommits: Map<string, Promise<unknown>>;
  /** Ends the scan loop's current wait now (or the next one, when it is scanning). */
  wake(): void;
  /** The scan loop's wait between scans: `ms`, or until wake() or the signal. */
  waitForWake(ms: number, signal: AbortSignal): Promise<void>;
  logger: Logger;
  /** Applies ledger migrations once per process (again after a failure). */
  ensureLedger(): Promise<void>;
  /** The books of one verified drop: stats and metrics, kept in one place whoever dropped. */
  recordDrop(rows: number): void;
  /**
   * Runs one piece of work on this database under a client-side deadline. When it does not
   * answer in time the pool is thrown away whole (a hung server keeps its connections hung), so
   * the next call starts on fresh connections; the error says which database and what waited.
   */
  bounded<T>(what: string, ms: number, work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export function createManagedDatabase(
  name: string,
  config: ManagedDatabaseConfig,
  logger: Logger,
  options: {
    sql?: postgres.Sql;
    leaderElection?: boolean;
    /** How long one leader check may take before its connection is thrown away (default 5 s). */
    leaderTimeoutMs?: number;
    /** Told of each verified drop (metrics). */
    onDropped?: (rows: number) => void;
    /** The leader lock's own connection (default: one from the config, never recycled by the pool). */
    leaderConnect?: () => postgres.Sql;
  } = {},
): ManagedDatabase {
  const connect = () => connectDatabase(config, { applicationName: 'chunk-archiver database-service' });
  let sql = options.sql ?? connect();
  const log = logger.child({ database: name });
  // Without election (a single manager, or a one-connection server) this process always leads.
  const leader: LeaderLock =
    options.leaderElection === false
      ? { isLeader: () => true, ensure: async () => true, release: async () => {} }
      : createLeaderLock(
          options.leaderConnect ??
            (() =>
              connectDatabase(
                { ...config, pool: { ...config.pool, max: 1, idle_timeout_s: 0, max_lifetime_s: 0 } },
                { applicationName: 'chunk-archiver database-service leader' },
              )),
          log,
          { timeoutMs: options.leaderTimeoutMs ?? 5_000 },
        );
  let migrated = false;
  let woken = false;
  let wakeWaiter: (() => void) | undefined;
  function replacePool(): void {
    if (options.sql) return; // a pool handed in belongs to the caller
    const old = sql;
    sql = connect();
    old.end({ timeout: 0 }).catch(() => undefined);
  }
  return {
    name,
    config,
    get sql() {
      return sql;
    },
    leader,
    conflicts: new Map(),
    warnings: new Map(),
    lastWindows: new Map(),
    nextRemovalAt: new Map(),
    icebergCommits: new Map(),
    nullTimeRows: new Map(),
    logger: log,
    wake() {
      woken = true;
      wakeWaiter?.();
    },
    async waitForWake(ms: number, signal: AbortSignal) {
      if (!woken) {
        const wakeUp = new AbortController();
        wakeWaiter = () => wakeUp.abort();
        const both = AbortSignal.any([signal, wakeUp.signal]);
        await sleep(ms, both);
        wakeWaiter = undefined;
      }
      woken = false;
    },
    stats: {
      last_scan_started_at: null,
      last_scan_finished_at: null,
      last_scan_error: null,
      scans: 0,
      scans_failed: 0,
      chunks_discovered: 0,
      chunks_requested: 0,
      chunks_dropped: 0,
      rows_archived: 0,
      last_scan_discovered: 0,
      last_scan_requested: 0,
      last_scan_dropped: 0,
      standby: false,
    },
    async ensureLedger() {
      if (migrated) return;
      const applied = await migrate(sql);
      if (applied.length) log.info({ applied }, 'ledger migrations applied');
      migrated = true;
    },
    recordDrop(rows: number) {
      this.stats.chunks_dropped++;
      this.stats.rows_archived += rows;
      options.onDropped?.(rows);
    },
    async bounded<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
      try {
        return await withDeadline(work(), ms, `database ${name}: ${what}`);
      } catch (error) {
        if (error instanceof DeadlineError) {
          log.warn({ what, ms }, 'database did not answer in time; its connections are replaced');
          replacePool();
        }
        throw error;
      }
    },
    async close() {
      await withDeadline(leader.release(), 2_000, 'leader release').catch(() => undefined);
      if (!options.sql) await withDeadline(sql.end({ timeout: 2 }), 3_000, 'pool end').catch(() => undefined);
    },
  };
}
