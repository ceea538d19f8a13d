import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BlobStore,
  createAzureBlobStore,
  createLocalBlobStore,
  createS3BlobStore,
} from '@chunk-archiver/storage';
import { startAzurite, startS3rver } from '@chunk-archiver/testkit';

/** One storage backend for a test: its service configuration, environment, a client, and a stop. */
export interface Backend {
  storage: Record<string, unknown>;
  env: Record<string, string>;
  store: BlobStore;
  stop(): Promise<void>;
}

export const BACKENDS: Record<string, () => Promise<Backend>> = {
  async azure() {
    const azurite = await startAzurite();
    const store = await createAzureBlobStore({
      container: 'archive',
      connectionString: azurite.connectionString,
    });
    return {
      storage: { backend: 'azure', azure: { container: 'archive' } },
      env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
      store,
      stop: () => azurite.stop(),
    };
  },
  async s3() {
    const s3 = await startS3rver();
    const store = await createS3BlobStore({
      bucket: 'archive',
      ...s3.client,
    });
    return {
      storage: { backend: 's3', s3: { bucket: 'archive', endpoint: s3.endpoint, force_path_style: true } },
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
      store,
      stop: () => s3.stop(),
    };
  },
  async local() {
    const dir = await mkdtemp(join(tmpdir(), 'e2e-archive-'));
    return {
      storage: { backend: 'local', local: { path: dir, container: 'archive' } },
      env: {},
      store: createLocalBlobStore({ root: dir, container: 'archive' }),
      stop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};
