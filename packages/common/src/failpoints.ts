/**
 * Named steps where a test can stop a process on purpose, as etcd's gofail and TiKV's fail-rs do:
 * `ARCHIVER_FAILPOINTS="archive.mid-upload,drop.in-transaction=sleep:3000"`. A plain name makes the
 * process announce the step on stderr and wait there until it is killed; `=sleep:MS` waits that
 * long and carries on. Unset (production), each call is one environment lookup.
 */
export async function failpoint(name: string, context: Record<string, string> = {}): Promise<void> {
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
