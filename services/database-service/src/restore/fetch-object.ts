import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type BlobStore, hashing } from '@chunk-archiver/storage';

export interface FetchedObject {
  path: string;
  bytes: number;
  sha256: string;
  /** Removes the local copy; safe to call twice. */
  dispose(): Promise<void>;
}

/**
 * Copies an object to a private temporary file, hashing every byte on the way, so what is then
 * read is exactly what was hashed (a second download could differ).
 */
export async function fetchObject(
  store: BlobStore,
  key: string,
  directory = tmpdir(),
): Promise<FetchedObject> {
  const dir = await mkdtemp(join(directory, 'chunk-archiver-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, 'object.parquet');
    const hashed = hashing(await store.readStream(key));
    await pipeline(hashed.stream, createWriteStream(path, { mode: 0o600 }));
    const { bytes, sha256 } = hashed.result();
    return { path, bytes, sha256, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
