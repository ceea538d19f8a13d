import { describe, expect, it } from 'vitest';
import { copyTextLine } from '../src/restore/load.js';
import {
  bigintFromBytes,
  dateText,
  decimalText,
  floatText,
  jsonArrayToPgArray,
  timestampText,
  timeText,
  uuidText,
} from '../src/restore/pg-text.js';

describe('Parquet values back to PostgreSQL text', () => {
  it('formats timestamps to the microsecond, before 1970, BC and at ±infinity', () => {
    expect(timestampText(0n, true)).toBe('1970-01-01 00:00:00.000000+00');
    expect(timestampText(1_583_650_799_999_999n, true)).toBe('2020-03-08 06:59:59.999999+00');
    expect(timestampText(-1n, false)).toBe('1969-12-31 23:59:59.999999');
    // Figures from PostgreSQL: extract(epoch from '0044-03-15 12:00:00 BC'::timestamp).
    expect(timestampText(-63_517_780_800_000_000n, false)).toBe('0044-03-15 12:00:00.000000 BC');
    expect(timestampText(9223372036854775807n, true)).toBe('infinity');
    expect(timestampText(-9223372036854775808n, false)).toBe('-infinity');
    expect(dateText(0)).toBe('1970-01-01');
    expect(dateText(18_321)).toBe('2020-02-29');
    expect(dateText(-719_528)).toBe('0001-01-01 BC');
    expect(dateText(2147483647)).toBe('infinity');
    expect(timeText(86_400_000_000n)).toBe('24:00:00.000000');
  });

  it('keeps every digit of a decimal and the sign of zero', () => {
    expect(decimalText(123456789012345678900123456789n, 10)).toBe('12345678901234567890.0123456789');
    expect(decimalText(-1n, 10)).toBe('-0.0000000001');
    expect(decimalText(42n, 0)).toBe('42');
    expect(bigintFromBytes(Uint8Array.of(0xff, 0xfe))).toBe(-2n);
    expect(bigintFromBytes(Uint8Array.of(0x01, 0x00))).toBe(256n);
    expect(floatText(-0)).toBe('-0');
    expect(floatText(Number.NaN)).toBe('NaN');
    expect(floatText(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(floatText(Math.fround(0.1))).toBe('0.10000000149011612');
    expect(uuidText(Uint8Array.from({ length: 16 }, (_, i) => i))).toBe(
      '00010203-0405-0607-0809-0a0b0c0d0e0f',
    );
  });

  it('turns to_json arrays back into array literals without touching numbers', () => {
    expect(jsonArrayToPgArray('[1,null,-3]')).toBe('{1,NULL,-3}');
    expect(jsonArrayToPgArray('[[1,2],[3,4]]')).toBe('{{1,2},{3,4}}');
    expect(jsonArrayToPgArray('[]')).toBe('{}');
    expect(jsonArrayToPgArray('[123456789012345678901234567890.5, 1e-20]')).toBe(
      '{123456789012345678901234567890.5,1e-20}',
    );
    expect(jsonArrayToPgArray('["a,b","NULL",null,"q\\"","b\\\\s","{x}"," s ","\\u00e9"]')).toBe(
      '{"a,b","NULL",NULL,"q\\"","b\\\\s","{x}"," s ","é"}',
    );
    expect(jsonArrayToPgArray('[{"a": [1, "]"]}, "str", 2, null]', { jsonElements: true })).toBe(
      '{"{\\"a\\": [1, \\"]\\"]}","\\"str\\"","2",NULL}',
    );
    expect(() => jsonArrayToPgArray('{"a":1}')).toThrow(/not an array/);
    expect(() => jsonArrayToPgArray('[1,')).toThrow(/not valid JSON/);
  });

  it('escapes COPY text so no value can end a field, a row or the stream', () => {
    expect(copyTextLine(['a\tb', null, 'c\nd\r\\e', '\\.', ''])).toBe('a\\tb\t\\N\tc\\nd\\r\\\\e\t\\\\.\t\n');
  });
});
