import { describe, expect, it } from 'vitest';
import { createCopyBinaryParser } from '../src/parquet/copy-binary.js';
import { decodeDate, decodeNumericUnscaled, decodeTimestamp, INT64_MAX } from '../src/parquet/pg-binary.js';

/** Builds binary COPY bytes: header, tuples of (Buffer | null) fields, trailer. */
function copyBytes(tuples: Array<Array<Buffer | null>>): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const fields of tuples) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(fields.length);
    parts.push(count);
    for (const f of fields) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(f === null ? -1 : f.length);
      parts.push(length);
      if (f) parts.push(f);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

const int8 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};

describe('binary COPY parser', () => {
  it('reads every tuple whatever the chunk boundaries, with NULLs, and sees the trailer', () => {
    const data = copyBytes([
      [int8(1n), Buffer.from('héllo'), null],
      [int8(-2n), Buffer.alloc(0), Buffer.from('x')],
    ]);
    for (const size of [1, 3, 7, 19, data.length]) {
      const parser = createCopyBinaryParser(3);
      const rows: unknown[] = [];
      for (let i = 0; i < data.length; i += size) {
        parser.push(data.subarray(i, i + size));
        for (let t = parser.next(); t; t = parser.next()) {
          rows.push([
            t.buf.readBigInt64BE(t.offsets[0]!),
            t.lengths[1] === -1 ? null : t.buf.toString('utf8', t.offsets[1]!, t.offsets[1]! + t.lengths[1]!),
            t.lengths[2] === -1 ? null : t.buf.toString('utf8', t.offsets[2]!, t.offsets[2]! + t.lengths[2]!),
          ]);
        }
      }
      expect(rows).toEqual([
        [1n, 'héllo', null],
        [-2n, '', 'x'],
      ]);
      expect(parser.finished()).toBe(true);
      expect(parser.pending()).toBe(0);
    }
  });

  it('refuses data that is not binary COPY and tuples of the wrong width', () => {
    const parser = createCopyBinaryParser(1);
    parser.push(Buffer.from('1\thello\n and more text to pass the header length'));
    expect(() => parser.next()).toThrow(/not PostgreSQL binary COPY/);
    const wrong = createCopyBinaryParser(2);
    wrong.push(copyBytes([[int8(1n)]]));
    expect(() => wrong.next()).toThrow(/1 fields, expected 2/);
  });
});

describe('binary decoders', () => {
  it('shifts timestamps and dates from the 2000 epoch to 1970, keeping infinity', () => {
    expect(decodeTimestamp(int8(0n), 0)).toBe(946_684_800_000_000n);
    expect(decodeTimestamp(int8(INT64_MAX), 0)).toBe(INT64_MAX);
    const day = Buffer.alloc(4);
    day.writeInt32BE(-1);
    expect(decodeDate(day, 0)).toBe(10_956);
  });

  it('turns base-10000 numerics into exact unscaled integers', () => {
    // -1234567890.12 = digits [12, 3456, 7890, 1200], weight 2, negative, dscale 2
    const n = Buffer.alloc(16);
    n.writeInt16BE(4, 0);
    n.writeInt16BE(2, 2);
    n.writeUInt16BE(0x4000, 4);
    n.writeInt16BE(2, 6);
    for (const [i, d] of [12, 3456, 7890, 1200].entries()) n.writeInt16BE(d, 8 + 2 * i);
    expect(decodeNumericUnscaled(n, 0, 2)).toBe(-123456789012n);
    expect(decodeNumericUnscaled(n, 0, 5)).toBe(-123456789012000n);
    const nan = Buffer.alloc(8);
    nan.writeUInt16BE(0xc000, 4);
    expect(() => decodeNumericUnscaled(nan, 0, 2)).toThrow(/NaN cannot be stored/);
  });
});
