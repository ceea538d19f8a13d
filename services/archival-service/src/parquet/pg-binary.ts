import { ArchiverError } from '@chunk-archiver/common';

/**
 * Decoders from PostgreSQL's binary send formats to the values the Parquet writer takes. Exact
 * integer arithmetic throughout: no float goes near a timestamp or a decimal.
 */

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
export const INT32_MAX = 2147483647;
export const INT32_MIN = -2147483648;

/** PostgreSQL counts from 2000-01-01; Parquet from 1970-01-01. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const PG_EPOCH_DAYS = 10_957;

/** timestamp/timestamptz: µs since 2000 → µs since 1970; ±infinity stay at the INT64 extremes. */
export function decodeTimestamp(buf: Buffer, offset: number): bigint {
  const v = buf.readBigInt64BE(offset);
  if (v === INT64_MAX || v === INT64_MIN) return v;
  return v + PG_EPOCH_MICROS;
}

/** date: days since 2000 → days since 1970; ±infinity stay at the INT32 extremes. */
export function decodeDate(buf: Buffer, offset: number): number {
  const v = buf.readInt32BE(offset);
  if (v === INT32_MAX || v === INT32_MIN) return v;
  return v + PG_EPOCH_DAYS;
}

const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;

/**
 * numeric → the unscaled integer of a DECIMAL with `scale` digits after the point. The binary form
 * is base-10000 digits with a weight (position of the first digit) and a sign.
 */
export function decodeNumericUnscaled(buf: Buffer, offset: number, scale: number): bigint {
  const ndigits = buf.readInt16BE(offset);
  const weight = buf.readInt16BE(offset + 2);
  const sign = buf.readUInt16BE(offset + 4);
  if (sign === NUMERIC_NAN || sign === 0xd000 || sign === 0xf000) {
    const name = sign === NUMERIC_NAN ? 'NaN' : sign === 0xd000 ? 'Infinity' : '-Infinity';
    throw new ArchiverError(
      'NUMERIC_NOT_REPRESENTABLE',
      `numeric value ${name} cannot be stored as a Parquet DECIMAL`,
    );
  }
  // value = Σ d_i · 10000^(weight − i); unscaled = value · 10^scale, exact by construction
  // because the column's typmod bounds the digits after the point.
  let unscaled = 0n;
  let exponent = 4 * weight + scale;
  for (let i = 0; i < ndigits; i++) {
    const digit = BigInt(buf.readInt16BE(offset + 8 + 2 * i));
    if (exponent >= 0) unscaled += digit * 10n ** BigInt(exponent);
    else if (digit !== 0n) {
      const divisor = 10n ** BigInt(-exponent);
      if (digit % divisor !== 0n)
        throw new ArchiverError('UNPARSEABLE_VALUE', `numeric has more than ${scale} decimal places`);
      unscaled += digit / divisor;
    }
    exponent -= 4;
  }
  return sign === NUMERIC_NEG ? -unscaled : unscaled;
}
