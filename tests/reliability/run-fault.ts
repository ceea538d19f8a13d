import { expect } from 'vitest';
import {
  type Cluster,
  type ClusterOptions,
  createCluster,
  type FaultResult,
  recordResult,
} from './cluster.js';

/**
 * Runs one fault `runs` times, each on a fresh cluster (in parallel when `parallel`), and holds
 * every run to the promise: all expired chunks archived once under their key, dropped only after
 * verification, the archive identical to the rows it replaced.
 */
export async function runFault(
  fault: string,
  options: { runs: number; parallel?: boolean; cluster?: ClusterOptions; timeoutMs?: number },
  inject: (cluster: Cluster, run: number) => Promise<void>,
): Promise<FaultResult> {
  const one = async (run: number) => {
    const cluster = await createCluster(options.cluster);
    try {
      const started = Date.now();
      await inject(cluster, run).catch((error: unknown) => {
        throw withEveryLog(error, cluster);
      });
      const seconds = await cluster.waitConverged(started, options.timeoutMs);
      const outcome = await cluster.outcome();
      expect(outcome.problems, `${fault}, run ${run}`).toEqual([]);
      expect(outcome).toMatchObject({ rowsLost: 0, wrongDrops: 0, dropped: outcome.chunks });
      return { seconds, outcome };
    } finally {
      await cluster.stop();
    }
  };
  const runs = Array.from({ length: options.runs }, (_, i) => i + 1);
  const results = options.parallel ? await Promise.all(runs.map(one)) : [];
  if (!options.parallel) for (const run of runs) results.push(await one(run));
  const result: FaultResult = {
    fault,
    runs: results.length,
    chunks: results.reduce((n, r) => n + r.outcome.chunks, 0),
    rows: results.reduce((n, r) => n + r.outcome.rows, 0),
    rowsLost: results.reduce((n, r) => n + r.outcome.rowsLost, 0),
    wrongDrops: results.reduce((n, r) => n + r.outcome.wrongDrops, 0),
    convergeSeconds: results.map((r) => Math.round(r.seconds * 10) / 10),
  };
  await recordResult('fault', result);
  return result;
}

/**
 * A fault that could not even be injected (a process never reached its failpoint, say) is seen
 * from one process; what the others did is usually the reason, so their log tails go with it.
 */
function withEveryLog(error: unknown, cluster: Cluster): Error {
  const tails = cluster.running.map(
    (r, i) => `--- process ${i + 1} of ${cluster.running.length} ---\n${r.logs().slice(-4000)}`,
  );
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${message}\n\nthe cluster's processes, last lines of each:\n${tails.join('\n')}`, {
    cause: error,
  });
}

export const FAILPOINT_LOG = (name: string) => new RegExp(`"failpoint":"${name.replace('.', '\\.')}"`);

/** The manager SIGKILLed at `step` and a new one started in its place, a worker running throughout. */
export async function killManagerAt(cluster: Cluster, step: string): Promise<void> {
  await cluster.startWorker();
  const doomed = await cluster.startManager({ ARCHIVER_FAILPOINTS: step }, false);
  await doomed.waitForLog(FAILPOINT_LOG(step));
  await doomed.kill();
  await cluster.startManager();
}
