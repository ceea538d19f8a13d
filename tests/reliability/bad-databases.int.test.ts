import { type FakePostgres, startFakePostgres } from '@chunk-archiver/testkit';
import { describe, expect, it } from 'vitest';
import { createCluster, recordResult } from './cluster.js';

/** GET with a client deadline far above what the answer may take, so a hang fails the test, not the run. */
async function timed(url: string): Promise<{ ms: number; status: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = (await response.json()) as Record<string, unknown>;
  return { ms: performance.now() - started, status: response.status, body };
}

describe('reliability: databases that are not PostgreSQL, beside a healthy one', () => {
  it('the healthy database is archived and dropped on time, status answers within 2 s, SIGTERM exits cleanly', async () => {
    const fakes: FakePostgres[] = [];
    for (const kind of ['http', 'silent', 'closes-mid-query'] as const)
      fakes.push(await startFakePostgres(kind));
    const extra = Object.fromEntries(
      fakes.map((f) => [
        f.kind.replaceAll('-', '_'),
        {
          url: `postgres://postgres@127.0.0.1:${f.port}/postgres`,
          pool: { max: 2, connect_timeout_s: 3 },
          tables: [{ name: 'events', kind: 'partition' }],
        },
      ]),
    );
    const cluster = await createCluster({ extraManagerDatabases: extra });
    try {
      const started = Date.now();
      await cluster.startWorker();
      const manager = await cluster.startManager();
      const seconds = await cluster.waitConverged(started, 60_000);
      const outcome = await cluster.outcome();
      expect(outcome.problems).toEqual([]);
      expect(outcome).toMatchObject({ rowsLost: 0, wrongDrops: 0, dropped: outcome.chunks });

      const statusMs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const status = await timed(`${manager.url}/database/retention/status`);
        statusMs.push(status.ms);
        expect(status.status).toBe(200);
        const stats = status.body.database_stats as Array<{
          database: string;
          ok: boolean;
          error: string | null;
        }>;
        expect(stats.find((d) => d.database === 'db0')).toMatchObject({ ok: true });
        for (const f of fakes)
          expect(stats.find((d) => d.database === f.kind.replaceAll('-', '_'))?.ok).toBe(false);
      }
      expect(Math.max(...statusMs)).toBeLessThan(2_000);
      const ready = await timed(`${manager.url}/ready`);
      expect(ready.status).toBe(503);
      const checks = ready.body.checks as Record<string, { ok: boolean }>;
      expect(checks['database:db0']).toEqual({ ok: true });
      for (const f of fakes) expect(checks[`database:${f.kind.replaceAll('-', '_')}`]?.ok).toBe(false);
      for (const f of fakes) expect(f.connections()).toBeGreaterThan(0);

      const stopping = Date.now();
      expect(await manager.stop()).toBe(0);
      const stopMs = Date.now() - stopping;
      expect(stopMs).toBeLessThan(10_000);
      await recordResult('isolation', {
        case: 'three bad databases (HTTP, silent, closes mid-query) beside a healthy one',
        converge_seconds: Math.round(seconds * 10) / 10,
        chunks: outcome.chunks,
        rows_lost: outcome.rowsLost,
        wrong_drops: outcome.wrongDrops,
        status_ms_max: Math.round(Math.max(...statusMs)),
        ready_status: ready.status,
        sigterm_exit_ms: stopMs,
      });
    } catch (error) {
      for (const service of cluster.running) console.error(service.logs().slice(-4000));
      throw error;
    } finally {
      await cluster.stop();
      for (const f of fakes) await f.stop();
    }
  }, 120_000);
});
