// `./dev start`: the whole product on this machine, no Docker. Azurite (storage) runs inside this
// process; both services run as child processes against this machine's PostgreSQL (with the real
// TimescaleDB that ./dev installs) and Redis. A demo database with expired
// data is created fresh on every start so archival is visible within a minute. Ctrl-C stops all.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzurite } from '@chunk-archiver/testkit';
import postgres from 'postgres';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '.data', 'local');
const postgresPort = Number(process.env.POSTGRES_PORT ?? 5432);
const pgUrl = process.env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${postgresPort}/postgres`;
// The TimescaleDB demo's server: the same PostgreSQL unless TIMESCALE_PORT (or TIMESCALEDB_URL) says otherwise.
const timescalePort = Number(process.env.TIMESCALE_PORT ?? postgresPort);
const demoDb = process.env.DEMO_DATABASE ?? 'chunk_archiver_demo';
const tsDb = process.env.DEMO_TIMESCALE_DATABASE ?? `${demoDb}_tsdb`;
/** Written on every database this script creates: the only ones it will ever drop. */
const MARK = 'chunk-archiver demo database, created by ./dev start; dropped and re-created at each start';
const storageBackend = process.env.STORAGE_BACKEND ?? 'azure';
const ports = {
  database: Number(process.env.DATABASE_SERVICE_PORT ?? 3000),
  archival: Number(process.env.ARCHIVAL_SERVICE_PORT ?? 3001),
};
const say = (message) => console.log(`[start] ${message}`);

await mkdir(dataDir, { recursive: true });

/**
 * A fresh demo database: one this script made before (it carries MARK) is dropped and made again;
 * any other database of that name is left alone and the start stops, naming the variable to change.
 */
async function freshDatabase(adminUrl, name, variable) {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [found] = await admin`
      select shobj_description(oid, 'pg_database') as mark from pg_database where datname = ${name}`;
    if (found && found.mark !== MARK) {
      console.error(
        `[start] database ${name} exists and was not created by ./dev start; it is left alone. ` +
          `Choose another name: ${variable}=<name> ./dev start`,
      );
      process.exit(2);
    }
    if (found) await admin`drop database ${admin(name)} with (force)`;
    await admin`create database ${admin(name)}`;
    await admin.unsafe(`comment on database "${name.replaceAll('"', '""')}" is '${MARK}'`);
  } finally {
    await admin.end();
  }
}

// 1. Storage: Azurite unless another backend is chosen.
const azurite =
  storageBackend === 'azure'
    ? await startAzurite({ dir: join(dataDir, 'azurite'), port: Number(process.env.AZURITE_PORT ?? 10000) })
    : undefined;
if (azurite) say(`Azurite blob service on 127.0.0.1:${azurite.port} (data in .data/local/azurite)`);

// 2. A demo PostgreSQL database with a natively partitioned audit table, 30 monthly partitions back.
await freshDatabase(pgUrl, demoDb, 'DEMO_DATABASE');
const demoUrl = new URL(pgUrl);
demoUrl.pathname = `/${demoDb}`;
const demo = postgres(demoUrl.toString(), { max: 1, onnotice: () => {} });
await demo`create table audit_log (id bigint not null, at timestamptz not null, actor text not null, action text not null, detail jsonb) partition by range (at)`;
await demo.unsafe(`
  do $$
  declare m date;
  begin
    for m in select generate_series(date_trunc('month', now()) - interval '30 months', date_trunc('month', now()) + interval '1 month', interval '1 month')::date loop
      execute format('create table %I partition of audit_log for values from (%L) to (%L)',
                     'audit_log_' || to_char(m, 'YYYY_MM'), m, (m + interval '1 month')::date);
    end loop;
  end $$;`);
await demo`create table audit_log_default partition of audit_log default`;
await demo`insert into audit_log
  select g, now() - (g * interval '8 minutes'), 'user_' || (g % 50), (array['login','update','delete'])[1 + g % 3],
         jsonb_build_object('ip', '10.0.0.' || (g % 250), 'ok', g % 7 <> 0)
  from generate_series(1, 150000) g`;
await demo.end();
say(`demo database ${demoDb}: audit_log with 32 monthly partitions, 150,000 rows reaching back ~28 months`);

// 3. TimescaleDB: a real server from TIMESCALEDB_URL, else a demo database on this machine's
// PostgreSQL, which ./dev has given the real extension (../shared/timescaledb/install.sh).
let tsUrl = process.env.TIMESCALEDB_URL;
if (!tsUrl) {
  const server = new URL(pgUrl);
  server.port = String(timescalePort);
  await freshDatabase(server.toString(), tsDb, 'DEMO_TIMESCALE_DATABASE');
  server.pathname = `/${tsDb}`;
  tsUrl = server.toString();
}
const ts = postgres(tsUrl, { max: 1, onnotice: () => {} });
await ts`create extension if not exists timescaledb`;
await ts`drop table if exists metrics`;
await ts`create table metrics (time timestamptz not null, device int not null, temperature double precision, humidity double precision)`;
await ts`select create_hypertable('metrics', by_range('time', interval '30 days'))`;
await ts`insert into metrics
  select t, d, 15 + random() * 15, 30 + random() * 50
  from generate_series(now() - interval '900 days', now(), interval '30 minutes') t, generate_series(1, 2) d`;
// As in production: old chunks are compressed by the time retention reaches them.
await ts`alter table metrics set (timescaledb.compress, timescaledb.compress_segmentby = 'device')`;
await ts`select compress_chunk(c) from show_chunks('metrics', older_than => interval '400 days') c`;
await ts.end();
say(
  `TimescaleDB ${process.env.TIMESCALEDB_URL ? '(TIMESCALEDB_URL)' : `(database ${tsDb})`}: hypertable metrics, 30-day chunks over 900 days, compressed past 400 days`,
);

// 4. Configuration for both services.
const storage = {
  backend: storageBackend,
  prefix: 'archive',
  azure: { container: 'archive' },
  // Local disk: objects under .data/local/archive/ (the container) + archive/ (the prefix).
  local: { path: dataDir, container: 'archive' },
};
const databaseServiceConfig = {
  service: { port: ports.database },
  storage,
  defaults: {
    retention_days: 365,
    check_interval_s: 10,
    chunks_per_scan: 5,
    request_timeout_s: 300,
    retry_initial_s: 5,
    retry_max_s: 60,
  },
  databases: {
    demo: { url: demoUrl.toString(), tables: [{ schema: 'public', name: 'audit_log', kind: 'partition' }] },
    tsdb: { url: tsUrl, tables: [{ schema: 'public', name: 'metrics', kind: 'timescaledb' }] },
  },
};
const archivalServiceConfig = {
  service: { port: ports.archival },
  storage,
  max_concurrent_archival_tasks: 2,
  databases: {
    demo: { url: demoUrl.toString() },
    tsdb: { url: tsUrl },
  },
};
const dbConfigPath = join(dataDir, 'database-service.json');
const archivalConfigPath = join(dataDir, 'archival-service.json');
await writeFile(dbConfigPath, JSON.stringify(databaseServiceConfig, null, 2));
await writeFile(archivalConfigPath, JSON.stringify(archivalServiceConfig, null, 2));

// 5. Both services as separate processes.
// Signed events, as in production: a fresh secret for this run unless one is given. No API_TOKEN:
// both services listen on loopback only, where the mutating routes answer without one.
const env = {
  ...process.env,
  ARCHIVER_EVENT_SECRET: process.env.ARCHIVER_EVENT_SECRET ?? randomBytes(32).toString('hex'),
  HOST: process.env.HOST ?? '127.0.0.1',
  ...(azurite ? { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } : {}),
};
const children = [
  ['database-service', dbConfigPath],
  ['archival-service', archivalConfigPath],
].map(([name, config]) =>
  spawn(process.execPath, ['--max-semi-space-size=16', join(root, 'services', name, 'dist', 'main.js')], {
    cwd: root,
    stdio: 'inherit',
    env: { ...env, ARCHIVER_CONFIG: config },
  }),
);
say(`database-service on http://127.0.0.1:${ports.database}  (GET /database/retention/status)`);
say(`archival-service on http://127.0.0.1:${ports.archival}  (GET /archival/metrics)`);
say(`try: curl -s localhost:${ports.database}/database/retention/status | jq .database_stats[].tables`);
say('Ctrl-C stops everything');

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  say('stopping...');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  await azurite?.stop().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
for (const child of children) {
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`[start] a service exited (code ${code}); stopping the rest`);
      void stop(code ?? 1);
    }
  });
}
