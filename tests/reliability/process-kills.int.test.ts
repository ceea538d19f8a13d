import { describe, it } from 'vitest';
import { FAILPOINT_LOG, killManagerAt, runFault } from './run-fault.js';

const RUNS = 3;

/** SIGKILL at a named step of a service, then a replacement: restarted, or another replica already running. */
describe('reliability: processes killed at every step', () => {
  for (const step of ['archive.mid-extraction', 'archive.mid-upload', 'archive.before-confirm']) {
    it(`archival-service SIGKILLed at ${step}`, async () => {
      await runFault(`archival-service SIGKILLed at ${step}`, { runs: RUNS }, async (cluster, run) => {
        await cluster.startManager();
        const doomed = await cluster.startWorker({ ARCHIVER_FAILPOINTS: step });
        // Odd runs: a new process replaces it. Even runs: a replica that was running all along takes over.
        if (run % 2 === 0) await cluster.startWorker();
        await doomed.waitForLog(FAILPOINT_LOG(step));
        await doomed.kill();
        if (run % 2 === 1) await cluster.startWorker();
      });
    }, 120_000);
  }

  for (const step of ['scan.mid-scan', 'drop.before']) {
    it(`database-service SIGKILLed at ${step}`, async () => {
      await runFault(`database-service SIGKILLed at ${step}`, { runs: RUNS }, (cluster) =>
        killManagerAt(cluster, step),
      );
    }, 120_000);
  }
});
