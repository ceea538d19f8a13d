import { describe, expect, it } from 'vitest';
import { decimalByteLength } from '../src/parquet/column-mapping.js';
import { copyTextRows, unescapeCopyField } from '../src/parquet/copy-text.js';
import {
  daysFromCivil,
  INT64_MAX,
  parseDate,
  parseDecimal,
  parseTimeOfDay,
  parseTimestamp,
} from '../src/parquet/pg-text.js';

describe('PostgreSQL text parsing', () => {
  it('converts dates to days since the epoch, BC and infinity included', () => {
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(parseDate('2024-03-10')).toBe(19792);
    expect(parseDate('0001-01-01')).toBe(-719162);
    expect(parseDate('0001-12-31 BC')).toBe(-719163);
    expect(parseDate('infinity')).toBe(2147483647);
  });

  it('converts timestamps to exact microseconds, honouring offsets', () => {
    expect(parseTimestamp('1970-01-01 00:00:00')).toBe(0n);
    expect(parseTimestamp('2024-03-10 06:59:59.999999+00')).toBe(1710053999999999n);
    expect(parseTimestamp('2024-03-10 01:59:59.999999-05')).toBe(1710053999999999n);
    expect(parseTimestamp('2024-03-10 12:29:59.5+05:30')).toBe(1710053999500000n);
    expect(parseTimestamp('infinity')).toBe(INT64_MAX);
    expect(parseTimeOfDay('24:00:00')).toBe(86_400_000_000n);
  });

  it('converts decimals to unscaled integers without going through floats', () => {
    expect(parseDecimal('-1234567890.12', 2)).toBe(-123456789012n);
    expect(parseDecimal('12345678901234567890.0123456789', 10)).toBe(123456789012345678900123456789n);
    expect(parseDecimal('5', 3)).toBe(5000n);
    expect(() => parseDecimal('NaN', 2)).toThrow(/cannot be stored/);
    expect(decimalByteLength(18)).toBe(8);
    expect(decimalByteLength(38)).toBe(16);
  });

  it('splits COPY text into rows across arbitrary byte boundaries, with escapes and NULLs', async () => {
    const text = Buffer.from('1\ta\\tb\\\\c\t\\N\n2\tünï\\ncødé\t\n');
    const pieces = [text.subarray(0, 5), text.subarray(5, 17), text.subarray(17)];
    const rows: Array<Array<string | null>> = [];
    for await (const row of copyTextRows(
      (async function* () {
        yield* pieces;
      })(),
    ))
      rows.push(row);
    expect(rows).toEqual([
      ['1', 'a\tb\\c', null],
      ['2', 'ünï\ncødé', ''],
    ]);
    expect(unescapeCopyField('\\101\\x42\\v')).toBe('AB\v');
  });
});
