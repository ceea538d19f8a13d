import { testDatabaseUrl } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createCluster, recordResult } from './cluster.js';

const PARTITIONS = 100;
const ROWS = 500;

describe('reliability: load', () => {
  it('three databases, hundreds of expired chunks, two archival-service processes; one database down stays its own problem', async () => {
    const cluster = await createCluster({
      databases: 3,
      partitions: PARTITIONS,
      daily: true,
      rowsPerPartition: ROWS,
      managerDefaults: { request_timeout_s: 300 },
    });
    const admin = postgres(testDatabaseUrl(), { max: 1, onnotice: () => {} });
    const down = new URL(cluster.databases[2]!.url).pathname.slice(1);
    try {
      // db2 refuses every connection: its scans and archives fail while db0 and db1 carry on.
      await admin`alter database ${admin(down)} with allow_connections false`;
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${down}`;
      const workers = [await cluster.startWorker(), await cluster.startWorker()];
      const manager = await cluster.startManager();
      const started = Date.now();
      const healthySeconds = await cluster.waitConverged(started, 240_000, ['db0', 'db1']);
      const status = (await (await fetch(`${manager.url}/database/retention/status`)).json()) as {
        database_stats: Array<{
          database: string;
          healthy?: boolean;
          last_scan: { error: string | null };
        }>;
      };
      const db2 = status.database_stats.find((d) => d.database === 'db2');
      expect(db2?.last_scan.error).toBeTruthy();

      await admin`alter database ${admin(down)} with allow_connections true`;
      const allSeconds = await cluster.waitConverged(started, 240_000);
      const outcome = await cluster.outcome();
      expect(outcome.problems).toEqual([]);
      expect(outcome).toMatchObject({ rowsLost: 0, wrongDrops: 0, dropped: 3 * PARTITIONS });

      const healthyChunks = 2 * PARTITIONS;
      const result = {
        databases: 3,
        chunks: outcome.chunks,
        rows: outcome.rows,
        workers: workers.length,
        healthy_databases_seconds: Math.round(healthySeconds * 10) / 10,
        chunks_per_minute: Math.round((healthyChunks / healthySeconds) * 60),
        rows_per_second: Math.round((healthyChunks * ROWS) / healthySeconds),
        all_converged_seconds: Math.round(allSeconds * 10) / 10,
        db2_error_while_down: db2?.last_scan.error?.slice(0, 120),
        peak_rss_mb: {
          'archival-service 1': Math.round((await workers[0]!.peakRss()) / 1048576),
          'archival-service 2': Math.round((await workers[1]!.peakRss()) / 1048576),
          'database-service': Math.round((await manager.peakRss()) / 1048576),
        },
        rows_lost: outcome.rowsLost,
        wrong_drops: outcome.wrongDrops,
      };
      await recordResult('load', result);
      expect(result.peak_rss_mb['archival-service 1']).toBeGreaterThan(0);
    } finally {
      await admin`alter database ${admin(down)} with allow_connections true`.catch(() => undefined);
      await admin.end({ timeout: 5 });
      await cluster.stop();
    }
  }, 600_000);
});
