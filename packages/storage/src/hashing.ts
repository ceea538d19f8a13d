import { createHash } from 'node:crypto';

/**
 * Wraps a byte source so its sha256 and md5 and length are known when it has been consumed,
 * without holding more than one piece in memory.
 */
export function hashing(source: AsyncIterable<Uint8Array>) {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  let done = false;
  let sourceError: unknown;
  async function* iterate(): AsyncGenerator<Uint8Array> {
    try {
      for await (const piece of source) {
        sha256.update(piece);
        md5.update(piece);
        bytes += piece.length;
        yield piece;
      }
    } catch (error) {
      sourceError = error;
      throw error;
    }
    done = true;
  }
  return {
    stream: iterate(),
    /**
     * The source's own failure, if it failed: a client library may report a follow-up error (a
     * failed abort, say) instead, which would hide what really went wrong.
     */
    sourceError: () => sourceError,
    result() {
      if (!done) throw new Error('the source was not fully consumed');
      return { bytes, sha256: sha256.digest('hex'), md5: md5.digest() };
    },
  };
}

/** Re-chunks a byte source into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    while (length + buf.length >= size) {
      const take = size - length;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      length = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) {
      // Copy: the producer may reuse its buffer after yielding.
      parts.push(Buffer.from(buf));
      length += buf.length;
    }
  }
  if (length) yield Buffer.concat(parts, length);
}

/** sha256 of a whole stream, for reading an object back. */
export async function sha256Of(
  source: AsyncIterable<Uint8Array>,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of source) {
    hash.update(piece);
    bytes += piece.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** A whole (small) object into memory. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const piece of source)
    chunks.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
  return Buffer.concat(chunks);
}
