/**
 * Every failpoint, with the step it marks. A test seam, not a feature: the reliability suite
 * (tests/reliability/) stops or slows a service at exactly these steps; production never sets
 * ARCHIVER_FAILPOINTS. A name not listed here does not compile.
 */
export const FAILPOINTS = {
  'archive.mid-extraction': 'the worker, after its first row group, before the next (inside the snapshot)',
  'archive.mid-upload': 'the worker, once the first piece of the object is with the store',
  'archive.before-confirm': 'the worker, object and manifest written and verified, before the confirmation',
  'scan.mid-scan': "the manager, after recording one table's expired chunks, before the next table",
  'iceberg.before-commit':
    'the manager, chunk archived and verified, before its Iceberg commit reads the table',
  'iceberg.mid-commit':
    "the manager, table read and the snapshot's manifests written, before the next metadata version",
  'drop.before': 'the manager, chunk archived and verified, before its drop transaction',
  'drop.in-transaction': 'the manager, inside the drop transaction, recount done, before DROP',
} as const;

export type FailpointName = keyof typeof FAILPOINTS;

/**
 * Named steps where a test can stop a process on purpose, as etcd's gofail and TiKV's fail-rs do:
 * `ARCHIVER_FAILPOINTS="archive.mid-upload,drop.in-transaction=sleep:3000"`. A plain name makes the
 * process announce the step on stderr and wait there until it is killed; `=sleep:MS` waits that
 * long and carries on. Unset (production), each call is one environment lookup.
 */
export async function failpoint(name: FailpointName, context: Record<string, string> = {}): Promise<void> {
  const spec = process.env.ARCHIVER_FAILPOINTS;
  if (!spec) return;
  const entry = spec
    .split(',')
    .map((s) => s.trim())
    .find((s) => s === name || s.startsWith(`${name}=`));
  if (!entry) return;
  const sleep = /=sleep:(\d+)$/.exec(entry);
  process.stderr.write(
    `${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, ...context, failpoint: name, msg: 'failpoint reached' })}\n`,
  );
  if (sleep) {
    await new Promise((resolve) => setTimeout(resolve, Number(sleep[1])));
    return;
  }
  // Held open by a timer, so the process does not exit on an empty event loop.
  await new Promise(() => setInterval(() => {}, 60_000));
}
