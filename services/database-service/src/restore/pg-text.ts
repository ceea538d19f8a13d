/**
 * Parquet values (read raw, without the reader's own conversions) back to PostgreSQL's text input
 * form. Integer arithmetic throughout, so timestamps keep their microseconds and decimals every
 * digit; the archiver's encoder (column-mapping.ts) is the other half of each rule here.
 */

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
const MICROS_PER_DAY = 86_400_000_000n;

const pad = (n: number | bigint, width: number) => String(n).padStart(width, '0');

/** Proleptic Gregorian civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted). */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** `YYYY-MM-DD`, and the era suffix PostgreSQL wants for years before 1 AD (year 0 is 1 BC). */
function formatDate(days: number): { text: string; bc: boolean } {
  const { year, month, day } = civilFromDays(days);
  const bc = year <= 0;
  return { text: `${pad(bc ? 1 - year : year, 4)}-${pad(month, 2)}-${pad(day, 2)}`, bc };
}

function formatTimeOfDay(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  return `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}.${pad(fraction, 6)}`;
}

/** µs since 1970 → `timestamp[tz]` input; the INT64 extremes are PostgreSQL's ±infinity. */
export function timestampText(micros: bigint, withZone: boolean): string {
  if (micros === INT64_MAX) return 'infinity';
  if (micros === INT64_MIN) return '-infinity';
  let days = micros / MICROS_PER_DAY;
  let ofDay = micros % MICROS_PER_DAY;
  if (ofDay < 0n) {
    ofDay += MICROS_PER_DAY;
    days -= 1n;
  }
  const date = formatDate(Number(days));
  return `${date.text} ${formatTimeOfDay(ofDay)}${withZone ? '+00' : ''}${date.bc ? ' BC' : ''}`;
}

/** Days since 1970 → `date` input; the INT32 extremes are ±infinity. */
export function dateText(days: number): string {
  if (days === INT32_MAX) return 'infinity';
  if (days === INT32_MIN) return '-infinity';
  const date = formatDate(days);
  return date.bc ? `${date.text} BC` : date.text;
}

export function timeText(micros: bigint): string {
  return formatTimeOfDay(micros);
}

/** An unscaled DECIMAL integer with `scale` digits after the point, as numeric text. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${body}` : body;
}

/** Big-endian two's complement bytes (FIXED_LEN_BYTE_ARRAY decimals) to a bigint. */
export function bigintFromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const bits = BigInt(bytes.length * 8);
  return bytes.length && bytes[0]! & 0x80 ? value - (1n << bits) : value;
}

export function floatText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(value, -0)) return '-0';
  // The shortest form that reads back as the same double; for a float4 it reads back as the
  // same float4, because the double holds that float4 exactly.
  return String(value);
}

export function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function byteaText(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

function quoteArrayElement(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * An array archived as `to_json(column)` back to PostgreSQL's array input. Numbers keep their
 * exact digits (no JSON.parse of numbers), strings are quoted, nested JSON arrays are dimensions.
 * With `jsonElements` (json[] and jsonb[]), each top-level element is a JSON value passed through
 * as its JSON text, so only a one-dimensional json[] comes back, and a JSON null element comes
 * back as NULL: to_json() writes both the same way.
 */
export function jsonArrayToPgArray(json: string, options: { jsonElements?: boolean } = {}): string {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`archived array is not valid JSON (${what} at offset ${i})`);
  };
  const skipSpace = () => {
    while (i < json.length && (json[i] === ' ' || json[i] === '\n' || json[i] === '\t' || json[i] === '\r'))
      i++;
  };
  const stringEnd = (from: number): number => {
    let j = from + 1;
    while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
    if (j >= json.length) fail('unterminated string');
    return j + 1;
  };
  /** The end of one JSON value starting at `from`: strings skipped whole, brackets balanced. */
  const valueEnd = (from: number): number => {
    if (json[from] === '"') return stringEnd(from);
    if (json[from] !== '{' && json[from] !== '[') {
      const match = /^(null|true|false|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(json.slice(from, from + 400));
      if (!match) {
        i = from;
        return fail('unexpected value');
      }
      return from + match[0].length;
    }
    let depth = 0;
    let j = from;
    while (j < json.length) {
      const c = json[j];
      if (c === '"') {
        j = stringEnd(j);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return fail('unterminated value');
  };
  const scalar = (raw: string): string => {
    if (raw === 'null') return 'NULL';
    if (raw.startsWith('"')) return quoteArrayElement(JSON.parse(raw) as string);
    if (raw.startsWith('{')) return quoteArrayElement(raw);
    return raw;
  };
  const element = (depth: number): string => {
    skipSpace();
    if (json[i] === '[' && !(options.jsonElements && depth > 0)) {
      i++;
      skipSpace();
      if (json[i] === ']') {
        i++;
        return '{}';
      }
      const items: string[] = [];
      for (;;) {
        items.push(element(depth + 1));
        skipSpace();
        if (json[i] === ',') i++;
        else if (json[i] === ']') {
          i++;
          return `{${items.join(',')}}`;
        } else fail('expected , or ]');
      }
    }
    const end = valueEnd(i);
    const raw = json.slice(i, end);
    i = end;
    if (options.jsonElements) return raw === 'null' ? 'NULL' : quoteArrayElement(raw);
    return scalar(raw);
  };
  skipSpace();
  if (json[i] !== '[') fail('not an array');
  const out = element(0);
  skipSpace();
  if (i !== json.length) fail('trailing text');
  return out;
}
