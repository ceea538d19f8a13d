import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@chunk-archiver/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface RunningService {
  url: string;
  pid: number;
  logs(): string;
  /** Resolves once a log line matches; rejects when the process exits first or time runs out. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  /** SIGKILL: no shutdown handler runs, as when a host dies. */
  kill(): Promise<void>;
  stop(): Promise<number | null>;
}

/**
 * One service as a real process from its built output (`pnpm build` first; `./dev test` does it),
 * configured through a file and environment variables as in production.
 */
export async function startService(
  name: 'database-service' | 'archival-service',
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  options: { waitHealthy?: boolean } = {},
): Promise<RunningService> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const configPath = join(dir, 'config.json');
  const port = await freePort();
  await writeFile(
    configPath,
    JSON.stringify({ ...config, service: { ...(config.service as object), port, host: '127.0.0.1' } }),
  );
  const child: ChildProcess = spawn(process.execPath, [join(root, 'services', name, 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      ARCHIVER_CONFIG: configPath,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test that times out never reaches its cleanup: the service must not outlive the test run.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  let output = '';
  const waiters = new Set<() => void>();
  const collect = (d: Buffer) => {
    output += d.toString();
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => {
    for (const wake of waiters) wake();
  });
  const url = `http://127.0.0.1:${port}`;
  if (options.waitHealthy !== false) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name} did not become healthy:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    url,
    pid: child.pid!,
    logs: () => output,
    waitForLog(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) done(() => resolve(line));
          else if (exited())
            done(() => reject(new Error(`${name} exited before logging ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(new Error(`${name} did not log ${pattern} within ${timeoutMs} ms:\n${output}`)),
            ),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async peakRss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : 0;
    },
    async kill() {
      if (exited()) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
    async stop() {
      process.off('exit', reap);
      if (!exited()) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
