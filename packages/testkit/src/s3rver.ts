import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface S3rverHandle {
  /** Options for an S3 client of this server (createS3BlobStore takes them as they are). */
  client: { endpoint: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string };
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** s3rver's fixed development credentials. */
const S3RVER_KEY = 'S3RVER';

/** An S3-compatible server in this process (s3rver), storing in a temp directory. */
export async function startS3rver(options: { buckets?: string[] } = {}): Promise<S3rverHandle> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver');
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    directory: dir,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  await server.run();
  let stopped = false;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    client: { endpoint, forcePathStyle: true, accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    endpoint,
    port,
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
