import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** The well-known Azurite development account; it is public and only ever used locally. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(port: number, host = '127.0.0.1'): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://${host}:${port}/${AZURITE_ACCOUNT};`
  );
}

export interface AzuriteHandle {
  port: number;
  connectionString: string;
  stop(): Promise<void>;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Azurite's blob service in this process, persisting to a temp directory (not memory, so large
 * archives do not inflate the test process). Its API-version check is skipped because the SDK
 * may be newer than the emulator.
 */
export async function startAzurite(options: { port?: number; dir?: string } = {}): Promise<AzuriteHandle> {
  const require = createRequire(import.meta.url);
  const BlobServer = require('azurite/dist/src/blob/BlobServer').default;
  const BlobConfiguration = require('azurite/dist/src/blob/BlobConfiguration').default;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'azurite-')));
  await mkdir(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const config = new BlobConfiguration(
    '127.0.0.1',
    port,
    undefined,
    join(dir, '__azurite_db_blob__.json'),
    join(dir, '__azurite_db_blob_extent__.json'),
    [{ locationId: 'Default', locationPath: join(dir, 'blobs'), maxConcurrency: 10 }],
    false,
    undefined,
    false,
    undefined,
    true, // loose
    true, // skipApiVersionCheck
  );
  const server: AzuriteServer = new BlobServer(config);
  await server.start();
  let stopped = false;
  return {
    port,
    connectionString: azuriteConnectionString(port),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        if (!options.dir) await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
