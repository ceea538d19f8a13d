/**
 * A pull parser for PostgreSQL's binary COPY format. Feed it the stream's chunks with push();
 * next() returns the following complete tuple, or undefined when it needs more bytes. The tuple
 * is a view (buffer + offsets) reused from call to call: read it before calling next() again.
 * Field bytes are never copied; a tuple split across chunks is joined once.
 */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = SIGNATURE.length + 8;

export interface TupleView {
  buf: Buffer;
  /** Byte offset of each field in buf. */
  offsets: Int32Array;
  /** Byte length of each field; -1 for NULL. */
  lengths: Int32Array;
}

export function createCopyBinaryParser(fieldCount: number) {
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  let headerDone = false;
  let finished = false;
  const view: TupleView = { buf, offsets: new Int32Array(fieldCount), lengths: new Int32Array(fieldCount) };

  return {
    push(chunk: Buffer): void {
      buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), chunk]) : chunk;
      pos = 0;
    },
    next(): TupleView | undefined {
      if (finished) return undefined;
      if (!headerDone) {
        if (buf.length < HEADER) return undefined;
        if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE))
          throw new Error('not PostgreSQL binary COPY data');
        const extension = buf.readInt32BE(SIGNATURE.length + 4);
        if (buf.length < HEADER + extension) return undefined;
        pos = HEADER + extension;
        headerDone = true;
      }
      const end = buf.length;
      if (end - pos < 2) return undefined;
      const count = buf.readInt16BE(pos);
      if (count === -1) {
        finished = true;
        pos += 2;
        return undefined;
      }
      if (count !== fieldCount) throw new Error(`COPY tuple has ${count} fields, expected ${fieldCount}`);
      let p = pos + 2;
      for (let i = 0; i < count; i++) {
        if (end - p < 4) return undefined;
        const length = buf.readInt32BE(p);
        p += 4;
        view.lengths[i] = length;
        if (length === -1) continue;
        if (end - p < length) return undefined;
        view.offsets[i] = p;
        p += length;
      }
      pos = p;
      view.buf = buf;
      return view;
    },
    /** True once the trailer was read. */
    finished: () => finished,
    /** Bytes received but not yet part of a complete tuple. */
    pending: () => buf.length - pos,
  };
}
