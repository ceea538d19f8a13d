import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite, startS3rver } from '@chunk-archiver/testkit';
import {
  type BlobStore,
  createAzureBlobStore,
  createLocalBlobStore,
  createS3BlobStore,
} from '../src/index.js';

export interface Backend {
  store: BlobStore;
  /** Takes the server away (the local disk backend cannot be stopped and returns false). */
  outage?: () => Promise<void>;
  stop(): Promise<void>;
}

/** Each backend on a real server of its own, started for the test. */
export const BACKENDS: Record<string, (opts?: { blockSize?: number }) => Promise<Backend>> = {
  azure: async (opts = {}) => {
    const azurite = await startAzurite();
    const store = await createAzureBlobStore({
      container: 'archive',
      connectionString: azurite.connectionString,
      ...(opts.blockSize ? { blockSize: opts.blockSize } : {}),
    });
    await store.ensureContainer();
    return { store, outage: () => azurite.stop(), stop: () => azurite.stop() };
  },
  s3: async (opts = {}) => {
    const s3 = await startS3rver();
    const store = await createS3BlobStore({
      bucket: 'archive',
      ...s3.client,
      ...(opts.blockSize ? { partSize: opts.blockSize } : {}),
    });
    await store.ensureContainer();
    return {
      store,
      outage: () => s3.stop(),
      async stop() {
        await store.close?.();
        await s3.stop();
      },
    };
  },
  local: async () => {
    const root = await mkdtemp(join(tmpdir(), 'archive-'));
    const store = createLocalBlobStore({ root, container: 'archive' });
    await store.ensureContainer();
    return { store, stop: () => rm(root, { recursive: true, force: true }) };
  },
};
