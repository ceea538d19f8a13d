import type { Logger } from '@chunk-archiver/common';
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
}

/** Why a configured table is not run: found at every scan, shown in status, /ready and metrics. */
export interface TableConflict {
  kind: 'retention_policy';
  job_id: number;
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
  logger: Logger;
  /** Applies ledger migrations once per process (again after a failure). */
  ensureLedger(): Promise<void>;
  close(): Promise<void>;
}

export function createManagedDatabase(
  name: string,
  config: ManagedDatabaseConfig,
  logger: Logger,
  options: {
    sql?: postgres.Sql;
    leaderElection?: boolean;
    /** The leader lock's own connection (default: one from the config, never recycled by the pool). */
    leaderConnect?: () => postgres.Sql;
  } = {},
): ManagedDatabase {
  const sql = options.sql ?? connectDatabase(config, { applicationName: 'chunk-archiver database-service' });
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
        );
  let migrated = false;
  return {
    name,
    config,
    sql,
    leader,
    conflicts: new Map(),
    logger: log,
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
      standby: false,
    },
    async ensureLedger() {
      if (migrated) return;
      const applied = await migrate(sql);
      if (applied.length) log.info({ applied }, 'ledger migrations applied');
      migrated = true;
    },
    async close() {
      await leader.release();
      if (!options.sql) await sql.end({ timeout: 5 });
    },
  };
}
