import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@chunk-archiver/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface RunningService {
  url: string;
  logs(): string;
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
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
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
  return {
    url,
    logs: () => output,
    async stop() {
      process.off('exit', reap);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
