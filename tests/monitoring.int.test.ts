import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { retentionFlow } from './flow.js';

const deploy = fileURLToPath(new URL('../deploy/', import.meta.url));
const promtool = (...args: string[]) =>
  promisify(execFile)('promtool', args, { cwd: join(deploy, 'prometheus') }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

/** Metric names a PromQL expression reads (identifiers followed by a selector, range or operator). */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(retention|archiver|redis)_[a-z_]+\b/g) ?? [];
  return [...new Set(names)];
}

describe('monitoring: alert rules, dashboard and the metrics they read', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let root: string;
  let exposed: Set<string>;

  beforeAll(async () => {
    db = await pgDatabase('monitoring');
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    await sql`create table events (id bigint not null, at timestamptz not null) partition by range (at)`;
    await sql`create table events_2020_01 partition of events for values from ('2020-01-01') to ('2020-02-01')`;
    root = await mkdtemp(join(tmpdir(), 'monitoring-'));
    const store = createLocalBlobStore({ root, container: 'archive' });
    await store.ensureContainer();
    const flow = await retentionFlow({
      databases: { main: { sql, tables: [{ schema: 'public', name: 'events', kind: 'partition' }] } },
      store,
      defaults: { max_attempts: 1 },
    });
    try {
      await flow.manager.scanner.scanOnce({ database: 'main' });
      const text = (await flow.app.inject('/metrics')).body + (await flow.archivalRegistry.metrics());
      exposed = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
      // The ledger figures are real: the pending chunk shows up by table and state.
      expect(text).toMatch(/retention_chunks\{database="main",table="public.events",state="requested"\} 1/);
      expect(text).toMatch(/retention_database_up\{database="main"\} 1/);
      expect(text).toMatch(/retention_dead_letters\{topic="database.archival.request"\} 0/);
    } finally {
      await flow.stop();
    }
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('alert rules pass promtool check rules and their unit tests', async () => {
    const check = await promtool('check', 'rules', 'alerts.yml');
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain('SUCCESS: 8 rules found');
    const test = await promtool('test', 'rules', 'alerts.test.yml');
    expect(test.code, test.out).toBe(0);
  });

  it('every metric an alert or a dashboard panel reads is one the services expose', async () => {
    const rules = parseYaml(await readFile(join(deploy, 'prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const dashboard = JSON.parse(await readFile(join(deploy, 'grafana/chunk-archiver.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const used = [
      ...rules.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const)),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr] as const)),
    ];
    const unknown = used.flatMap(([where, expr]) =>
      metricNames(expr)
        .filter((n) => !exposed.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  });
});
