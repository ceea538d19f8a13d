#!/usr/bin/env node
// Renders docs/reliability.md from the JSON lines the reliability suite appends to
// $RELIABILITY_RESULTS (see tests/reliability/cluster.ts, recordResult).
// Usage: node scripts/reliability-report.mjs RESULTS.jsonl > docs/reliability.md
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const file = process.argv[2];
if (!file) {
  console.error('usage: reliability-report.mjs RESULTS.jsonl');
  process.exit(2);
}
const records = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line));
// Rows in a fixed order (the suite's files finish in any order): processes, PostgreSQL, data, Redis, storage.
const ORDER = ['archival-service', 'database-service', 'PostgreSQL', 'rows', 'Redis', 'storage', 'Iceberg'];
const rank = (fault) => {
  const i = ORDER.findIndex((prefix) => fault.startsWith(prefix));
  return i === -1 ? ORDER.length : i;
};
const faults = records
  .filter((r) => r.kind === 'fault')
  .sort((a, b) => rank(a.fault) - rank(b.fault) || a.fault.localeCompare(b.fault));
const load = records.filter((r) => r.kind === 'load');
const hostile = records.filter((r) => r.kind === 'hostile').flatMap((r) => r.tried);
const isolation = records.filter((r) => r.kind === 'isolation');
const safety = records.filter((r) => r.kind === 'safety');

const range = (xs) => (xs.length ? `${Math.min(...xs)}–${Math.max(...xs)}` : '–');
const out = [];
out.push(`# Reliability

The promise: any process can die at any instant, any dependency can vanish for a while, and any
input can be hostile, and still no row is lost and no chunk is dropped without a verified archive.
Every figure below comes from the automated suite in \`tests/reliability/\`, which runs in CI as
part of \`./dev test\`. Regenerate this page with \`pnpm reliability\` (runs the suite, then
\`scripts/reliability-report.mjs\`).

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB,
Node ${process.version}, PostgreSQL 15, Redis 7, Azurite from npm.

## How a run is judged

Each run builds a private deployment: its own \`redis-server\`, a PostgreSQL database with six
expired monthly partitions of 1,500 rows (two Parquet row groups each) plus a current one, local
disk, or Azurite or s3rver behind a TCP fault proxy that can refuse every connection or answer
every request with a 503, and both services as real processes started from their build.
Timings are shortened (a scan a second, requests re-sent after 10 s, chunk locks and message
visibility 3 s) so that recovery takes seconds; the mechanisms are the production ones.

After the fault, the run must converge (every expired partition dropped) and then:

- **rows lost** counts the rows of every dropped chunk whose archive is not exactly that chunk:
  the manifest's row count and content checksum (\`count\`, \`sum(hashtextextended(row::text))\`)
  must equal the chunk's as taken before the run (or after the test changed it), and DuckDB reading
  the Parquet file back must find the same row count and sum of ids;
- **wrong drops** counts chunks dropped without such an archive, or archived under another key;
- the archive must pass \`verify\` object by object (size, sha256, stored sha256, footer) with one
  manifest per dropped chunk and nothing else in it: no duplicate, no orphan.

Faults are placed with failpoints (\`ARCHIVER_FAILPOINTS\`, see README): a service announces the
named step on stderr and waits there, and the test kills it (SIGKILL), terminates its PostgreSQL
sessions, or changes rows, at exactly that step.

## Faults

| fault | runs | chunks | rows | rows lost | wrong drops | time to converge (s) |
| --- | ---: | ---: | ---: | ---: | ---: | --- |`);
for (const f of faults) {
  out.push(
    `| ${f.fault} | ${f.runs} | ${f.chunks} | ${f.rows.toLocaleString('en-US')} | ${f.rowsLost} | ${f.wrongDrops} | ${range(f.convergeSeconds)} |`,
  );
}
const totals = faults.reduce(
  (t, f) => ({
    runs: t.runs + f.runs,
    chunks: t.chunks + f.chunks,
    rows: t.rows + f.rows,
    lost: t.lost + f.rowsLost,
    wrong: t.wrong + f.wrongDrops,
  }),
  { runs: 0, chunks: 0, rows: 0, lost: 0, wrong: 0 },
);
out.push(
  `| **all** | **${totals.runs}** | **${totals.chunks}** | **${totals.rows.toLocaleString('en-US')}** | **${totals.lost}** | **${totals.wrong}** | |`,
);
out.push(`
Where the time goes: a killed worker's request comes back after the 3 s visibility timeout and
its chunk lock after 3 s more; Redis restarted empty loses the requests in flight, which the
manager sends again after its 10 s request timeout; the outages last 30 s, then failed chunks wait
out the manager's 1–2 s back-off. The Redis-failover runs have two \`redis-server\`s (primary,
weight 2; standby, weight 1; health rounds every 0.5 s, fall-back after 3 s) and a request
timeout of an hour: the primary is killed with requests unread in its stream, both services switch
to the standby within a second, the manager sends every \`requested\` chunk again at once, and the
primary restarted 1 s later is taken back after 3 s healthy; no chunk waited for the timeout.
`);

if (load.length) {
  out.push(`## Load

Three databases with 100 expired daily partitions of 500 rows each, two archival-service processes
and one database-service. The third database refuses all connections until the first two are done:
its scans fail and are reported (\`last_scan_error\` in the status), and the other two are not held
back. Then it is let back in and catches up.

| figure | value |
| --- | --- |`);
  for (const l of load) {
    out.push(
      `| chunks (databases × partitions) | ${l.chunks} (${l.databases} × ${l.chunks / l.databases}) |`,
    );
    out.push(`| rows | ${l.rows.toLocaleString('en-US')} |`);
    out.push(`| two healthy databases archived and dropped in | ${l.healthy_databases_seconds} s |`);
    out.push(`| chunks per minute | ${l.chunks_per_minute.toLocaleString('en-US')} |`);
    out.push(`| rows per second | ${l.rows_per_second.toLocaleString('en-US')} |`);
    out.push(`| all three converged (after the third came back) | ${l.all_converged_seconds} s |`);
    out.push(`| the down database's reported error | \`${l.db2_error_while_down}\` |`);
    for (const [name, mb] of Object.entries(l.peak_rss_mb)) out.push(`| peak RSS, ${name} | ${mb} MB |`);
    out.push(`| rows lost / wrong drops | ${l.rows_lost} / ${l.wrong_drops} |`);
  }
  out.push(`
\`pnpm reliability\` runs this next to another file of the suite (two at a time on two cores); run
alone (\`pnpm exec vitest run tests/reliability/load.int.test.ts\` with \`RELIABILITY_RESULTS\` set) it
measured 2,730–2,874 chunks per minute. Small chunks make this a measure of per-chunk overhead (scan, request, lock, snapshot, upload,
verification, manifest, confirmation, drop transaction); for bulk throughput of large chunks see
the benchmark (\`pnpm bench\`, README).
`);
}

if (hostile.length) {
  out.push(`## Hostile and bad input tried

Against the running services (events written straight onto their Redis streams, HTTP requests to
the database-service), with an event-signing secret and a bearer token configured. Each outcome
below is asserted by the test.

| input | outcome |
| --- | --- |`);
  for (const t of hostile)
    out.push(
      `| ${t.input.replaceAll('|', '\\|')} | ${t.outcome.replaceAll('|', '\\|').replaceAll('\n', ' ')} |`,
    );
  out.push('');
}

if (isolation.length) {
  out.push(`## Databases that are not PostgreSQL

Beside a healthy database, the manager is configured with three "databases" that are not working
PostgreSQL servers: one answers HTTP, one accepts connections and never says a word, one is a real
PostgreSQL behind a proxy that closes every connection at the first message after the handshake.
The healthy database must be archived and dropped as usual, status must answer within 2 s each
time it is asked, \`/ready\` must name the bad ones, and SIGTERM must end the process cleanly.

| case | chunks | rows lost | wrong drops | converged (s) | slowest status (ms) | /ready | SIGTERM exit (ms) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of isolation)
    out.push(
      `| ${r.case} | ${r.chunks} | ${r.rows_lost} | ${r.wrong_drops} | ${r.converge_seconds} | ${r.status_ms_max} | ${r.ready_status} | ${r.sigterm_exit_ms} |`,
    );
  out.push('');
}
if (safety.length) {
  out.push(`## Drop safety, real TimescaleDB and Iceberg

Each case below runs against the real TimescaleDB 2.28.3 and PostgreSQL, and fails when its guard
is removed (each guard was taken out once to see its test fail). Drop safety
(\`tests/drop-safety.int.test.ts\`): a confirmation with any one identity field spoofed, with and
without an event secret, never drops anything and is recorded with its own reason; the real
confirmation then completes. Real TimescaleDB (\`tests/timescaledb.int.test.ts\`): compressed
chunks, the compression race, space partitions, retention policies and continuous aggregates.

Iceberg (\`tests/iceberg.int.test.ts\`, \`packages/iceberg/test/\`): a real hypertable archived by
two workers into one Iceberg table and read back by an independent reader (icebird) and DuckDB;
a row inserted after a chunk's commit re-archives it as an overwrite snapshot; a column added at the
source evolves the schema; two writers racing one commit on local disk and Azurite (one retries,
no snapshot lost; the same race without the exclusive create loses one, which is what the test
sees). The kill runs above marked Iceberg stop the manager before its commit, between its snapshot
files and the metadata version, and between the commit and the drop: each must end with every
dropped chunk listed once in the table and no file committed twice.

| suite | case | outcome |
| --- | --- | --- |`);
  for (const r of safety) out.push(`| ${r.suite} | ${r.case} | ${r.outcome} |`);
  out.push('');
}
out.push(`## Found and fixed by this suite

- **A request for a chunk locked by a dead worker was acked and lost.** The replacement worker
  found the dead worker's lock and acked the request as a duplicate; the chunk waited for the
  manager's request timeout (an hour by default). Such a request now stays pending and comes back
  after the visibility timeout; the lock TTL is configurable (\`chunk_lock_ttl_ms\`).
- **Leader election raced with itself.** Concurrent \`ensure()\` calls (the scanner and several
  confirmation handlers) took the advisory lock on two connections or released a connection in use;
  a restarted manager then refused its confirmations as "another manager leads". Attempts are now
  single-flight.
- **A terminated PostgreSQL session crashed the manager.** postgres.js 3.4.9 throws from a timer
  when a queued write meets a closed socket (porsager/postgres#1208, unfixed upstream); the
  project patches it (\`patches/postgres@3.4.9.patch\`) to fail the waiting query instead.
- **A transaction's statements ran outside it after its session was terminated.** postgres.js
  3.4.9 lets a \`sql.begin()\` callback that outlives its connection send its remaining statements
  on the reconnected connection, in autocommit (porsager/postgres#1216): a drop whose transaction
  was terminated during its failpoint still ran \`DROP TABLE\`, without its lock, and the ledger
  marked the chunk dead. Patched too; \`packages/pg/test/driver-patch.int.test.ts\` proves both fixes.
- **The leader lock never recovered from a terminated session.** The pool kept handing the broken
  reserved connection back. The lock now has a connection of its own, replaced whole when it dies.
- **A database that closes connections after the handshake crashed the manager.** postgres.js
  3.4.9 fetches array types on a new connection and leaves that promise unawaited; when the
  connection closed meanwhile, the rejection was unhandled and ended the process. Patched; the
  query that waited gets the error, and the manager's deadlines bound the rest.
- **One bad database stalled the whole manager.** Nothing bounded the leader check, a scan or
  status against a server that hangs; scans were sequential. Each database now has its own loop
  and every wait a deadline, after which that database's connections are replaced.

## Not covered

- Disk full on the local storage backend.
- Clock skew between hosts: the manager computes cut-offs with the database's clock only.
- A network partition between the two services that leaves both Redis and PostgreSQL reachable
  from each is the same, for this design, as the Redis freeze measured above.
`);
process.stdout.write(`${out.join('\n')}\n`);
