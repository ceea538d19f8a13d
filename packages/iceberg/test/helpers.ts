import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChunkIdentity } from '@chunk-archiver/events';
import {
  type BlobStore,
  createAzureBlobStore,
  createLocalBlobStore,
  createS3BlobStore,
} from '@chunk-archiver/storage';
import { startAzurite, startS3rver } from '@chunk-archiver/testkit';
import type { ChunkFile, IcebergField } from '../src/index.js';

export interface Backend {
  store: BlobStore;
  stop(): Promise<void>;
}

/** Each backend on a real server of its own (s3rver patched to refuse If-None-Match: * as S3 does). */
export const BACKENDS: Record<string, () => Promise<Backend>> = {
  async local() {
    const root = await mkdtemp(join(tmpdir(), 'iceberg-'));
    const store = createLocalBlobStore({ root, container: 'archive' });
    await store.ensureContainer();
    return { store, stop: () => rm(root, { recursive: true, force: true }) };
  },
  async azure() {
    const azurite = await startAzurite();
    const store = await createAzureBlobStore({
      container: 'archive',
      connectionString: azurite.connectionString,
    });
    await store.ensureContainer();
    return { store, stop: () => azurite.stop() };
  },
  async s3() {
    const s3 = await startS3rver();
    const store = await createS3BlobStore({ bucket: 'archive', ...s3.client });
    await store.ensureContainer();
    return {
      store,
      async stop() {
        await store.close?.();
        await s3.stop();
      },
    };
  },
};

export const FIELDS: IcebergField[] = [
  { id: 1, name: 'id', required: true, type: 'long' },
  { id: 2, name: 'ts', required: true, type: 'timestamptz' },
];

/** Day `day` of March 2021 as a one-day chunk; its file under `attempt`. */
export function dayChunk(table: string, day: number, attempt = 'a', fields = FIELDS): ChunkFile {
  const start = new Date(Date.UTC(2021, 2, day));
  const end = new Date(Date.UTC(2021, 2, day + 1));
  const chunk: ChunkIdentity = {
    database: 'db',
    source_kind: 'timescaledb',
    table_schema: 'public',
    table_name: 'metrics',
    chunk_schema: '_timescaledb_internal',
    chunk_name: `_hyper_1_${day}_chunk`,
    time_column: 'ts',
    dimension_type: 'timestamp',
    chunk_start_time: start.toISOString(),
    chunk_end_time: end.toISOString(),
  };
  const stem = `${table}data/day=${day}/c${day}`;
  return {
    chunk,
    stem,
    key: `${stem}.${attempt}.parquet`,
    rows: 100 + day,
    bytes: 1000 + day,
    sha256: 'a'.repeat(64),
    contentChecksum: String(day),
    fields,
  };
}

/** A case for docs/reliability.md when `pnpm reliability` collects them (RELIABILITY_RESULTS). */
export async function recordSafety(backend: string, name: string, failed: boolean): Promise<void> {
  const file = process.env.RELIABILITY_RESULTS;
  const line = {
    kind: 'safety',
    suite: `Iceberg commits (${backend})`,
    case: name,
    outcome: failed ? 'FAILED' : 'passed',
  };
  if (file) await appendFile(file, `${JSON.stringify(line)}\n`);
}
