import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditArchive } from '@chunk-archiver/database-service';
import { chunkContentChecksum, pinSession } from '@chunk-archiver/pg';
import {
  archiveKeys,
  type BlobStore,
  createAzureBlobStore,
  createLocalBlobStore,
  createS3BlobStore,
  readManifest,
} from '@chunk-archiver/storage';
import {
  type AzuriteHandle,
  azuriteConnectionString,
  duckdbLiteral,
  duckdbQuery,
  pgDatabase,
  type RedisServerHandle,
  type S3rverHandle,
  startAzurite,
  startRedisServer,
  startS3rver,
} from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { type RunningService, startService } from '../services.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { icebergProblems } from './iceberg-outcome.js';

export interface ClusterOptions {
  /** Expired monthly partitions per database (default 6). */
  partitions?: number;
  /** Daily partitions instead of monthly (for hundreds of them). */
  daily?: boolean;
  rowsPerPartition?: number;
  /** Databases, each with its own `events` table (default 1). */
  databases?: number;
  /** local disk (default), or Azurite or s3rver behind a fault proxy. */
  storage?: 'local' | 'azure' | 's3';
  managerConfig?: Record<string, unknown>;
  /** Merged into the manager's `defaults`. */
  managerDefaults?: Record<string, unknown>;
  /** More databases for the manager alone (ones that are not PostgreSQL at all, say). */
  extraManagerDatabases?: Record<string, Record<string, unknown>>;
  workerConfig?: Record<string, unknown>;
  /**
   * A second redis-server, and both services configured with two endpoints: `primary` (weight 2)
   * and `standby` (weight 1), health rounds every 0.5 s and fall-back after 3 s.
   */
  standbyRedis?: boolean;
  /**
   * Run as production would with secrets: database URLs with a password (from env vars), a bearer
   * token and an event-signing secret. See SECRETS.
   */
  secrets?: boolean;
  /** The `events` table archived as an Iceberg table (committed by the manager before each drop). */
  iceberg?: boolean;
}

/** Values that must never appear in a log line or an HTTP response. */
export const SECRETS = {
  databasePassword: 'pg-Secret-Pw-4242',
  apiToken: 'api-Token-Never-Logged-7171',
  eventSecret: 'hmac-Secret-Never-Logged-9393',
};

interface Original {
  database: string;
  chunk: string;
  rows: number;
  checksum: string;
  idSum: string;
}

export interface Outcome {
  chunks: number;
  rows: number;
  dropped: number;
  /** Rows of dropped chunks that the archive does not hold exactly: must be 0. */
  rowsLost: number;
  /** Chunks dropped without an archive identical to them: must be 0. */
  wrongDrops: number;
  problems: string[];
}

/** Failover timings for `standbyRedis` runs: seconds instead of the production minutes. */
export const STANDBY_FAILOVER = {
  health_check_interval_s: 0.5,
  health_check_probes: 3,
  health_check_probes_delay_s: 0.1,
  health_check_timeout_ms: 300,
  failover_attempts: 2,
  failover_delay_s: 0.2,
  // A circuit opened by the commands that failed around the kill must not outlast the fall-back.
  grace_period_s: 1,
  auto_fallback_interval_s: 3,
};

const MONTH = (m: number) => `2021-${String(m).padStart(2, '0')}-01`;
const DAY = (d: number) => new Date(Date.UTC(2021, 0, d)).toISOString().slice(0, 10);

/** Partition `i` (from 1): a month of 2021 (`events_2021_03`), or with daily ones a day (`events_d042`). */
function partition(i: number, daily: boolean): { name: string; from: string; to: string } {
  if (daily) return { name: `events_d${String(i).padStart(3, '0')}`, from: DAY(i), to: DAY(i + 1) };
  return {
    name: `events_2021_${String(i).padStart(2, '0')}`,
    from: MONTH(i),
    to: i === 12 ? '2022-01-01' : MONTH(i + 1),
  };
}

/**
 * A private deployment for one fault run: its own redis-server, PostgreSQL databases with expired
 * monthly partitions, storage, and the two services as real processes started from their build.
 * Timings are shortened (a scan a second, requests re-sent after 10 s, locks and visibility 3 s)
 * so that recovery takes seconds; the mechanisms are the production ones.
 */
export async function createCluster(options: ClusterOptions = {}) {
  const partitions = options.partitions ?? 6;
  const rowsPerPartition = options.rowsPerPartition ?? 1500;
  const daily = options.daily ?? false;
  const redis: RedisServerHandle = await startRedisServer();
  const standby: RedisServerHandle | undefined = options.standbyRedis ? await startRedisServer() : undefined;
  const databases: Array<{ name: string; url: string; sql: postgres.Sql; cleanup(): Promise<void> }> = [];
  const running: RunningService[] = [];
  let azurite: AzuriteHandle | undefined;
  let s3: S3rverHandle | undefined;
  let proxy: FaultProxy | undefined;
  let root: string | undefined;
  let store: BlobStore;
  let storageConfig: Record<string, unknown>;
  const serviceEnv: Record<string, string> = {};

  if (options.storage === 'azure') {
    azurite = await startAzurite();
    proxy = await startFaultProxy(azurite.port);
    const connectionString = azuriteConnectionString(proxy.port);
    store = await createAzureBlobStore({ container: 'archive', connectionString: azurite.connectionString });
    storageConfig = { backend: 'azure', prefix: 'archive', azure: { container: 'archive' } };
    serviceEnv.AZURE_STORAGE_CONNECTION_STRING = connectionString;
  } else if (options.storage === 's3') {
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.port);
    store = await createS3BlobStore({ bucket: 'archive', ...s3.client });
    storageConfig = {
      backend: 's3',
      prefix: 'archive',
      s3: { bucket: 'archive', endpoint: `http://127.0.0.1:${proxy.port}`, force_path_style: true },
    };
    serviceEnv.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    serviceEnv.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  } else {
    root = await mkdtemp(join(tmpdir(), 'reliability-'));
    store = createLocalBlobStore({ root, container: 'archive' });
    storageConfig = { backend: 'local', prefix: 'archive', local: { path: root, container: 'archive' } };
  }
  await store.ensureContainer();

  for (let d = 0; d < (options.databases ?? 1); d++) {
    const db = await pgDatabase(`rel${d}`);
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    databases.push({ name: `db${d}`, url: db.url, sql, cleanup: db.cleanup });
    await sql`create table events (id bigint not null, at timestamptz not null, device int, reading double precision, payload jsonb, note text) partition by range (at)`;
    for (let m = 1; m <= partitions; m++) {
      const p = partition(m, daily);
      // DDL takes no bind parameters; the names and bounds are constants of the test.
      await sql.unsafe(
        `create table ${p.name} partition of events for values from ('${p.from}') to ('${p.to}')`,
      );
    }
    await sql`create table events_current partition of events for values from (date_trunc('month', now())) to (date_trunc('month', now()) + interval '1 month')`;
    await sql`insert into events
      select m * 100000 + g,
             case when ${daily} then make_timestamptz(2021, 1, 1, 0, 0, 0, 'UTC') + (m - 1) * interval '1 day' + g * interval '2 minutes'
                  else make_timestamptz(2021, m, 1, 0, 0, 0, 'UTC') + g * interval '17 minutes 3.5 seconds' end,
             g % 50, g / 7.0, jsonb_build_object('g', g, 'm', m), repeat('n', g % 30)
      from generate_series(1, ${partitions}) m, generate_series(1, ${rowsPerPartition}) g`;
    await sql`insert into events values (0, now(), 0, 0, null, 'current')`;
  }

  const redisConfig = standby
    ? {
        key_prefix: '',
        endpoints: [
          { name: 'primary', url: redis.url, weight: 2 },
          { name: 'standby', url: standby.url, weight: 1 },
        ],
        failover: STANDBY_FAILOVER,
      }
    : { url: redis.url, key_prefix: '' };
  // Trust authentication ignores the password, so it can be a secret the logs must not show.
  const connection = (d: { name: string; url: string }) => {
    if (!options.secrets) return { url: d.url };
    const url = new URL(d.url);
    url.password = SECRETS.databasePassword;
    serviceEnv[`DATABASE_URL_${d.name.toUpperCase()}`] = url.toString();
    return { url_env: `DATABASE_URL_${d.name.toUpperCase()}` };
  };
  if (options.secrets) {
    serviceEnv.API_TOKEN = SECRETS.apiToken;
    serviceEnv.ARCHIVER_EVENT_SECRET = SECRETS.eventSecret;
  }
  const workerConfig = () => ({
    redis: redisConfig,
    storage: storageConfig,
    databases: Object.fromEntries(databases.map((d) => [d.name, { ...connection(d), pool: { max: 4 } }])),
    parquet: { row_group_size: 1000 },
    visibility_timeout_ms: 3000,
    chunk_lock_ttl_ms: 3000,
    retry: { attempts: 2, initial_ms: 200, max_ms: 500, factor: 2 },
    circuit_breaker: { failure_threshold: 1000, reset_timeout_ms: 1000 },
    shutdown_grace_ms: 2000,
    ...options.workerConfig,
  });
  const managerConfig = () => ({
    redis: redisConfig,
    storage: storageConfig,
    confirmation_visibility_timeout_ms: 3000,
    defaults: {
      retention_days: 30,
      check_interval_s: 1,
      request_timeout_s: 10,
      retry_initial_s: 1,
      retry_max_s: 2,
      max_attempts: 100,
      chunks_per_scan: 100,
      lock_timeout_ms: 2000,
      ...options.managerDefaults,
    },
    databases: {
      ...Object.fromEntries(
        databases.map((d) => [
          d.name,
          {
            ...connection(d),
            pool: { max: 4 },
            tables: [
              { name: 'events', kind: 'partition', ...(options.iceberg ? { format: 'iceberg' } : {}) },
            ],
          },
        ]),
      ),
      ...options.extraManagerDatabases,
    },
    ...options.managerConfig,
  });

  let originals: Original[] = [];
  /**
   * Per expired partition: rows, content checksum (pinned session, as the services compute it),
   * sum of ids. With `only`, that partition is taken again (after a test changed it).
   */
  async function snapshot(only?: string): Promise<void> {
    for (const db of databases) {
      await db.sql.begin(async (tx) => {
        await pinSession(tx);
        for (let m = 1; m <= partitions; m++) {
          const chunk = partition(m, daily).name;
          if (only && chunk !== only) continue;
          const sum = await chunkContentChecksum(tx, 'public', chunk);
          const [ids] = await tx<{ s: string }[]>`select coalesce(sum(id), 0)::text as s from ${tx(chunk)}`;
          originals = originals.filter((o) => !(o.database === db.name && o.chunk === chunk));
          originals.push({
            database: db.name,
            chunk,
            rows: sum.rowCount,
            checksum: sum.checksum,
            idSum: ids!.s,
          });
        }
      });
    }
  }
  await snapshot();

  async function ledger(database = databases[0]!) {
    return database.sql<
      {
        chunk_name: string;
        state: string;
        request_event_id: string | null;
        object_key: string | null;
        manifest_key: string | null;
        range_start: string;
        range_end: string;
        chunk_oid: string | null;
      }[]
    >`select chunk_name, state, request_event_id, object_key, manifest_key, range_start, range_end, chunk_oid from archiver.chunks order by chunk_name`.catch(
      () => [],
    );
  }

  async function start(
    name: 'archival-service' | 'database-service',
    config: Record<string, unknown>,
    env: Record<string, string>,
    waitHealthy: boolean,
  ): Promise<RunningService> {
    const service = await startService(name, config, { ...serviceEnv, ...env }, { waitHealthy });
    running.push(service);
    return service;
  }

  return {
    redis,
    standby,
    proxy,
    azurite,
    store,
    databases,
    running,
    snapshot,
    ledger,
    startWorker: (env: Record<string, string> = {}, waitHealthy = true) =>
      start('archival-service', workerConfig(), env, waitHealthy),
    startManager: (env: Record<string, string> = {}, waitHealthy = true) =>
      start('database-service', managerConfig(), env, waitHealthy),
    /** Until every expired partition of every database (or of `only`) is dropped; the time it took, in seconds. */
    async waitConverged(since: number, timeoutMs = 90_000, only?: string[]): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let done = true;
        for (const db of databases) {
          if (only && !only.includes(db.name)) continue;
          const rows = await ledger(db);
          if (rows.length < partitions || rows.some((r) => r.state !== 'dropped')) done = false;
        }
        if (done) return (Date.now() - since) / 1000;
        if (Date.now() > deadline) {
          const states = await Promise.all(
            databases.map(async (db) => (await ledger(db)).map((r) => `${r.chunk_name}:${r.state}`)),
          );
          throw new Error(
            `not converged after ${timeoutMs} ms: ${JSON.stringify(states)}\n${running.map((r) => r.logs().slice(-3000)).join('\n---\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    /**
     * What the run left: each dropped chunk must have exactly its original rows in the archive,
     * under its own key (manifest count and checksum, and DuckDB reading the Parquet file back);
     * the archive must verify object by object with nothing extra in it.
     */
    async outcome(): Promise<Outcome> {
      const problems: string[] = [];
      let rowsLost = 0;
      let wrongDrops = 0;
      let dropped = 0;
      for (const original of originals) {
        const db = databases.find((d) => d.name === original.database)!;
        const [present] = await db.sql<
          { t: string | null }[]
        >`select to_regclass(${original.chunk})::text as t`;
        if (present!.t !== null) continue;
        dropped++;
        const row = (await ledger(db)).find((r) => r.chunk_name === original.chunk);
        const fail = (why: string) => {
          problems.push(`${original.database}.${original.chunk}: ${why}`);
          rowsLost += original.rows;
          wrongDrops++;
        };
        if (row?.state !== 'dropped') {
          fail(`dropped but the ledger says ${row?.state ?? 'nothing'}`);
          continue;
        }
        const keys = archiveKeys(
          'archive',
          {
            database: original.database,
            source_kind: 'partition',
            table_schema: 'public',
            table_name: 'events',
            chunk_schema: 'public',
            chunk_name: original.chunk,
            time_column: 'at',
            dimension_type: 'timestamp',
            chunk_start_time: row.range_start,
            chunk_end_time: row.range_end,
            ...(row.chunk_oid ? { chunk_oid: String(row.chunk_oid) } : {}),
          },
          options.iceberg
            ? { format: 'iceberg', attempt: row.request_event_id ?? '' }
            : { format: 'parquet' },
        );
        if (row.object_key !== keys.dataKey) {
          fail(`archived under ${row.object_key}, not its key ${keys.dataKey}`);
          continue;
        }
        const manifest = await readManifest(store, keys.manifestKey).catch(() => undefined);
        if (!manifest) {
          fail('no readable manifest');
          continue;
        }
        if (manifest.row_count !== original.rows || manifest.content_checksum !== original.checksum) {
          fail(
            `manifest says ${manifest.row_count} rows / ${manifest.content_checksum}, the chunk had ${original.rows} / ${original.checksum}`,
          );
          continue;
        }
        const dir = await mkdtemp(join(tmpdir(), 'outcome-'));
        try {
          const path = join(dir, 'x.parquet');
          await writeFile(path, await store.read(keys.dataKey));
          const [read] = await duckdbQuery(
            `select count(*)::int as n, coalesce(sum(id), 0)::varchar as s from read_parquet(${duckdbLiteral(path)}, hive_partitioning = false)`,
          );
          if (read!.n !== original.rows || read!.s !== original.idSum) {
            fail(
              `Parquet holds ${read!.n} rows (id sum ${read!.s}), the chunk had ${original.rows} (${original.idSum})`,
            );
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      if (options.iceberg) problems.push(...(await icebergProblems(store, databases, dropped)));
      const audit = await auditArchive(store, { prefix: 'archive/' });
      for (const p of audit.problems) problems.push(`archive: ${p.code} ${p.key}: ${p.message}`);
      if (audit.manifests !== dropped)
        problems.push(`archive holds ${audit.manifests} manifests for ${dropped} dropped chunks`);
      return {
        chunks: originals.length,
        rows: originals.reduce((n, o) => n + o.rows, 0),
        dropped,
        rowsLost,
        wrongDrops,
        problems,
      };
    },
    async stop(): Promise<void> {
      for (const [what, step] of [
        ['services', () => Promise.all(running.map((r) => r.kill().then(() => r.stop())))],
        [
          'databases',
          () =>
            Promise.all(
              databases.map(async (d) => {
                await d.sql.end({ timeout: 5 });
                await d.cleanup();
              }),
            ),
        ],
        ['redis', () => redis.stop()],
        ['standby redis', async () => standby?.stop()],
        ['proxy', async () => proxy?.stop()],
        ['azurite', async () => azurite?.stop()],
        ['s3rver', async () => s3?.stop()],
        ['storage', async () => (root ? rm(root, { recursive: true, force: true }) : undefined)],
      ] as const) {
        try {
          await step();
        } catch (error) {
          console.warn(`cluster stop: ${what} failed: ${(error as Error).message}`);
        }
      }
    },
  };
}

export type Cluster = Awaited<ReturnType<typeof createCluster>>;

export interface FaultResult {
  fault: string;
  runs: number;
  chunks: number;
  rows: number;
  rowsLost: number;
  wrongDrops: number;
  convergeSeconds: number[];
}

/** Appends a scenario's figures to $RELIABILITY_RESULTS (a JSON-lines file) when it is set. */
export async function recordResult(
  kind: 'fault' | 'load' | 'hostile' | 'isolation' | 'safety',
  result: object,
): Promise<void> {
  const file = process.env.RELIABILITY_RESULTS;
  if (file) await appendFile(file, `${JSON.stringify({ kind, ...result })}\n`);
}
