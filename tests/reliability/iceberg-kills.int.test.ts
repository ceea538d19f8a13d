import { describe, it } from 'vitest';
import { killManagerAt, runFault } from './run-fault.js';

const RUNS = 2;

/**
 * The Iceberg commit sits between the verified upload and the drop: the manager SIGKILLed on
 * either side of it must converge with every chunk committed once and dropped only once committed
 * (runFault holds each run to that, and icebergProblems to one live file per dropped chunk).
 */
describe('reliability: Iceberg commits and process kills', () => {
  for (const step of ['iceberg.before-commit', 'iceberg.mid-commit', 'drop.before']) {
    it(`database-service SIGKILLed at ${step} (Iceberg table)`, async () => {
      await runFault(
        `Iceberg: database-service SIGKILLed at ${step}`,
        { runs: RUNS, cluster: { iceberg: true } },
        (cluster) => killManagerAt(cluster, step),
      );
    }, 120_000);
  }
});
