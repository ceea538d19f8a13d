import { describe, it } from 'vitest';
import { FAILPOINT_LOG, runFault } from './run-fault.js';

/** How long a dependency stays away. */
const OUTAGE_MS = 30_000;
const RUNS = 2;
// Each run's archive takes a moment, so that the outage lands while chunks are in flight.
const SLOW_CONFIRM = { ARCHIVER_FAILPOINTS: 'archive.before-confirm=sleep:400' };
const SLOW_UPLOAD = { ARCHIVER_FAILPOINTS: 'archive.mid-upload=sleep:400' };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reliability: Redis and storage outages', () => {
  it('Redis restarted with its data lost mid-flight', async () => {
    await runFault('Redis restarted with its data lost mid-flight', { runs: 3 }, async (cluster) => {
      const worker = await cluster.startWorker(SLOW_CONFIRM);
      await cluster.startManager();
      await worker.waitForLog(FAILPOINT_LOG('archive.before-confirm'));
      await cluster.redis.kill();
      await pause(1000);
      await cluster.redis.restart();
    });
  }, 150_000);

  it(`Redis unreachable (frozen) for ${OUTAGE_MS / 1000} s`, async () => {
    await runFault(
      `Redis unreachable for ${OUTAGE_MS / 1000} s`,
      { runs: RUNS, parallel: true, timeoutMs: 120_000 },
      async (cluster) => {
        const worker = await cluster.startWorker(SLOW_CONFIRM);
        await cluster.startManager();
        await worker.waitForLog(FAILPOINT_LOG('archive.before-confirm'));
        cluster.redis.pause();
        await pause(OUTAGE_MS);
        cluster.redis.resume();
      },
    );
  }, 200_000);

  for (const mode of ['down', 'errors'] as const) {
    const label = mode === 'down' ? 'down' : 'answering 503 to everything';
    it(`storage (Azurite and s3rver) ${label} for ${OUTAGE_MS / 1000} s during uploads`, async () => {
      // Both backends at once: each run has its own storage server behind its own fault proxy.
      await Promise.all(
        (['azure', 's3'] as const).map((storage) =>
          runFault(
            `storage (${storage === 'azure' ? 'Azurite' : 's3rver'}) ${label} for ${OUTAGE_MS / 1000} s during uploads`,
            { runs: RUNS, parallel: true, timeoutMs: 120_000, cluster: { storage } },
            async (cluster) => {
              const worker = await cluster.startWorker(SLOW_UPLOAD);
              await cluster.startManager();
              await worker.waitForLog(FAILPOINT_LOG('archive.mid-upload'));
              cluster.proxy!.setMode(mode);
              await pause(OUTAGE_MS);
              cluster.proxy!.setMode('pass');
            },
          ),
        ),
      );
    }, 200_000);
  }
});
