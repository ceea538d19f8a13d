import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pgDatabase, redisNamespace } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dist = (service: string, file: string) =>
  new URL(`../services/${service}/dist/${file}`, import.meta.url).pathname;
const CLI = dist('database-service', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return promisify(execFile)(process.execPath, [file, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env },
    timeout: 30_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: Run) => e,
  );
}

/** What an operator sees on a mistake: the thing named, no stack trace. */
function expectClean(result: Run) {
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(result.stderr.length).toBeLessThan(2_000);
}

describe('CLI and service entry points say what is wrong', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let ns: Awaited<ReturnType<typeof redisNamespace>>;
  let root: string;
  let config: string;

  beforeAll(async () => {
    db = await pgDatabase('cli');
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    await sql`create table events (id bigint not null, at timestamptz not null) partition by range (at)`;
    await sql`create table events_2020_01 partition of events for values from ('2020-01-01') to ('2020-02-01')`;
    await sql`insert into events select g, '2020-01-01'::timestamptz + g * interval '1 minute' from generate_series(1, 100) g`;
    ns = await redisNamespace('cli');
    root = await mkdtemp(join(tmpdir(), 'cli-'));
    config = join(root, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        redis: { url: ns.url, key_prefix: ns.prefix },
        storage: { backend: 'local', prefix: 'archive', local: { path: root, container: 'archive' } },
        defaults: { retention_days: 30 },
        databases: { main: { url: db.url, tables: [{ name: 'events', kind: 'partition' }] } },
      }),
    );
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
    await ns?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('names an unknown command, an unknown flag and a missing one, and exits 2', async () => {
    const unknown = await run(CLI, ['frobnicate']);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toBe('error: unknown command "frobnicate" (see --help)\n');
    const flag = await run(CLI, ['status', '--frobnicate', '--config', config]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('error: unknown option --frobnicate (see --help)\n');
    const noReason = await run(CLI, ['retry', '--id', '1', '--config', config]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe('error: missing --reason\n');
    const noAction = await run(CLI, ['dead-letters', 'explode', '--config', config]);
    expect(noAction.code).toBe(2);
    expect(noAction.stderr).toContain('dead-letters: say list, show, replay, purge, not "explode"');
    for (const r of [unknown, flag, noReason, noAction]) expectClean(r);
  });

  it('refuses scan --table of a table that is not configured', async () => {
    const result = await run(CLI, ['scan', '--table', 'nope', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: table nope is not configured\n');
  });

  it('prints one clean line per configuration problem, naming the key (and the variable it came from), exit 2', async () => {
    const bad = join(root, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        redis: { url: 'http://cache' },
        defaults: { retention_days: -1 },
        databases: { main: { url_env: 'NOT_SET_ANYWHERE', tables: [{ name: 'events', kind: 'partition' }] } },
      }),
    );
    for (const file of [CLI, dist('database-service', 'main.js')]) {
      const args = file === CLI ? ['status', '--config', bad] : [];
      const result = await run(file, args, { ARCHIVER_CONFIG: bad });
      expect(result.code, result.stderr).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toContain(`config error: ${bad}: redis.url: must be a redis:// or rediss:// URL`);
      expect(lines.some((l) => l.startsWith(`config error: ${bad}: defaults.retention_days:`))).toBe(true);
      expect(lines.every((l) => l.startsWith('config error: '))).toBe(true);
      expectClean(result);
    }
    const fromEnv = await run(dist('archival-service', 'main.js'), [], { REDIS_URL: 'http://cache' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(
      'config error: environment: redis.url (from REDIS_URL): must be a redis://',
    );
    const good = join(root, 'unset.json');
    await writeFile(
      good,
      JSON.stringify({
        storage: { backend: 'local', prefix: 'archive', local: { path: root, container: 'archive' } },
        databases: { main: { url_env: 'NOT_SET_ANYWHERE', tables: [{ name: 'events', kind: 'partition' }] } },
      }),
    );
    const unset = await run(dist('database-service', 'main.js'), [], { ARCHIVER_CONFIG: good });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toBe(
      'config error: environment: databases.main.url_env: environment variable NOT_SET_ANYWHERE is not set\n',
    );
  });

  it('retries and lists dead letters from the command line', async () => {
    const scanned = await run(CLI, ['scan', '--config', config]);
    expect(scanned.code, scanned.stderr).toBe(0);
    const [chunk] = await sql<{ id: string }[]>`select id::text from archiver.chunks`;
    await sql`update archiver.chunks set state = 'dead' where id = ${chunk!.id}`;
    const retried = await run(CLI, [
      'retry',
      '--id',
      chunk!.id,
      '--reason',
      'bucket fixed',
      '--config',
      config,
    ]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject([
      { id: chunk!.id, from_state: 'dead', database: 'main' },
    ]);
    const [event] = await sql<{ detail: string }[]>`
      select detail from archiver.chunk_events where chunk_id = ${chunk!.id} and to_state = 'pending'`;
    expect(event!.detail).toMatch(/^retry requested: bucket fixed \(cli:/);
    const notAgain = await run(CLI, ['retry', '--id', chunk!.id, '--reason', 'again', '--config', config]);
    expect(notAgain.code).toBe(1);
    expect(notAgain.stderr).toContain('is pending; only failed or dead chunks are retried');
    // The CLI's status is the ledger's truth: no counters of its own process, which scanned nothing.
    const status = await run(CLI, ['status', '--config', config]);
    expect(status.code, status.stderr).toBe(0);
    const body = JSON.parse(status.stdout);
    expect(body).toMatchObject({ rows_archived: 0, databases_failed: 0 });
    expect(body).not.toHaveProperty('databases_processed');
    expect(body.database_stats[0]).not.toHaveProperty('last_scan');
    expect(body.database_stats[0]).not.toHaveProperty('since_start');
    expect(body.database_stats[0].tables[0]).toMatchObject({
      chunks: { pending: 1 },
      oldest_pending: '2020-01-01T00:00:00.000Z',
      oldest_requested: null,
    });
    const listed = await run(CLI, ['dead-letters', 'list', '--config', config]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).counts).toEqual({
      'database.archival.request': 0,
      'database.archival.confirmation': 0,
    });
    const badTopic = await run(CLI, ['dead-letters', 'purge', '--topic', 'nope', '--config', config]);
    expect(badTopic.code).toBe(1);
    expect(badTopic.stderr).toContain('no topic nope; one of database.archival.request');
  });
});
