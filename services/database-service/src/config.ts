import { envBoolean, loadConfig, redisConfigSchema, SERVICE_ENV_OVERRIDES } from '@chunk-archiver/common';
import { databaseName } from '@chunk-archiver/events';
import { databaseConnectionSchema } from '@chunk-archiver/pg';
import { applyStorageEnvironment, STORAGE_ENV_OVERRIDES, storageConfigSchema } from '@chunk-archiver/storage';
import { z } from 'zod';

/** How a table's archive is laid out in storage. */
const archiveFormat = z.enum(['parquet', 'iceberg']);

/** Iceberg tables: how they are partitioned, where engines find them, how commits retry. */
const icebergSchema = z
  .object({
    /** Partition transform of a timestamptz time column. */
    partition: z.enum(['day', 'month']).default('month'),
    /** Width of `truncate` on an integer time column. */
    truncate_width: z.coerce.number().int().min(1).default(1_000_000),
    /**
     * The URI engines reach the storage root under, written into every metadata path
     * (`s3://bucket`, `abfss://container@account.dfs.core.windows.net`, `file:///srv/archive`).
     * Derived from the storage settings when omitted.
     */
    location_base: z.string().min(1).optional(),
    /** Commits lost to another writer in a row before the commit gives up (and retries later). */
    commit_attempts: z.coerce.number().int().min(1).max(100).default(20),
    /**
     * Snapshots kept per table: once a table holds 10 more, the oldest are expired (their files
     * removed when no kept snapshot lists them). Each snapshot's manifest lists every live file,
     * so unexpired snapshots cost storage that grows with their number. 0 keeps every snapshot.
     */
    keep_snapshots: z.coerce.number().int().min(0).default(100),
  })
  .strict();

const retentionFields = {
  /** Chunks whose range ends before now − retention are archived and dropped. */
  retention_days: z.coerce.number().int().min(1).optional(),
  /** Only for tables partitioned on an integer column: the retention in the column's units. */
  retention_integer: z.coerce.number().int().min(1).optional(),
  enabled: z.boolean().default(true),
};

/**
 * How a plain table (`kind: table`) is cut into windows and removed; meaningless for chunks and
 * partitions, which are refused these keys.
 */
const windowFields = {
  /** The unit of an integer epoch time column: seconds, milliseconds or microseconds. */
  time_unit: z.enum(['s', 'ms', 'us']).optional(),
  /** Columns that identify a row; read from the catalog's primary key when omitted. */
  primary_key: z.array(z.string().min(1)).min(1).optional(),
  /** The rows a window aims at (default 100,000). */
  target_rows: z.coerce.number().int().min(1).optional(),
  /** How long one window's verified delete should take (default 2 s); slower deletes shrink windows. */
  target_seconds: z.coerce.number().positive().optional(),
  /** Bounds on the rows a window aims at (defaults 1,000 and 1,000,000). */
  min_rows: z.coerce.number().int().min(1).optional(),
  max_rows: z.coerce.number().int().min(1).optional(),
  /** The least time between two removals from the same table (default 0). */
  window_pause_ms: z.coerce.number().int().min(0).optional(),
  /** After a table's windows are removed: VACUUM (ANALYZE) (default), VACUUM FULL, or nothing. */
  vacuum_after_archival: z.enum(['analyze', 'full', 'none']).optional(),
};

const WINDOW_KEYS = Object.keys(windowFields) as Array<keyof typeof windowFields>;

/** Cross-field rules, each naming the key it is about. */
function checkTable(table: Record<string, unknown> & { kind: string }, ctx: z.RefinementCtx): void {
  if (table.kind !== 'table') {
    for (const key of WINDOW_KEYS) {
      if (table[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `applies only to kind: table (this is kind: ${table.kind})`,
        });
    }
    return;
  }
  if (table.time_column === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['time_column'],
      message: 'is required for kind: table (the column windows are cut on)',
    });
  const rows = windowSettings({ retention_days: undefined, ...table } as TableConfig);
  if (rows.minRows > rows.maxRows)
    ctx.addIssue({
      code: 'custom',
      path: ['min_rows'],
      message: `must not exceed max_rows (${rows.maxRows})`,
    });
  if (rows.targetRows < rows.minRows || rows.targetRows > rows.maxRows)
    ctx.addIssue({
      code: 'custom',
      path: ['target_rows'],
      message: `must be between min_rows (${rows.minRows}) and max_rows (${rows.maxRows})`,
    });
}

export const tableSchema = z
  .object({
    schema: z.string().min(1).default('public'),
    name: z.string().min(1),
    kind: z.enum(['timescaledb', 'partition', 'table']),
    /** The partitioning column (discovered from the catalog when omitted); a plain table's time column. */
    time_column: z.string().min(1).optional(),
    ...windowFields,
    chunks_per_scan: z.coerce.number().int().min(1).max(1000).optional(),
    /** This table's archive: Parquet objects, or an Iceberg table (default: the database's, else parquet). */
    format: archiveFormat.optional(),
    /** The Iceberg partition transform of a timestamptz time column (default: iceberg.partition). */
    iceberg_partition: z.enum(['day', 'month']).optional(),
    /**
     * Run the table even though a TimescaleDB retention policy is set on it. Off by default: such
     * a policy drops chunks whether or not they were archived.
     */
    allow_retention_policy: z.boolean().default(false),
    ...retentionFields,
  })
  .strict()
  .superRefine(checkTable);

export type TableConfig = z.infer<typeof tableSchema>;

/** Whether an operator's `name` (`table` or `schema.table`) names this configured table. */
export function namesTable(table: { schema: string; name: string }, name: string): boolean {
  return name === table.name || name === `${table.schema}.${table.name}`;
}

/** A plain table's window settings with their defaults. */
export function windowSettings(table: TableConfig) {
  return {
    targetRows: table.target_rows ?? 100_000,
    targetSeconds: table.target_seconds ?? 2,
    minRows: table.min_rows ?? 1_000,
    maxRows: table.max_rows ?? 1_000_000,
    pauseMs: table.window_pause_ms ?? 0,
    vacuum: table.vacuum_after_archival ?? 'analyze',
  };
}

export type WindowSettings = ReturnType<typeof windowSettings>;

const managedDatabaseSchema = databaseConnectionSchema.extend({
  tables: z.array(tableSchema).default([]),
  retention_days: z.coerce.number().int().min(1).optional(),
  chunks_per_scan: z.coerce.number().int().min(1).max(1000).optional(),
  /** The archive format of this database's tables (default parquet); a table may say otherwise. */
  format: archiveFormat.optional(),
  vacuum_after_drop: z.boolean().optional(),
  enabled: z.boolean().default(true),
  /**
   * Elect one manager per database with an advisory lock (default). Turn off only when a single
   * manager runs, or the server takes one session at a time (the in-process TimescaleDB).
   */
  leader_election: z.boolean().default(true),
  /**
   * How restored rows are loaded: COPY FROM STDIN (default, fastest), or batched INSERTs for
   * servers without COPY FROM STDIN (the in-process TimescaleDB build).
   */
  restore_method: z.enum(['copy', 'insert']).default('copy'),
});

export type ManagedDatabaseConfig = z.infer<typeof managedDatabaseSchema>;

export const retentionConfigSchema = z
  .object({
    service: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.coerce.number().int().min(0).max(65535).default(3000),
        log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        consumer_name: z.string().min(1).optional(),
        /**
         * Name of the env var with the bearer token for mutating routes. Without a token, they
         * answer only callers on loopback, unless allow_unauthenticated is true.
         */
        api_token_env: z.string().default('API_TOKEN'),
        allow_unauthenticated: z.preprocess(envBoolean, z.boolean()).default(false),
        /** SIGTERM: how long stopping may take before the process exits anyway. */
        shutdown_grace_ms: z.coerce.number().int().min(0).default(10_000),
      })
      .strict()
      .default({
        host: '0.0.0.0',
        port: 3000,
        log_level: 'info',
        api_token_env: 'API_TOKEN',
        allow_unauthenticated: false,
        shutdown_grace_ms: 10_000,
      }),
    redis: redisConfigSchema,
    event_secret_env: z.string().default('ARCHIVER_EVENT_SECRET'),
    /** The same storage the workers write to: objects are verified there before any drop. */
    storage: storageConfigSchema.default(storageConfigSchema.parse({})),
    iceberg: icebergSchema.default(icebergSchema.parse({})),
    defaults: z
      .object({
        retention_days: z.coerce.number().int().min(1).default(730),
        check_interval_s: z.coerce.number().int().min(1).default(300),
        chunks_per_scan: z.coerce.number().int().min(1).max(1000).default(10),
        /** A request unconfirmed this long is published again (lost message, dead worker). */
        request_timeout_s: z.coerce.number().int().min(10).default(3600),
        max_attempts: z.coerce.number().int().min(1).default(5),
        retry_initial_s: z.coerce.number().int().min(1).default(60),
        retry_max_s: z.coerce.number().int().min(1).default(3600),
        vacuum_after_drop: z.boolean().default(false),
        /** How long the drop transaction waits for its lock before giving up (and retrying later). */
        lock_timeout_ms: z.coerce.number().int().min(100).default(5_000),
        /** One database's whole scan (discovery, drops, requests) must end within this. */
        scan_timeout_s: z.coerce.number().int().min(1).default(900),
        /** One leader check (connect, advisory lock) must answer within this. */
        leader_timeout_ms: z.coerce.number().int().min(100).default(5_000),
        /** Each database's part of the status must answer within this; past it, it says so. */
        status_timeout_ms: z.coerce.number().int().min(100).default(1_500),
      })
      .strict()
      .default({
        retention_days: 730,
        check_interval_s: 300,
        chunks_per_scan: 10,
        request_timeout_s: 3600,
        max_attempts: 5,
        retry_initial_s: 60,
        retry_max_s: 3600,
        vacuum_after_drop: false,
        lock_timeout_ms: 5_000,
        scan_timeout_s: 900,
        leader_timeout_ms: 5_000,
        status_timeout_ms: 1_500,
      }),
    /** Scan several databases at once (each has its own loop either way; this bounds the load). */
    parallel_databases: z.preprocess(envBoolean, z.boolean()).default(true),
    max_parallel_databases: z.coerce.number().int().min(1).max(10).default(3),
    dry_run: z.preprocess(envBoolean, z.boolean()).default(false),
    /** A confirmation taken by a manager that died is handed to another after this long. */
    confirmation_visibility_timeout_ms: z.coerce.number().int().min(1_000).default(60_000),
    databases: z.record(databaseName, managedDatabaseSchema).default({}),
  })
  .strict();

export type RetentionConfig = z.infer<typeof retentionConfigSchema>;
export type ArchiveFormat = z.infer<typeof archiveFormat>;

export const ENV_OVERRIDES: Record<string, string> = {
  ...SERVICE_ENV_OVERRIDES,
  ...STORAGE_ENV_OVERRIDES,
  RETENTION_DAYS: 'defaults.retention_days',
  CHECK_INTERVAL_S: 'defaults.check_interval_s',
  CHUNKS_PER_SCAN: 'defaults.chunks_per_scan',
  REQUEST_TIMEOUT_S: 'defaults.request_timeout_s',
  MAX_ATTEMPTS: 'defaults.max_attempts',
  PARALLEL_DATABASES: 'parallel_databases',
  MAX_PARALLEL_DATABASES: 'max_parallel_databases',
  DRY_RUN: 'dry_run',
  SHUTDOWN_GRACE_MS: 'service.shutdown_grace_ms',
  ALLOW_UNAUTHENTICATED: 'service.allow_unauthenticated',
};

export function loadRetentionConfig(
  env: NodeJS.ProcessEnv = process.env,
  file = env.ARCHIVER_CONFIG,
): RetentionConfig {
  const config = loadConfig(retentionConfigSchema, { file, env, overrides: ENV_OVERRIDES });
  applyStorageEnvironment(config.storage, env);
  return config;
}

/** The effective retention and limits of one table: table value, else database value, else default. */
export function effectiveTable(config: RetentionConfig, db: ManagedDatabaseConfig, table: TableConfig) {
  return {
    retentionDays: table.retention_days ?? db.retention_days ?? config.defaults.retention_days,
    retentionInteger: table.retention_integer,
    chunksPerScan: table.chunks_per_scan ?? db.chunks_per_scan ?? config.defaults.chunks_per_scan,
  };
}
