import { createRedisBus } from '@chunk-archiver/bus';
import { silentLogger } from '@chunk-archiver/common';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { pgDatabase, redisNamespace } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionConfigSchema } from '../src/config.js';
import { createManagedDatabase } from '../src/managed-database.js';
import { createRetentionManager } from '../src/manager.js';

describe('retention manager: leadership and isolation', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await pgDatabase('manager');
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    await sql`create table events (id int, at timestamptz not null) partition by range (at)`;
    await sql`create table events_2019 partition of events for values from ('2019-01-01') to ('2020-01-01')`;
    await sql`insert into events values (1, '2019-05-05')`;
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
  });

  it('lets exactly one of two managers lead a database, and hands over when the leader goes', async () => {
    const config = { tables: [], enabled: true } as never;
    const leaderConnect = () => postgres(db.url, { max: 1, idle_timeout: 0, onnotice: () => {} });
    const a = createManagedDatabase('main', config, silentLogger(), {
      sql: postgres(db.url, { max: 2, onnotice: () => {} }),
      leaderConnect,
    });
    const b = createManagedDatabase('main', config, silentLogger(), {
      sql: postgres(db.url, { max: 2, onnotice: () => {} }),
      leaderConnect,
    });
    try {
      expect(await a.leader.ensure()).toBe(true);
      expect(await b.leader.ensure()).toBe(false);
      expect(await a.leader.ensure()).toBe(true);
      await a.leader.release();
      expect(await b.leader.ensure()).toBe(true);
      expect(await a.leader.ensure()).toBe(false);
    } finally {
      await a.leader.release();
      await b.leader.release();
      await a.sql.end();
      await b.sql.end();
    }
  });

  it('keeps scanning the healthy database when another one is unreachable, and status says which failed', async () => {
    const ns = await redisNamespace('isolation');
    const bus = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
    const target = new URL(db.url);
    const config = retentionConfigSchema.parse({
      storage: { backend: 'local', local: { path: '/tmp/unused-archive' } },
      parallel_databases: true,
      databases: {
        // Port 1 on loopback: refused at once.
        broken: {
          host: '127.0.0.1',
          port: 1,
          database: 'nope',
          pool: { connect_timeout_s: 2 },
          tables: [{ name: 'events', kind: 'partition' }],
        },
        main: {
          host: target.hostname,
          port: Number(target.port),
          user: 'postgres',
          database: db.database,
          tables: [{ name: 'events', kind: 'partition' }],
        },
      },
    });
    const manager = createRetentionManager({
      config,
      logger: silentLogger(),
      bus,
      store: createLocalBlobStore({ root: '/tmp/unused-archive', container: 'archive' }),
      consumer: 'm1',
    });
    try {
      const reports = await manager.scanner.scanOnce();
      expect(reports.map((r) => [r.database, r.ok])).toEqual([
        ['broken', false],
        ['main', true],
      ]);
      expect(reports[0]!.error).toMatch(/ECONNREFUSED|connect/);
      expect(reports[1]!.requested.map((c) => c.chunk)).toEqual(['public.events_2019']);
      const status = (await manager.status()) as {
        databases_failed: number;
        databases_processed: number;
        database_stats: Array<{ database: string; ok: boolean; error: string | null }>;
      };
      expect(status.databases_failed).toBe(1);
      expect(status.databases_processed).toBe(1);
      expect(status.database_stats.find((d) => d.database === 'broken')!.error).toMatch(
        /ECONNREFUSED|connect/,
      );
      // The secret-free error never carries a password: none was configured, and none appears.
      expect(JSON.stringify(status)).not.toMatch(/password/i);
    } finally {
      await manager.stop();
      for (const d of manager.databases.values()) await d.close();
      await bus.close();
      await ns.cleanup();
    }
  });
});
