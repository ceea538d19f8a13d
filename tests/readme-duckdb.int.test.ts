import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { duckdbQuery, pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';

/** The README's local-backend DuckDB block, exactly as printed there. */
async function readmeQuery(): Promise<string> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```sql\n-- DuckDB, local backend\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README has no "-- DuckDB, local backend" block');
  return block.trim();
}

describe("the README's DuckDB example", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('reads the archive ./dev start leaves on local disk, as written, and finds the source rows', async () => {
    const query = await readmeQuery();
    expect(query).toContain("'.data/local/archive/archive/demo/public.audit_log/**/*.parquet'");
    const db = await pgDatabase('readme');
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    cleanups.push(
      () => db.cleanup(),
      () => sql.end({ timeout: 5 }),
    );
    // The demo's audit_log, two months of 2025 (the year the README queries) and one of 2024.
    await sql`create table audit_log (id bigint not null, at timestamptz not null, actor text not null, action text not null, detail jsonb) partition by range (at)`;
    for (const [name, from, to] of [
      ['audit_log_2024_12', '2024-12-01', '2025-01-01'],
      ['audit_log_2025_01', '2025-01-01', '2025-02-01'],
      ['audit_log_2025_02', '2025-02-01', '2025-03-01'],
    ])
      await sql.unsafe(
        `create table ${name} partition of audit_log for values from ('${from}') to ('${to}')`,
      );
    await sql`insert into audit_log select g, '2024-12-01'::timestamptz + g * interval '15 minutes', 'user_' || (g % 7), 'login', null from generate_series(0, 8000) g where '2024-12-01'::timestamptz + g * interval '15 minutes' < '2025-03-01'`;
    const expected = await sql<{ actor: string; n: number }[]>`
      select actor, count(*)::int as n from audit_log where at >= '2025-01-01' group by actor order by actor`;

    // Laid out as `STORAGE_BACKEND=local ./dev start` lays it out: .data/local/archive/<prefix>/...
    const root = await mkdtemp(join(tmpdir(), 'readme-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const store = createLocalBlobStore({ root: join(root, '.data/local'), container: 'archive' });
    await store.ensureContainer();
    const flow = await retentionFlow({
      databases: { demo: { sql, tables: [{ schema: 'public', name: 'audit_log', kind: 'partition' }] } },
      store,
    });
    cleanups.push(() => flow.stop());
    await flow.worker.start();
    await flow.manager.start();
    await flow.waitFor(
      async () => (await flow.ledger('demo')).filter((c) => c.state === 'dropped').length === 3,
      'the three partitions archived and dropped',
    );

    // The only change: rooted at this test's directory instead of the repository's.
    const rooted = query.replace("'.data/local/", `'${root}/.data/local/`);
    const rows = await duckdbQuery(rooted);
    expect(rows.map((r) => ({ actor: r.actor, n: Number(r.n) }))).toEqual(expected);
  });
});
