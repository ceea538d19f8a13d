import { describe, expect, it } from 'vitest';
import { type Cluster, STANDBY_FAILOVER } from './cluster.js';
import { runFault } from './run-fault.js';

// Each archive takes a moment, so that the kill lands with chunks in several states.
const SLOW_CONFIRM = { ARCHIVER_FAILPOINTS: 'archive.before-confirm=sleep:400' };
/** From the kill to the switch at worst: one interval, a failed round of probes, one failover pause. */
const DETECTION_S =
  STANDBY_FAILOVER.health_check_interval_s +
  STANDBY_FAILOVER.health_check_probes * STANDBY_FAILOVER.health_check_probes_delay_s +
  STANDBY_FAILOVER.failover_delay_s;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls the ledger until some chunks are dropped while others are pending and `requested` ones
 * wait (with one archive at a time, all but one of them unread in the stream); the states then.
 */
async function midFlight(cluster: Cluster, requested: number): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = (await cluster.ledger()).map((r) => r.state);
    const waiting = states.filter((s) => s === 'requested').length >= requested && states.includes('pending');
    if (states.includes('dropped') && waiting) return states;
    if (Date.now() > deadline) throw new Error(`never mid-flight: ${states.join(', ')}`);
    await pause(50);
  }
}

describe('reliability: Redis failover', () => {
  it('primary SIGKILLed mid-flight: both services fail over to the standby, nothing waits, then fall back', async () => {
    await runFault(
      'Redis primary SIGKILLed mid-flight: failover to the standby, then fall-back',
      {
        runs: 3,
        // Requests re-sent after an hour: only the re-publish after the switch can converge in time.
        // One archive at a time, two requested per scan: at the kill a request waits in the
        // primary's stream, and dies with it.
        cluster: {
          standbyRedis: true,
          managerDefaults: { request_timeout_s: 3600, chunks_per_scan: 2 },
          workerConfig: { max_concurrent_archival_tasks: 1 },
        },
        timeoutMs: 60_000,
      },
      async (cluster) => {
        const worker = await cluster.startWorker(SLOW_CONFIRM);
        const manager = await cluster.startManager();
        await midFlight(cluster, 2);
        const killedAt = Date.now();
        await cluster.redis.kill();
        for (const service of [manager, worker]) {
          await service.waitForLog(/redis failover: primary → standby/, 10_000);
          const ready = (await (await fetch(`${service.url}/ready`)).json()) as {
            checks: { redis: unknown };
          };
          expect(ready.checks.redis).toEqual({ ok: true });
        }
        const switched = (Date.now() - killedAt) / 1000;
        expect(switched, 'both services on the standby').toBeLessThanOrEqual(DETECTION_S + 1.5);
        await manager.waitForLog(/requests in flight sent again/, 5_000);
        const status = (await (await fetch(`${manager.url}/database/retention/status`)).json()) as {
          redis: unknown;
        };
        expect(status.redis).toMatchObject({ active: 'standby', failovers: 1 });

        // The primary is back: after the fall-back interval both return to it.
        await pause(1_000);
        await cluster.redis.restart();
        for (const service of [manager, worker])
          await service.waitForLog(/redis fallback: standby → primary/, 15_000);
        await cluster.waitConverged(killedAt, 60_000);
        for (const db of cluster.databases) {
          const [timedOut] = await db.sql<{ n: number }[]>`
            select count(*)::int as n from archiver.chunk_events where detail = 'request timed out'`;
          expect(timedOut!.n, 'chunks that waited for the request timeout').toBe(0);
        }
        const metrics = await (await fetch(`${worker.url}/metrics`)).text();
        expect(metrics).toMatch(/redis_endpoint_active\{endpoint="primary"\} 1/);
        expect(metrics).toMatch(/redis_endpoint_switches_total\{reason="failover"\} 1/);
        expect(metrics).toMatch(/redis_endpoint_switches_total\{reason="fallback"\} 1/);
      },
    );
  }, 240_000);

  it('every endpoint down: both services stay up, /ready is 503 naming each, and they resume by themselves', async () => {
    await runFault(
      'Redis primary and standby both down for 5 s',
      {
        runs: 1,
        cluster: { standbyRedis: true, managerDefaults: { chunks_per_scan: 2 } },
        timeoutMs: 60_000,
      },
      async (cluster) => {
        const worker = await cluster.startWorker(SLOW_CONFIRM);
        const manager = await cluster.startManager();
        await midFlight(cluster, 1);
        await Promise.all([cluster.redis.kill(), cluster.standby!.kill()]);
        for (const service of [manager, worker]) {
          const deadline = Date.now() + 10_000;
          let body: { checks: { redis: { ok: boolean; error?: string } } } | undefined;
          let code = 0;
          while (Date.now() < deadline) {
            const res = await fetch(`${service.url}/ready`);
            code = res.status;
            body = (await res.json()) as typeof body;
            if (code === 503 && /primary .*; standby /.test(body!.checks.redis.error ?? '')) break;
            await pause(200);
          }
          expect(code).toBe(503);
          expect(body!.checks.redis.error).toMatch(
            /^no healthy redis endpoint: primary \(redis:\/\/127\.0\.0\.1:\d+\): .+; standby \(redis:\/\/127\.0\.0\.1:\d+\): .+/,
          );
          expect((await fetch(`${service.url}/health`)).status).toBe(200);
        }
        await pause(5_000);
        await Promise.all([cluster.redis.restart(), cluster.standby!.restart()]);
      },
    );
  }, 120_000);
});
