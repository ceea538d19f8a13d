import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '@chunk-archiver/storage';

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
    const hash = createHash('sha256');
    let bytes = 0;
    const tap = new Transform({
      transform(piece: Buffer, _encoding, done) {
        hash.update(piece);
        bytes += piece.length;
        done(null, piece);
      },
    });
    await pipeline(await store.readStream(key), tap, createWriteStream(path, { mode: 0o600 }));
    return { path, bytes, sha256: hash.digest('hex'), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
