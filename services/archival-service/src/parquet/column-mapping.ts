import type { ColumnInfo } from '@chunk-archiver/pg';
import type { SchemaElement } from 'hyparquet-writer';
import { decodeDate, decodeNumericUnscaled, decodeTimestamp } from './pg-binary.js';

/**
 * How one PostgreSQL column becomes one Parquet column: the schema element, whether the value is
 * selected as JSON (arrays), how its text form converts, and a readable type name for manifests.
 */
export interface ColumnPlan {
  name: string;
  pgType: string;
  parquetType: string;
  element: SchemaElement;
  /**
   * How the column is selected for binary COPY: as it is; as `to_json(col)` (arrays); or as its
   * text output (types whose binary form the encoder does not decode).
   */
  select: 'raw' | 'json' | 'text';
  /** The Parquet value from the field's binary form at buf[offset, offset + length). */
  decode: (buf: Buffer, offset: number, length: number) => unknown;
}

/**
 * JSON is handed to the writer as UTF-8 text (its JSON converted type would re-serialise the
 * value, reordering keys and rounding big numbers); the encoder declares it JSON in the footer.
 */
const JSON_TEXT = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'JSON' } } as const;
/** Text, JSON and bytea values go to the writer as the bytes PostgreSQL sent: no string is made. */
const bytes = (buf: Buffer, offset: number, length: number) => buf.subarray(offset, offset + length);

/** Bytes needed for a two's-complement unscaled value of `precision` decimal digits. */
export function decimalByteLength(precision: number): number {
  const max = 10n ** BigInt(precision);
  let bytes = 1;
  while (1n << BigInt(8 * bytes - 1) <= max) bytes++;
  return bytes;
}

function optional(column: ColumnInfo): 'OPTIONAL' | 'REQUIRED' {
  return column.notNull ? 'REQUIRED' : 'OPTIONAL';
}

function plain(
  column: ColumnInfo,
  parquetType: string,
  element: Omit<SchemaElement, 'name' | 'repetition_type'>,
  decode: ColumnPlan['decode'],
  select: ColumnPlan['select'] = 'raw',
): ColumnPlan {
  return {
    name: column.name,
    pgType: column.pgType,
    parquetType,
    element: { name: column.name, repetition_type: optional(column), ...element } as SchemaElement,
    select,
    decode,
  };
}

/** PostgreSQL's own text form: lossless and re-readable for every type. */
const asText = (column: ColumnInfo) => plain(column, 'BYTE_ARRAY STRING', STRING, bytes, 'text');

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

export function planColumn(column: ColumnInfo): ColumnPlan {
  if (column.category === 'A') {
    return plain(column, 'BYTE_ARRAY JSON', JSON_TEXT, bytes, 'json');
  }
  switch (column.baseType) {
    case 'int2':
      // converted_type only: hyparquet-writer 0.17 serialises the INTEGER logical type in a form DuckDB rejects.
      return plain(column, 'INT32 INT_16', { type: 'INT32', converted_type: 'INT_16' }, (b, o) =>
        b.readInt16BE(o),
      );
    case 'int4':
      return plain(column, 'INT32', { type: 'INT32' }, (b, o) => b.readInt32BE(o));
    case 'int8':
      return plain(column, 'INT64', { type: 'INT64' }, (b, o) => b.readBigInt64BE(o));
    case 'float4':
      return plain(column, 'FLOAT', { type: 'FLOAT' }, (b, o) => b.readFloatBE(o));
    case 'float8':
      return plain(column, 'DOUBLE', { type: 'DOUBLE' }, (b, o) => b.readDoubleBE(o));
    case 'bool':
      return plain(column, 'BOOLEAN', { type: 'BOOLEAN' }, (b, o) => b[o] !== 0);
    case 'numeric': {
      // typmod -1: unconstrained, any precision: only a string is lossless.
      if (column.typmod < 4) return asText(column);
      const precision = ((column.typmod - 4) >> 16) & 0xffff;
      const scale = (column.typmod - 4) & 0xffff;
      if (precision > 38 || scale > precision) return asText(column);
      const decimal = {
        converted_type: 'DECIMAL',
        precision,
        scale,
        logical_type: { type: 'DECIMAL', precision, scale },
      } as const;
      if (precision <= 18) {
        return plain(column, `INT64 DECIMAL(${precision},${scale})`, { type: 'INT64', ...decimal }, (b, o) =>
          decodeNumericUnscaled(b, o, scale),
        );
      }
      const length = decimalByteLength(precision);
      return plain(
        column,
        `FIXED_LEN_BYTE_ARRAY(${length}) DECIMAL(${precision},${scale})`,
        { type: 'FIXED_LEN_BYTE_ARRAY', type_length: length, ...decimal },
        (b, o) => decodeNumericUnscaled(b, o, scale),
      );
    }
    case 'uuid':
      return plain(
        column,
        'FIXED_LEN_BYTE_ARRAY(16) UUID',
        { type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, logical_type: { type: 'UUID' } },
        bytes,
      );
    case 'json':
      return plain(column, 'BYTE_ARRAY JSON', JSON_TEXT, bytes);
    case 'jsonb':
      // jsonb's binary form is a version byte (1) and then its text.
      return plain(column, 'BYTE_ARRAY JSON', JSON_TEXT, (b, o, n) => {
        if (b[o] !== 1) throw new Error(`unsupported jsonb binary version ${b[o]}`);
        return b.subarray(o + 1, o + n);
      });
    case 'timestamptz':
      return plain(
        column,
        'INT64 TIMESTAMP(MICROS,true)',
        {
          type: 'INT64',
          converted_type: 'TIMESTAMP_MICROS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        },
        decodeTimestamp,
      );
    case 'timestamp':
      // No converted_type: TIMESTAMP_MICROS would claim UTC adjustment, which a plain timestamp lacks.
      return plain(
        column,
        'INT64 TIMESTAMP(MICROS,false)',
        { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } },
        decodeTimestamp,
      );
    case 'date':
      return plain(
        column,
        'INT32 DATE',
        { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
        decodeDate,
      );
    case 'time':
      return plain(
        column,
        'INT64 TIME(MICROS,false)',
        { type: 'INT64', logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' } },
        (b, o) => b.readBigInt64BE(o),
      );
    case 'bytea':
      return plain(column, 'BYTE_ARRAY', { type: 'BYTE_ARRAY' }, bytes);
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
      return plain(column, 'BYTE_ARRAY STRING', STRING, bytes);
    default:
      // citext, inet, cidr, macaddr, interval, timetz, enums, money, ranges, geometric and
      // extension types...: PostgreSQL's own text form is lossless and re-readable.
      return asText(column);
  }
}
