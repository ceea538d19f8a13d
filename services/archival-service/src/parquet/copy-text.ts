/**
 * Splits PostgreSQL COPY text-format output into rows of fields. Fields are `\t`-separated, rows
 * end with `\n`, `\N` is NULL, and backslash escapes stand for control characters.
 */

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

export function unescapeCopyField(field: string): string {
  if (!field.includes('\\')) return field;
  let out = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = field[i + 1];
    if (next === undefined) break;
    if (next in ESCAPES) {
      out += ESCAPES[next];
      i++;
    } else if (next === 'x' && /^[0-9a-fA-F]/.test(field[i + 2] ?? '')) {
      const hex = /^[0-9a-fA-F]{1,2}/.exec(field.slice(i + 2))![0];
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 1 + hex.length;
    } else if (/[0-7]/.test(next)) {
      const oct = /^[0-7]{1,3}/.exec(field.slice(i + 1))![0];
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += oct.length;
    } else {
      out += next;
      i++;
    }
  }
  return out;
}

/** Turns a stream of COPY text bytes into rows; each field is a string or null. */
export async function* copyTextRows(source: AsyncIterable<Uint8Array>): AsyncGenerator<Array<string | null>> {
  let carry: Buffer | undefined;
  for await (const piece of source) {
    const buf: Buffer = carry
      ? Buffer.concat([carry, piece as Buffer])
      : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const lastNewline = buf.lastIndexOf(10);
    if (lastNewline === -1) {
      carry = Buffer.from(buf);
      continue;
    }
    // Splitting UTF-8 at a newline byte never cuts a character in two.
    const text = buf.toString('utf8', 0, lastNewline);
    carry = lastNewline + 1 < buf.length ? Buffer.from(buf.subarray(lastNewline + 1)) : undefined;
    for (const line of text.split('\n')) yield splitLine(line);
  }
  if (carry?.length) throw new Error('COPY output ended in the middle of a row');
}

function splitLine(line: string): Array<string | null> {
  const fields = line.split('\t');
  const out: Array<string | null> = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    out[i] = f === '\\N' ? null : unescapeCopyField(f);
  }
  return out;
}
