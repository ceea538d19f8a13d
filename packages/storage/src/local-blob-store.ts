import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  stat as fsStat,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore, ObjectInfo, UploadOptions, UploadResult } from './blob-store.js';
import { StorageError } from './errors.js';
import { hashing, sha256Of } from './hashing.js';

export interface LocalBlobStoreOptions {
  /** Root directory; objects live under `<root>/<container>/<key>`. */
  root: string;
  container: string;
}

const TEMP_MARKER = '.tmp-';

/**
 * Local filesystem. Writes go to a temp file beside the target, are fsynced, then renamed over
 * it, so a reader sees the old file or the new one, never half of one. The sha256 is recomputed
 * from the file on stat: there is no metadata store, and reading back is the stronger check.
 */
export function createLocalBlobStore(options: LocalBlobStoreOptions): BlobStore {
  const base = resolve(options.root, options.container);

  function pathOf(key: string): string {
    const path = resolve(base, key);
    if (!path.startsWith(base + sep))
      throw new StorageError('INVALID_KEY', `key escapes the storage root: ${key}`, { retryable: false });
    return path;
  }

  async function upload(
    key: string,
    source: AsyncIterable<Uint8Array>,
    _opts: UploadOptions = {},
  ): Promise<UploadResult> {
    const target = pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}${TEMP_MARKER}${randomUUID()}`;
    const hashed = hashing(source);
    const file = await open(temp, 'w');
    try {
      for await (const piece of hashed.stream) await file.write(piece);
      await file.sync();
      await file.close();
      await rename(temp, target);
      const dir = await open(dirname(target), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      const { bytes, sha256 } = hashed.result();
      return { bytes, sha256 };
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(temp, { force: true });
      if (hashed.sourceError()) throw hashed.sourceError();
      throw new StorageError('STORAGE_ERROR', `upload ${key} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** A complete temp file linked to the key: link() fails with EEXIST instead of replacing. */
  async function createExclusive(key: string, body: Buffer): Promise<boolean> {
    const target = pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}${TEMP_MARKER}${randomUUID()}`;
    try {
      await writeFile(temp, body, { flush: true });
      await link(temp, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new StorageError('STORAGE_ERROR', `exclusive create ${key} failed: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await rm(temp, { force: true });
    }
  }

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    const path = pathOf(key);
    try {
      await fsStat(path);
    } catch {
      return undefined;
    }
    const { sha256, bytes } = await sha256Of(createReadStream(path));
    return { key, bytes, sha256, metadata: {} };
  }

  async function* walk(dir: string): AsyncGenerator<{ key: string; bytes: number }> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) yield* walk(full);
      else if (entry.isFile() && !entry.name.includes(TEMP_MARKER)) {
        yield { key: relative(base, full).split(sep).join('/'), bytes: (await fsStat(full)).size };
      }
    }
  }

  return {
    backend: 'local',
    container: options.container,
    async ensureContainer() {
      await mkdir(base, { recursive: true });
    },
    upload,
    createExclusive,
    stat,
    async read(key) {
      return readFile(pathOf(key));
    },
    async readStream(key): Promise<Readable> {
      const path = pathOf(key);
      await fsStat(path);
      return createReadStream(path);
    },
    async remove(key) {
      await rm(pathOf(key), { force: true });
    },
    async *list(prefix) {
      for await (const item of walk(base)) if (item.key.startsWith(prefix)) yield item;
    },
    async ping() {
      await mkdir(base, { recursive: true });
    },
  };
}
