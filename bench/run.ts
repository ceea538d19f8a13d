// `pnpm bench`: archival throughput and memory against raw COPY, on this machine's PostgreSQL.
// Options: --rows 1000000,5000000  --backends local,azure  --codec snappy  --row-group 10000  --keep
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBlobStore, storageConfigSchema } from '@chunk-archiver/storage';
import {
  duckdbLiteral,
  duckdbQuery,
  startAzurite,
  startS3rver,
  testDatabaseUrl,
} from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { benchIcebergCommits } from './iceberg-commits.js';
import { summarizeProfile } from './profile-summary.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000,5000000' },
    backends: { type: 'string', default: 'local,azure' },
    codec: { type: 'string', default: 'snappy' },
    'row-group': { type: 'string', default: '10000' },
    keep: { type: 'boolean', default: false },
    /** Also archive this many copies of the chunk at once (separate processes), for total rows/s. */
    parallel: { type: 'string', default: '2' },
    /** Rows of the compressed TimescaleDB chunk to archive (0: skip), to the first backend. */
    compressed: { type: 'string', default: '1000000' },
    /** Rows of the wide case: 100 columns, one of them 10 kB of text per row (0: skip). */
    wide: { type: 'string', default: '20000' },
    /** Iceberg commits measured per backend, one daily chunk after another (0: skip). */
    'iceberg-commits': { type: 'string', default: '200' },
    /** CPU-profile the first archive of each size (node --cpu-prof) and print where its time went. */
    profile: { type: 'boolean', default: false },
  },
});
const here = fileURLToPath(new URL('.', import.meta.url));
const url = testDatabaseUrl();
const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
const schema = 'chunk_archiver_bench';
const sizes = args.rows.split(',').map(Number);
const backends = args.backends.split(',');

/** Audit-like rows: bigint id, timestamptz, int, short text, ~200-byte jsonb, inet, a nullable column. */
async function ensureTable(rows: number): Promise<string> {
  const table = `audit_${rows}`;
  const partition = `${table}_p`;
  await sql`create schema if not exists ${sql(schema)}`;
  const [exists] = await sql`select to_regclass(${`${schema}.${partition}`}) is not null as ok`;
  if (exists!.ok) {
    const [c] = await sql`select count(*)::int as n from ${sql(schema)}.${sql(partition)}`;
    if (c!.n === rows) return table;
    await sql`drop table ${sql(schema)}.${sql(table)} cascade`;
  }
  console.error(`creating ${rows} rows in ${schema}.${table} ...`);
  await sql`create table ${sql(schema)}.${sql(table)} (
    id bigint not null, ts timestamptz not null, status int not null, actor text not null,
    payload jsonb not null, client inet, reason text) partition by range (ts)`;
  await sql`create table ${sql(schema)}.${sql(partition)} partition of ${sql(schema)}.${sql(table)}
    for values from ('2024-01-01') to ('2025-01-01')`;
  await insertAuditRows(sql, schema, table, rows);
  await sql`vacuum analyze ${sql(schema)}.${sql(partition)}`;
  return table;
}

/** The audit-like rows, the same in the partitioned table and the compressed hypertable. */
async function insertAuditRows(db: postgres.Sql, into: string, table: string, rows: number) {
  const sql = db;
  await sql`insert into ${sql(into)}.${sql(table)}
    select g, '2024-01-01'::timestamptz + g * interval '5 ms', g % 600, 'user_' || (g % 10000),
      jsonb_build_object('action', (array['create','update','delete'])[1 + g % 3], 'entity', 'order',
        'entity_id', g, 'changes', jsonb_build_object('status', 'shipped', 'note', md5(g::text)),
        'trace', md5((g * 31)::text), 'ip_hint', '10.0.' || (g % 255)),
      ('10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (g % 200 + 1))::inet,
      case when g % 3 = 0 then null else 'reason ' || md5((g * 7)::text) end
    from generate_series(1, ${rows}) g`;
}

/**
 * Wide rows: id, ts, 88 integers, 9 short texts and one 10 kB text per row (about 11 kB a row),
 * the case where a row-count bound alone would let one row group outgrow memory.
 */
async function ensureWideTable(rows: number): Promise<string> {
  const table = `wide_${rows}`;
  const partition = `${table}_p`;
  await sql`create schema if not exists ${sql(schema)}`;
  const [exists] = await sql`select to_regclass(${`${schema}.${partition}`}) is not null as ok`;
  if (exists!.ok) return table;
  console.error(`creating ${rows} wide rows in ${schema}.${table} ...`);
  const ints = Array.from({ length: 88 }, (_, i) => `i${i} int`).join(', ');
  const texts = Array.from({ length: 9 }, (_, i) => `t${i} text`).join(', ');
  // DDL takes no parameters; every name here is the bench's own constant.
  await sql.unsafe(
    `create table ${schema}.${table} (id bigint not null, ts timestamptz not null, ${ints}, ${texts}, body text) partition by range (ts)`,
  );
  await sql.unsafe(
    `create table ${schema}.${partition} partition of ${schema}.${table} for values from ('2024-01-01') to ('2025-01-01')`,
  );
  const intValues = Array.from({ length: 88 }, (_, i) => `(g * ${i + 7}) % 100000`).join(', ');
  const textValues = Array.from({ length: 9 }, (_, i) => `md5((g + ${i})::text) || md5(g::text)`).join(', ');
  await sql.unsafe(
    `insert into ${schema}.${table} select g, '2024-01-01'::timestamptz + g * interval '1 second', ${intValues}, ${textValues},
       repeat(md5(g::text), 320) from generate_series(1, ${Number(rows)}) g`,
  );
  await sql.unsafe(`vacuum analyze ${schema}.${partition}`);
  return table;
}

const TSDB = 'chunk_archiver_bench_tsdb';

/**
 * A TimescaleDB hypertable whose one chunk holds `rows` audit rows, compressed as a compression
 * policy leaves old chunks (segment by status, order by ts). Kept between runs like the tables.
 */
async function ensureCompressedChunk(rows: number) {
  const [exists] = await sql`select 1 from pg_database where datname = ${TSDB}`;
  const tsUrl = new URL(url);
  tsUrl.pathname = `/${TSDB}`;
  if (!exists) await sql`create database ${sql(TSDB)}`;
  const ts = postgres(tsUrl.toString(), { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
  await ts`create extension if not exists timescaledb`;
  const [have] = await ts`select to_regclass('public.audit') is not null as ok`;
  if (have!.ok) {
    const [c] = await ts`select count(*)::int as n from audit`;
    if (c!.n !== rows) await ts`drop table audit`;
  }
  const [again] = await ts`select to_regclass('public.audit') is not null as ok`;
  if (!again!.ok) {
    console.error(`creating ${rows} rows in ${TSDB}.public.audit (hypertable) and compressing ...`);
    await ts`create table audit (id bigint not null, ts timestamptz not null, status int not null, actor text not null,
      payload jsonb not null, client inet, reason text)`;
    await ts`select create_hypertable('audit', by_range('ts', interval '365 days'))`;
    await insertAuditRows(ts, 'public', 'audit', rows);
    await ts`alter table audit set (timescaledb.compress, timescaledb.compress_segmentby = 'status', timescaledb.compress_orderby = 'ts')`;
    await ts`select compress_chunk(c) from show_chunks('audit') c`;
    await ts`vacuum analyze audit`;
  }
  const [chunk] = await ts<
    { chunk_schema: string; chunk_name: string; range_start: Date; range_end: Date }[]
  >`
    select chunk_schema, chunk_name, range_start, range_end from timescaledb_information.chunks where hypertable_name = 'audit'`;
  return { ts, url: tsUrl.toString(), chunk: chunk! };
}

/** The compressed chunk's rows through the server's own decompression, as binary COPY drained to nothing. */
async function rawCompressedCopy(
  ts: postgres.Sql,
  chunk: { chunk_schema: string; chunk_name: string },
  rows: number,
) {
  const started = performance.now();
  let bytes = 0;
  await ts.begin('isolation level repeatable read read only', async (tx) => {
    const stream =
      await tx`copy (select * from ${tx(chunk.chunk_schema)}.${tx(chunk.chunk_name)}) to stdout (format binary)`.readable();
    for await (const piece of stream) bytes += piece.length;
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rows_per_s: rows / seconds, mb: bytes / 1e6 };
}

/**
 * The physical reference: binary COPY of the same rows, drained to nothing. With `withRowHash`,
 * the archive's own COPY: each row led by its content hash (hashtextextended of the row's text),
 * which the server computes on the one core its backend has.
 */
async function rawCopy(partition: string, rows: number, withRowHash = false) {
  const started = performance.now();
  let bytes = 0;
  await sql.begin('isolation level repeatable read read only', async (tx) => {
    const select = withRowHash
      ? tx`select hashtextextended(t::text, 0), t.* from ${tx(schema)}.${tx(partition)} as t`
      : tx`select * from ${tx(schema)}.${tx(partition)}`;
    const stream = await tx`copy (${select}) to stdout (format binary)`.readable();
    for await (const piece of stream) bytes += piece.length;
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rows_per_s: rows / seconds, mb: bytes / 1e6 };
}

function runArchive(
  table: string,
  storage: unknown,
  env: NodeJS.ProcessEnv,
  prefix = 'bench',
  source: { url: string; schema: string; chunk: string; request?: Record<string, unknown> } = {
    url,
    schema,
    chunk: `${table}_p`,
  },
  profileDir?: string,
) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        '--max-semi-space-size=16',
        // Compiled JavaScript, as in production: no TypeScript loader in the measured process.
        join(here, 'dist', 'archive-one.js'),
        source.url,
        source.schema,
        table,
        source.chunk,
        JSON.stringify(storage),
        args['row-group'],
        args.codec,
        prefix,
        JSON.stringify(source.request ?? {}),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1)!))
        : reject(new Error(`archive run exited ${code}`)),
    );
  });
}

/**
 * The restore path as an operator runs it: the database-service CLI in a process of its own,
 * loading the archived chunk into an empty copy of the table and checking it against the manifest.
 * Peak RSS is read from /proc while it runs (VmHWM only grows).
 */
async function runRestore(table: string, storage: unknown, env: NodeJS.ProcessEnv) {
  const target = `${table}_restored`;
  await sql`drop table if exists ${sql(schema)}.${sql(target)}`;
  await sql`create table ${sql(schema)}.${sql(target)} (like ${sql(schema)}.${sql(table)})`;
  const dir = await mkdtemp(join(tmpdir(), 'bench-restore-'));
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ storage, databases: { bench: { url } } }));
  const cli = fileURLToPath(new URL('../services/database-service/dist/cli.js', import.meta.url));
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      cli,
      'restore',
      '--config',
      config,
      '--table',
      `${schema}.${table}`,
      '--from',
      '2024-01-01',
      '--to',
      '2025-01-01',
      '--into',
      `${schema}.${target}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  let out = '';
  let peakKb = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const poll = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8')
      .then((s) => {
        peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0));
      })
      .catch(() => undefined);
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  await rm(dir, { recursive: true, force: true });
  const report = JSON.parse(out) as { ok: boolean; objects: Array<{ restored_rows: number }> };
  if (code !== 0 || !report.ok) throw new Error(`restore exited ${code}: ${out}`);
  if (!args.keep) await sql`drop table ${sql(schema)}.${sql(target)}`;
  return {
    seconds,
    rows: report.objects.reduce((n, o) => n + o.restored_rows, 0),
    peak_rss_mb: peakKb / 1024,
  };
}

/**
 * The peer in the same run: `psql \copy (select * from <rows>) to stdout (format csv, header) |
 * DuckDB read_csv → COPY TO parquet` with our codec and row-group size, as a user would do it
 * without this product. Wall time covers the whole pipeline; peak RSS is DuckDB's process.
 */
async function runDuckdbPeer(dbUrl: string, select: string, rows: number) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-peer-'));
  const out = join(dir, 'peer.parquet');
  const started = performance.now();
  const child = spawn(
    'bash',
    [
      '-c',
      'set -o pipefail; psql "$PEER_URL" -X -q -v ON_ERROR_STOP=1 -c "$PEER_COPY" | "$PEER_NODE" "$PEER_JS" "$PEER_OUT" "$PEER_CODEC" "$PEER_RG"',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        PEER_URL: dbUrl,
        // The bench's own constant names, not input.
        PEER_COPY: `\\copy (${select}) to stdout with (format csv, header)`,
        PEER_NODE: process.execPath,
        PEER_JS: join(here, 'dist', 'duckdb-peer.js'),
        PEER_OUT: out,
        PEER_CODEC: args.codec,
        PEER_RG: args['row-group'],
      },
    },
  );
  let text = '';
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  const fileMb = (await stat(out).catch(() => ({ size: 0 }))).size / 1e6;
  await rm(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`DuckDB peer exited ${code}`);
  const report = JSON.parse(text.trim().split('\n').at(-1)!) as { rows: number; peak_rss_mb: number };
  if (report.rows !== rows) throw new Error(`DuckDB peer wrote ${report.rows} rows, expected ${rows}`);
  return { seconds, rows_per_s: rows / seconds, peak_rss_mb: report.peak_rss_mb, file_mb: fileMb };
}

type Peer = Awaited<ReturnType<typeof runDuckdbPeer>>;

/** The peer as a result row, against the COPY it is compared with. */
function peerRow(rows: number, target: string, peer: Peer, copyRowsPerS: number) {
  return {
    rows,
    target,
    seconds: peer.seconds,
    rows_per_s: peer.rows_per_s,
    ratio_to_copy: peer.rows_per_s / copyRowsPerS,
    file_mb: peer.file_mb,
    peak_rss_mb: peer.peak_rss_mb,
  };
}

/** DuckDB reads the object back; its aggregates must equal PostgreSQL's over the same rows. */
async function verify(partition: string, path: string, db = sql, from = schema): Promise<boolean> {
  const sql = db;
  const schema = from;
  const file = duckdbLiteral(path);
  const [d] =
    await duckdbQuery(`select count(*)::varchar as n, sum(id)::varchar as ids, sum(epoch_us(ts))::varchar as ts,
      sum(status)::varchar as status, sum(length(actor))::varchar as actor, sum(length(payload::varchar))::varchar as payload,
      count(client)::varchar as clients, count(reason)::varchar as reasons, sum(length(reason))::varchar as reason_len
    from read_parquet(${file}, hive_partitioning = false)`);
  const [p] =
    await sql`select count(*)::text as n, sum(id)::text as ids, sum((extract(epoch from ts) * 1000000)::bigint)::text as ts,
      sum(status)::text as status, sum(length(actor))::text as actor, sum(length(payload::text))::text as payload,
      count(client)::text as clients, count(reason)::text as reasons, sum(length(reason))::text as reason_len
    from ${sql(schema)}.${sql(partition)}`;
  const same = JSON.stringify(d) === JSON.stringify({ ...p });
  if (!same) console.error('MISMATCH', d, p);
  // And a sample of whole rows, value by value.
  const sample =
    await sql`select id, (extract(epoch from ts) * 1000000)::bigint::text as ts, status, actor, payload::text as payload,
      inet_out(client)::text as client, reason from ${sql(schema)}.${sql(partition)} where id % 997 = 0 order by ts`;
  const rows =
    await duckdbQuery(`select id::varchar as id, epoch_us(ts)::varchar as ts, status, actor, payload::varchar as payload, client, reason
    from read_parquet(${file}, hive_partitioning = false) where id % 997 = 0 order by ts`);
  const sampleSame = JSON.stringify(rows) === JSON.stringify(sample.map((r) => ({ ...r, id: String(r.id) })));
  if (!sampleSame)
    console.error(
      'SAMPLE MISMATCH',
      JSON.stringify(rows[0]),
      JSON.stringify({ ...sample[0], id: String(sample[0]?.id) }),
    );
  return same && sampleSame;
}

const results: Array<Record<string, unknown>> = [];

/** The newest .cpuprofile in the folder, summarized. */
async function latestProfile(dir: string) {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  return summarizeProfile(join(dir, files.at(-1)!));
}

/** Storage settings and credentials for one backend of this run. */
function backendStorage(backend: string) {
  const storage = storageConfigSchema.parse({
    backend,
    prefix: 'bench',
    local: { path: localRoot, container: 'archive' },
    azure: { container: 'bench', connection_string_env: 'BENCH_AZURE_CS' },
    s3: {
      bucket: 'bench',
      endpoint: s3?.endpoint,
      force_path_style: true,
      access_key_id_env: 'BENCH_S3_KEY',
      secret_access_key_env: 'BENCH_S3_SECRET',
    },
  });
  const env = {
    BENCH_AZURE_CS: azurite?.connectionString ?? '',
    BENCH_S3_KEY: s3?.accessKeyId ?? '',
    BENCH_S3_SECRET: s3?.secretAccessKey ?? '',
  };
  return { storage, env };
}

/** Downloads the archived object and compares it with its source rows in DuckDB. */
async function identicalInDuckdb(
  storage: ReturnType<typeof backendStorage>,
  key: string,
  source: { db: postgres.Sql; schema: string; table: string },
): Promise<boolean> {
  const store = await createBlobStore(storage.storage, { ...process.env, ...storage.env });
  const tmp = await mkdtemp(join(tmpdir(), 'bench-verify-'));
  try {
    const path = join(tmp, 'x.parquet');
    await writeFile(path, await store.read(key));
    return await verify(source.table, path, source.db, source.schema);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await store.close?.();
  }
}

/** One archive run as a result row, against the COPY it is compared with. */
function archiveRow(
  rows: number,
  target: string,
  run: Record<string, unknown>,
  copyRowsPerS: number,
  identical: boolean,
  peer: Peer,
) {
  const seconds = run.seconds as number;
  return {
    ratio_to_duckdb: rows / seconds / peer.rows_per_s,
    rss_ratio_to_duckdb: (run.peak_rss_mb as number) / peer.peak_rss_mb,
    rows,
    target,
    seconds,
    rows_per_s: rows / seconds,
    mb_per_s: (run.bytes as number) / 1e6 / seconds,
    file_mb: (run.bytes as number) / 1e6,
    peak_rss_mb: run.peak_rss_mb,
    ratio_to_copy: rows / seconds / copyRowsPerS,
    phases_s: run.timings,
    ...(run.profile ? { profile: run.profile } : {}),
    identical_in_duckdb: identical,
  };
}

/** A compressed 1M-row TimescaleDB chunk, archived through decompression, against COPY of the same chunk. */
async function benchCompressed(rows: number) {
  const { ts, url: tsUrl, chunk } = await ensureCompressedChunk(rows);
  try {
    const copy = await rawCompressedCopy(ts, chunk, rows);
    results.push({
      rows,
      target: 'raw COPY (SELECT * FROM compressed chunk)',
      seconds: copy.seconds,
      rows_per_s: copy.rows_per_s,
      mb: copy.mb,
    });
    console.error(`COPY compressed ${rows}: ${Math.round(copy.rows_per_s)} rows/s`);
    const peer = await runDuckdbPeer(
      tsUrl,
      `select * from "${chunk.chunk_schema}"."${chunk.chunk_name}"`,
      rows,
    );
    results.push(peerRow(rows, 'DuckDB peer on the compressed chunk', peer, copy.rows_per_s));
    const backend = backends[0]!;
    const { storage, env } = backendStorage(backend);
    const run = await runArchive('audit', storage, env, 'bench-compressed', {
      url: tsUrl,
      schema: 'public',
      chunk: chunk.chunk_name,
      request: {
        source_kind: 'timescaledb',
        chunk_schema: chunk.chunk_schema,
        chunk_start_time: chunk.range_start.toISOString(),
        chunk_end_time: chunk.range_end.toISOString(),
      },
    });
    const identical = await identicalInDuckdb({ storage, env }, run.key as string, {
      db: ts,
      schema: chunk.chunk_schema,
      table: chunk.chunk_name,
    });
    const seconds = run.seconds as number;
    results.push(
      archiveRow(rows, `archive compressed chunk → ${backend}`, run, copy.rows_per_s, identical, peer),
    );
    console.error(
      `archive compressed ${rows} → ${backend}: ${Math.round(rows / seconds)} rows/s (${(rows / seconds / copy.rows_per_s).toFixed(2)}× COPY of the chunk), peak RSS ${Math.round(run.peak_rss_mb as number)} MB, identical=${identical}`,
    );
  } finally {
    await ts.end();
  }
}
/** The wide case: archive and peer on rows of about 11 kB, where memory is what is at stake. */
async function benchWide(rows: number) {
  const table = await ensureWideTable(rows);
  const copy = await rawCopy(`${table}_p`, rows);
  results.push({
    rows,
    target: 'raw COPY (binary), wide rows',
    seconds: copy.seconds,
    rows_per_s: copy.rows_per_s,
    mb: copy.mb,
  });
  const peer = await runDuckdbPeer(url, `select * from ${schema}.${table}_p`, rows);
  results.push(peerRow(rows, 'DuckDB peer, wide rows', peer, copy.rows_per_s));
  const backend = backends[0]!;
  const { storage, env } = backendStorage(backend);
  const run = await runArchive(table, storage, env, 'bench-wide');
  results.push(
    archiveRow(rows, `archive wide rows (100 columns, 11 kB) → ${backend}`, run, copy.rows_per_s, true, peer),
  );
  console.error(
    `archive ${rows} wide → ${backend}: ${Math.round(rows / (run.seconds as number))} rows/s, peak RSS ${Math.round(run.peak_rss_mb as number)} MB (DuckDB ${Math.round(peer.peak_rss_mb)} MB)`,
  );
}

/** The Iceberg commit's cost per chunk on one backend, early and late in a table's life. */
async function benchCommits(backend: string, chunks: number) {
  const { storage, env } = backendStorage(backend);
  const store = await createBlobStore(storage, env);
  try {
    await store.ensureContainer();
    for (const cost of await benchIcebergCommits(store, chunks)) {
      iceberg.push(cost);
      console.error(
        `Iceberg commit → ${backend}, table of ${cost.from_files}–${cost.to_files} files: ${cost.ms_per_chunk.toFixed(1)} ms per chunk`,
      );
    }
  } finally {
    await store.close?.();
  }
}
const iceberg: Awaited<ReturnType<typeof benchIcebergCommits>> = [];

const azurite = backends.includes('azure') ? await startAzurite() : undefined;
const s3 = backends.includes('s3') ? await startS3rver() : undefined;
const localRoot = await mkdtemp(join(tmpdir(), 'bench-archive-'));
try {
  for (const rows of sizes) {
    const table = await ensureTable(rows);
    const copy = await rawCopy(`${table}_p`, rows);
    results.push({
      rows,
      target: 'raw COPY (binary)',
      seconds: copy.seconds,
      rows_per_s: copy.rows_per_s,
      mb: copy.mb,
    });
    console.error(`COPY ${rows}: ${Math.round(copy.rows_per_s)} rows/s`);
    const hashed = await rawCopy(`${table}_p`, rows, true);
    results.push({
      rows,
      target: 'raw COPY with the row hash (the archive’s own query)',
      seconds: hashed.seconds,
      rows_per_s: hashed.rows_per_s,
      ratio_to_copy: hashed.rows_per_s / copy.rows_per_s,
      mb: hashed.mb,
    });
    console.error(`COPY with the row hash ${rows}: ${Math.round(hashed.rows_per_s)} rows/s`);
    const peer = await runDuckdbPeer(url, `select * from ${schema}.${table}_p`, rows);
    results.push(
      peerRow(rows, 'DuckDB peer (psql COPY csv → DuckDB read_csv → parquet)', peer, copy.rows_per_s),
    );
    console.error(
      `DuckDB peer ${rows}: ${Math.round(peer.rows_per_s)} rows/s, peak RSS ${Math.round(peer.peak_rss_mb)} MB`,
    );
    for (const backend of backends) {
      const { storage, env } = backendStorage(backend);
      const profileDir =
        args.profile && backend === backends[0] ? join(here, 'results', 'profiles') : undefined;
      const run = await runArchive(table, storage, env, 'bench', undefined, profileDir);
      if (profileDir) run.profile = await latestProfile(profileDir);
      const identical = await identicalInDuckdb({ storage, env }, run.key as string, {
        db: sql,
        schema,
        table: `${table}_p`,
      });
      const seconds = run.seconds as number;
      results.push(archiveRow(rows, `archive → ${backend}`, run, copy.rows_per_s, identical, peer));
      console.error(
        `archive ${rows} → ${backend}: ${Math.round(rows / seconds)} rows/s, peak RSS ${Math.round(run.peak_rss_mb as number)} MB, identical=${identical}`,
      );
      if (backend === backends[0]) {
        const restored = await runRestore(table, storage, env);
        results.push({
          rows,
          target: `restore ← ${backend} (COPY, checksum checked)`,
          seconds: restored.seconds,
          rows_per_s: restored.rows / restored.seconds,
          ratio_to_copy: restored.rows / restored.seconds / copy.rows_per_s,
          peak_rss_mb: restored.peak_rss_mb,
        });
        console.error(
          `restore ${rows} ← ${backend}: ${Math.round(restored.rows / restored.seconds)} rows/s, peak RSS ${Math.round(restored.peak_rss_mb)} MB`,
        );
      }
      const parallel = Number(args.parallel);
      if (parallel > 1) {
        // N archivers at once on the same rows (each under its own prefix): the machine's total.
        const started = performance.now();
        const runs = await Promise.all(
          Array.from({ length: parallel }, (_, i) => runArchive(table, storage, env, `bench-parallel-${i}`)),
        );
        const wall = (performance.now() - started) / 1000;
        results.push({
          rows: rows * parallel,
          target: `${parallel} chunks at once → ${backend}`,
          seconds: wall,
          rows_per_s: (rows * parallel) / wall,
          ratio_to_copy: (rows * parallel) / wall / copy.rows_per_s,
          peak_rss_mb: Math.max(...runs.map((r) => r.peak_rss_mb as number)),
        });
        console.error(
          `${parallel} × ${rows} → ${backend} at once: ${Math.round((rows * parallel) / wall)} rows/s in total`,
        );
      }
    }
    if (!args.keep) await sql`drop table ${sql(schema)}.${sql(table)} cascade`;
  }
  const wideRows = Number(args.wide);
  if (wideRows > 0) await benchWide(wideRows);
  const compressedRows = Number(args.compressed);
  if (compressedRows > 0) await benchCompressed(compressedRows);
  const commits = Number(args['iceberg-commits']);
  if (commits > 0) for (const backend of backends) await benchCommits(backend, commits);
} finally {
  await azurite?.stop();
  await s3?.stop();
  await rm(localRoot, { recursive: true, force: true });
  await sql.end();
}

const f = (n: unknown, d = 0) =>
  typeof n === 'number'
    ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '';
const table = [
  '| rows | target | seconds | rows/s | × DuckDB | × COPY | MB/s written | file MB | peak RSS MB | RSS × DuckDB | stream / verify / manifest s | DuckDB identical |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...results.map((r) => {
    const p = r.phases_s as { stream: number; verify: number; manifest: number } | undefined;
    return `| ${f(r.rows)} | ${r.target} | ${f(r.seconds, 1)} | ${f(r.rows_per_s)} | ${f(r.ratio_to_duckdb, 2)} | ${f(r.ratio_to_copy, 2)} | ${f(r.mb_per_s, 1)} | ${f(r.file_mb, 1)} | ${f(r.peak_rss_mb)} | ${f(r.rss_ratio_to_duckdb, 2)} | ${p ? `${f(p.stream, 1)} / ${f(p.verify, 2)} / ${f(p.manifest, 2)}` : ''} | ${r.identical_in_duckdb ?? ''} |`;
  }),
].join('\n');
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`;
await mkdir(join(here, 'results'), { recursive: true });
const date = new Date().toISOString().slice(0, 10);
await writeFile(
  join(here, 'results', `${date}.json`),
  `${JSON.stringify({ date, machine, codec: args.codec, row_group_size: Number(args['row-group']), results, iceberg_commits: iceberg }, null, 2)}\n`,
);
console.log(`Machine: ${machine}; codec ${args.codec}, row group ${args['row-group']} rows\n\n${table}`);
if (iceberg.length) {
  console.log('\nIceberg commit per chunk (commit + read-back before the drop; no peer runs here):\n');
  console.log('| backend | table holds (files) | ms per chunk | metadata KB after |');
  console.log('| --- | --- | ---: | ---: |');
  for (const c of iceberg)
    console.log(
      `| ${c.backend} | ${c.from_files}–${c.to_files} | ${f(c.ms_per_chunk, 1)} | ${f(c.metadata_kb)} |`,
    );
}
for (const r of results) {
  const profile = r.profile as Awaited<ReturnType<typeof summarizeProfile>> | undefined;
  if (!profile) continue;
  console.log(
    `\nCPU profile of ${f(r.rows)} rows ${r.target} (${f(profile.total_ms)} ms sampled), self time:`,
  );
  console.log('  by stage:');
  for (const stage of profile.stages)
    console.log(`  ${(stage.share * 100).toFixed(1).padStart(5)}%  ${stage.stage}`);
  console.log('  by function:');
  for (const fn of profile.functions.slice(0, 12))
    console.log(`  ${(fn.share * 100).toFixed(1).padStart(5)}%  ${fn.function}`);
  console.log('  by file:');
  for (const file of profile.files.slice(0, 8))
    console.log(`  ${(file.share * 100).toFixed(1).padStart(5)}%  ${file.file}`);
}
if (results.some((r) => r.identical_in_duckdb === false)) process.exit(1);
