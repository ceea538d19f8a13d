import { ArchiverError } from '@chunk-archiver/common';

/**
 * Parsers from PostgreSQL's text output (under the pinned session settings: ISO dates, UTC) to the
 * values the Parquet writer takes. Exact integer arithmetic throughout: no float goes near a
 * timestamp or a decimal.
 */

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
export const INT32_MAX = 2147483647;
export const INT32_MIN = -2147483648;

/** Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DATE_RE = /^(\d{4,})-(\d{2})-(\d{2})/;

function parseYear(text: string, year: number): number {
  // PostgreSQL prints 1 BC as year 1 with a BC suffix; astronomically that is year 0.
  return text.endsWith(' BC') ? 1 - year : year;
}

/** `2024-01-31` → days since the epoch; ±infinity → the INT32 extremes. */
export function parseDate(text: string): number {
  if (text === 'infinity') return INT32_MAX;
  if (text === '-infinity') return INT32_MIN;
  const m = DATE_RE.exec(text);
  if (!m) throw new ArchiverError('UNPARSEABLE_VALUE', `not a date: ${text}`);
  return daysFromCivil(parseYear(text, Number(m[1])), Number(m[2]), Number(m[3]));
}

/** `HH:MM:SS[.ffffff]` → microseconds (bigint). */
export function parseTimeOfDay(text: string, offset = 0): bigint {
  const h = Number(text.slice(offset, offset + 2));
  const mi = Number(text.slice(offset + 3, offset + 5));
  const s = Number(text.slice(offset + 6, offset + 8));
  let micros = 0;
  if (text[offset + 8] === '.') {
    let end = offset + 9;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    micros = Number(
      text
        .slice(offset + 9, end)
        .padEnd(6, '0')
        .slice(0, 6),
    );
  }
  return BigInt((h * 3600 + mi * 60 + s) * 1_000_000 + micros);
}

/**
 * `2024-01-31 12:34:56.123456[+00[:MM[:SS]]][ BC]` → microseconds since the epoch (bigint).
 * With the session TimeZone pinned to UTC the offset is +00, but any offset is honoured.
 */
export function parseTimestamp(text: string): bigint {
  if (text === 'infinity') return INT64_MAX;
  if (text === '-infinity') return INT64_MIN;
  const m = DATE_RE.exec(text);
  if (!m) throw new ArchiverError('UNPARSEABLE_VALUE', `not a timestamp: ${text}`);
  const days = daysFromCivil(parseYear(text, Number(m[1])), Number(m[2]), Number(m[3]));
  const timeAt = m[0].length + 1;
  let micros = BigInt(days) * 86_400_000_000n + parseTimeOfDay(text, timeAt);
  const tz = /([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(?: BC)?$/.exec(text.slice(timeAt + 8));
  if (tz) {
    const sign = tz[1] === '-' ? -1n : 1n;
    const offsetSeconds = BigInt(Number(tz[2]) * 3600 + Number(tz[3] ?? 0) * 60 + Number(tz[4] ?? 0));
    micros -= sign * offsetSeconds * 1_000_000n;
  }
  return micros;
}

/** `-123.4500` with scale 4 → -1234500n. NaN has no DECIMAL form, so it is refused. */
export function parseDecimal(text: string, scale: number): bigint {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    throw new ArchiverError(
      'NUMERIC_NOT_REPRESENTABLE',
      `numeric value ${text} cannot be stored as a Parquet DECIMAL`,
    );
  }
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const whole = dot === -1 ? body : body.slice(0, dot);
  const fraction = dot === -1 ? '' : body.slice(dot + 1);
  if (fraction.length > scale) {
    throw new ArchiverError('UNPARSEABLE_VALUE', `numeric ${text} has more than ${scale} decimal places`);
  }
  const unscaled = BigInt(whole + fraction.padEnd(scale, '0'));
  return negative ? -unscaled : unscaled;
}

/** `\x0a0b` → bytes. */
export function parseBytea(text: string): Uint8Array {
  if (!text.startsWith('\\x')) throw new ArchiverError('UNPARSEABLE_VALUE', 'bytea is not in hex format');
  return Buffer.from(text.slice(2), 'hex');
}
