import type { ColumnInfo } from '@chunk-archiver/pg';
import type { SchemaElement } from 'hyparquet-writer';
import { parseBytea, parseDate, parseDecimal, parseTimeOfDay, parseTimestamp } from './pg-text.js';

/**
 * How one PostgreSQL column becomes one Parquet column: the schema element, whether the value is
 * selected as JSON (arrays), how its text form converts, and a readable type name for manifests.
 */
export interface ColumnPlan {
  name: string;
  pgType: string;
  parquetType: string;
  element: SchemaElement;
  /** Select `to_json(col)` instead of the column: arrays become JSON, losslessly. */
  selectAsJson: boolean;
  convert: (text: string) => unknown;
}

/**
 * JSON is handed to the writer as UTF-8 text (its JSON converted type would re-serialise the
 * value, reordering keys and rounding big numbers); the encoder declares it JSON in the footer.
 */
const JSON_TEXT = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'JSON' } } as const;
const identity = (s: string) => s;

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
  convert: (text: string) => unknown,
): ColumnPlan {
  return {
    name: column.name,
    pgType: column.pgType,
    parquetType,
    element: { name: column.name, repetition_type: optional(column), ...element } as SchemaElement,
    selectAsJson: false,
    convert,
  };
}

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

export function planColumn(column: ColumnInfo): ColumnPlan {
  if (column.category === 'A') {
    return {
      ...plain(column, 'BYTE_ARRAY JSON', JSON_TEXT, identity),
      selectAsJson: true,
    };
  }
  switch (column.baseType) {
    case 'int2':
      // converted_type only: hyparquet-writer 0.17 serialises the INTEGER logical type in a form DuckDB rejects.
      return plain(column, 'INT32 INT_16', { type: 'INT32', converted_type: 'INT_16' }, Number);
    case 'int4':
      return plain(column, 'INT32', { type: 'INT32' }, Number);
    case 'int8':
      return plain(column, 'INT64', { type: 'INT64' }, BigInt);
    case 'float4':
      return plain(column, 'FLOAT', { type: 'FLOAT' }, Number);
    case 'float8':
      return plain(column, 'DOUBLE', { type: 'DOUBLE' }, Number);
    case 'bool':
      return plain(column, 'BOOLEAN', { type: 'BOOLEAN' }, (s) => s === 't');
    case 'numeric': {
      // typmod -1: unconstrained, any precision: only a string is lossless.
      if (column.typmod < 4) return plain(column, 'BYTE_ARRAY STRING', STRING, identity);
      const precision = ((column.typmod - 4) >> 16) & 0xffff;
      const scale = (column.typmod - 4) & 0xffff;
      if (precision > 38 || scale > precision) return plain(column, 'BYTE_ARRAY STRING', STRING, identity);
      const decimal = {
        converted_type: 'DECIMAL',
        precision,
        scale,
        logical_type: { type: 'DECIMAL', precision, scale },
      } as const;
      if (precision <= 18) {
        return plain(column, `INT64 DECIMAL(${precision},${scale})`, { type: 'INT64', ...decimal }, (s) =>
          parseDecimal(s, scale),
        );
      }
      const length = decimalByteLength(precision);
      return plain(
        column,
        `FIXED_LEN_BYTE_ARRAY(${length}) DECIMAL(${precision},${scale})`,
        { type: 'FIXED_LEN_BYTE_ARRAY', type_length: length, ...decimal },
        (s) => parseDecimal(s, scale),
      );
    }
    case 'uuid':
      return plain(
        column,
        'FIXED_LEN_BYTE_ARRAY(16) UUID',
        { type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16, logical_type: { type: 'UUID' } },
        identity,
      );
    case 'json':
    case 'jsonb':
      return plain(column, 'BYTE_ARRAY JSON', JSON_TEXT, identity);
    case 'timestamptz':
      return plain(
        column,
        'INT64 TIMESTAMP(MICROS,true)',
        {
          type: 'INT64',
          converted_type: 'TIMESTAMP_MICROS',
          logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
        },
        parseTimestamp,
      );
    case 'timestamp':
      // No converted_type: TIMESTAMP_MICROS would claim UTC adjustment, which a plain timestamp lacks.
      return plain(
        column,
        'INT64 TIMESTAMP(MICROS,false)',
        { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } },
        parseTimestamp,
      );
    case 'date':
      return plain(
        column,
        'INT32 DATE',
        { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
        parseDate,
      );
    case 'time':
      return plain(
        column,
        'INT64 TIME(MICROS,false)',
        { type: 'INT64', logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' } },
        (s) => parseTimeOfDay(s),
      );
    case 'bytea':
      return plain(column, 'BYTE_ARRAY', { type: 'BYTE_ARRAY' }, parseBytea);
    default:
      // text, varchar, char, name, citext, inet, cidr, macaddr, interval, timetz, enums, money,
      // ranges, geometric types...: PostgreSQL's own text form is lossless and re-readable.
      return plain(column, 'BYTE_ARRAY STRING', STRING, identity);
  }
}
