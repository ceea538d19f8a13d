import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

export interface RedisServerHandle {
  url: string;
  port: number;
  /** Kills the server at once (SIGKILL): with no persistence, everything in it is lost. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, as on a hung host. */
  pause(): void;
  /** Lets a paused server carry on (SIGCONT), its data intact. */
  resume(): void;
  stop(): Promise<void>;
}

/** SIGKILL and wait for the exit; nothing to do for a child that has already exited. */
async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Polls a freshly started server on `port` until `ready` says yes (about 5 s at most). */
async function waitForRedis(port: number, ready: (probe: Redis) => Promise<boolean>): Promise<boolean> {
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  probe.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    let up = false;
    try {
      await probe.connect();
      up = await ready(probe);
    } catch {
      // not up yet
    }
    probe.disconnect();
    if (up) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * A private redis-server for tests that kill or restart Redis, so the machine's shared server is
 * never disturbed.
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    if (await waitForRedis(port, async (probe) => (await probe.ping()) === 'PONG')) return;
    throw new Error(`redis-server did not start on port ${port}`);
  }

  async function kill(): Promise<void> {
    const current = child;
    child = undefined;
    if (current) await killChild(current);
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      child?.kill('SIGCONT');
      await kill();
    },
  };
}

export interface RedisSentinelHandle {
  port: number;
  masterName: string;
  stop(): Promise<void>;
}

/**
 * A private Redis Sentinel (redis-server in sentinel mode, config in a temp file) monitoring the
 * server on `masterPort` as `masterName`, for tests of endpoints reached through Sentinel.
 */
export async function startRedisSentinel(
  masterPort: number,
  masterName = 'archiver',
): Promise<RedisSentinelHandle> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const up = await waitForRedis(port, async (probe) => {
    const master = (await probe.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[] | null;
    return Array.isArray(master) && master[1] === String(masterPort);
  });
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`redis sentinel did not start on port ${port}`);
  }
  return {
    port,
    masterName,
    async stop() {
      await killChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
