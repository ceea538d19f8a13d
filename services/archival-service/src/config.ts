import { loadConfig, redisConfigSchema, SERVICE_ENV_OVERRIDES } from '@chunk-archiver/common';
import { databaseName } from '@chunk-archiver/events';
import { databaseConnectionSchema } from '@chunk-archiver/pg';
import { applyStorageEnvironment, STORAGE_ENV_OVERRIDES, storageConfigSchema } from '@chunk-archiver/storage';
import { z } from 'zod';

const databaseSchema = databaseConnectionSchema.extend({
  /** `schema.table` names this worker may archive; empty: any hypertable or range-partitioned table. */
  tables: z.array(z.string().regex(/^[^.]+\.[^.]+$/, 'must be schema.table')).default([]),
});

/** 8 MiB of row data per row group at most, whatever row_group_size says (see the wide-row bench). */
export const DEFAULT_ROW_GROUP_BYTES = 8 * 1024 * 1024;

export const archivalConfigSchema = z
  .object({
    service: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.coerce.number().int().min(0).max(65535).default(3001),
        log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        /** Identifies this replica in the consumer group; defaults to hostname + pid. */
        consumer_name: z.string().min(1).optional(),
      })
      .strict()
      .default({ host: '0.0.0.0', port: 3001, log_level: 'info' }),
    redis: redisConfigSchema,
    /** Name of the env var holding the HMAC secret; when it is set, unsigned events are refused. */
    event_secret_env: z.string().default('ARCHIVER_EVENT_SECRET'),
    storage: storageConfigSchema.default(storageConfigSchema.parse({})),
    parquet: z
      .object({
        codec: z.enum(['snappy', 'gzip', 'zstd', 'uncompressed']).default('snappy'),
        row_group_size: z.coerce.number().int().min(1_000).max(10_000_000).default(10_000),
        /**
         * A row group also ends once its rows hold this many bytes (as PostgreSQL sent them), so
         * wide rows (hundreds of columns, large text) cannot make one row group outgrow memory.
         */
        row_group_bytes: z.coerce
          .number()
          .int()
          .min(1_048_576)
          .max(1_073_741_824)
          .default(DEFAULT_ROW_GROUP_BYTES),
      })
      .strict()
      .default({ codec: 'snappy', row_group_size: 10_000, row_group_bytes: DEFAULT_ROW_GROUP_BYTES }),
    max_concurrent_archival_tasks: z.coerce.number().int().min(1).max(64).default(2),
    retry: z
      .object({
        attempts: z.coerce.number().int().min(1).max(20).default(3),
        initial_ms: z.coerce.number().int().min(0).default(1_000),
        max_ms: z.coerce.number().int().min(0).default(30_000),
        factor: z.coerce.number().min(1).default(2),
      })
      .strict()
      .default({ attempts: 3, initial_ms: 1_000, max_ms: 30_000, factor: 2 }),
    circuit_breaker: z
      .object({
        failure_threshold: z.coerce.number().int().min(1).default(5),
        reset_timeout_ms: z.coerce.number().int().min(0).default(60_000),
      })
      .strict()
      .default({ failure_threshold: 5, reset_timeout_ms: 60_000 }),
    /** A request silent this long on a dead worker is taken over by another. */
    visibility_timeout_ms: z.coerce.number().int().min(1_000).default(120_000),
    /** How long a dead worker's chunk lock outlives it; the living extend theirs every third of it. */
    chunk_lock_ttl_ms: z.coerce.number().int().min(1_000).default(60_000),
    max_deliveries: z.coerce.number().int().min(1).default(10),
    /**
     * How long extraction waits for a chunk's lock. A compress_chunk or decompress_chunk in
     * progress holds it; past this the attempt fails and is retried later.
     */
    lock_timeout_ms: z.coerce.number().int().min(100).default(60_000),
    shutdown_grace_ms: z.coerce.number().int().min(0).default(30_000),
    databases: z.record(databaseName, databaseSchema).default({}),
  })
  .strict();

export type ArchivalConfig = z.infer<typeof archivalConfigSchema>;

/** Environment variables that override single keys of the YAML file. */
export const ENV_OVERRIDES: Record<string, string> = {
  ...SERVICE_ENV_OVERRIDES,
  ...STORAGE_ENV_OVERRIDES,
  PARQUET_CODEC: 'parquet.codec',
  PARQUET_ROW_GROUP_SIZE: 'parquet.row_group_size',
  PARQUET_ROW_GROUP_BYTES: 'parquet.row_group_bytes',
  MAX_CONCURRENT_ARCHIVAL_TASKS: 'max_concurrent_archival_tasks',
  SHUTDOWN_GRACE_MS: 'shutdown_grace_ms',
};

export function loadArchivalConfig(env: NodeJS.ProcessEnv = process.env): ArchivalConfig {
  const config = loadConfig(archivalConfigSchema, {
    file: env.ARCHIVER_CONFIG,
    env,
    overrides: ENV_OVERRIDES,
  });
  applyStorageEnvironment(config.storage, env);
  return config;
}
