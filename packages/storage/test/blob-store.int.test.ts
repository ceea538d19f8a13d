import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Of } from '../src/index.js';
import { BACKENDS, type Backend } from './backends.js';

const MB = 1024 * 1024;

/** Yields `total` bytes in uneven pieces, the way an encoder produces them. */
async function* pieces(data: Buffer, sizes = [3_000_001, 17, 1_048_576]): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const size = sizes[i++ % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

async function* failAfter(data: Buffer, bytes: number): AsyncGenerator<Uint8Array> {
  yield data.subarray(0, bytes);
  throw new Error('encoder crashed mid-stream');
}

for (const [name, start] of Object.entries(BACKENDS)) {
  describe(`BlobStore on ${name}`, () => {
    let backend: Backend;
    beforeAll(async () => {
      // Small blocks so a 12 MB object takes several blocks / multipart parts.
      backend = await start({ blockSize: 5 * MB });
    });
    afterAll(async () => {
      await backend?.stop();
    });

    it('streams a multi-block object and reads back its exact size and sha256', async () => {
      const data = randomBytes(12 * MB + 123);
      const expected = createHash('sha256').update(data).digest('hex');
      const result = await backend.store.upload('a/year=2024/c%20d.parquet', pieces(data), {
        contentType: 'application/vnd.apache.parquet',
      });
      expect(result).toEqual({ bytes: data.length, sha256: expected });

      const info = await backend.store.stat('a/year=2024/c%20d.parquet');
      expect(info?.bytes).toBe(data.length);
      expect(info?.sha256).toBe(expected);
      expect(await sha256Of(await backend.store.readStream('a/year=2024/c%20d.parquet'))).toEqual({
        sha256: expected,
        bytes: data.length,
      });
    });

    it('overwrites an existing object as a whole', async () => {
      await backend.store.upload('over/x.bin', pieces(Buffer.from('first version')));
      await backend.store.upload('over/x.bin', pieces(Buffer.from('second')));
      expect((await backend.store.read('over/x.bin')).toString()).toBe('second');
      expect((await backend.store.stat('over/x.bin'))?.bytes).toBe(6);
    });

    it('leaves nothing under the key when the upload fails midway, and keeps an older version intact', async () => {
      const data = randomBytes(11 * MB);
      await expect(backend.store.upload('fail/new.parquet', failAfter(data, 6 * MB))).rejects.toThrow(
        /encoder crashed/,
      );
      expect(await backend.store.stat('fail/new.parquet')).toBeUndefined();

      await backend.store.upload('fail/old.parquet', pieces(Buffer.from('good archive')));
      await expect(backend.store.upload('fail/old.parquet', failAfter(data, 6 * MB))).rejects.toThrow();
      expect((await backend.store.read('fail/old.parquet')).toString()).toBe('good archive');
      const listed = [];
      for await (const item of backend.store.list('fail/')) listed.push(item.key);
      expect(listed).toEqual(['fail/old.parquet']);
    });

    it('stats a missing key as undefined, lists by prefix, and removes', async () => {
      expect(await backend.store.stat('nope/missing.parquet')).toBeUndefined();
      await backend.store.upload('list/1.bin', pieces(Buffer.from('1')));
      await backend.store.upload('list/2.bin', pieces(Buffer.from('22')));
      const listed: Array<{ key: string; bytes: number }> = [];
      for await (const item of backend.store.list('list/')) listed.push(item);
      expect(listed.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'list/1.bin', bytes: 1 },
        { key: 'list/2.bin', bytes: 2 },
      ]);
      await backend.store.remove('list/1.bin');
      expect(await backend.store.stat('list/1.bin')).toBeUndefined();
      await backend.store.ping();
    });
  });
}
