import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import type { Manifest } from '@chunk-archiver/storage';
import {
  type AsyncBuffer,
  asyncBufferFromFile,
  parquetMetadataAsync,
  parquetRead,
  type SchemaElement,
} from 'hyparquet';
import {
  bigintFromBytes,
  byteaText,
  dateText,
  decimalText,
  floatText,
  jsonArrayToPgArray,
  timestampText,
  timeText,
  uuidText,
} from './pg-text.js';

/** One row: each column's PostgreSQL text input, or null for NULL. */
export type TextRow = Array<string | null>;

const COMPRESSORS = {
  GZIP: (input: Uint8Array) => gunzipSync(input),
  ZSTD: (input: Uint8Array) => zstdDecompressSync(input),
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

type Convert = (value: unknown) => string;

/** The destination column is an array: of json/jsonb values, or of anything else. */
export type ArrayTarget = 'json' | 'other';

/**
 * How one archived column turns back into text, from its Parquet schema element as the archiver
 * wrote it. `target`: the destination column is a PostgreSQL array (archived as JSON), and
 * whether its elements are themselves json or jsonb.
 */
function converterFor(element: SchemaElement, target: ArrayTarget | undefined): Convert {
  const logical = element.logical_type;
  const text = (v: unknown) => utf8.decode(v as Uint8Array);
  const string = logical?.type === 'STRING' || element.converted_type === 'UTF8';
  // An Iceberg data file holds JSON (arrays too) as a plain string: Iceberg has no JSON type.
  if (logical?.type === 'JSON' || (target && string)) {
    if (!target) return text;
    const jsonElements = target === 'json';
    return (v) => jsonArrayToPgArray(text(v), { jsonElements });
  }
  if (string) return text;
  if (logical?.type === 'DECIMAL' || element.converted_type === 'DECIMAL') {
    const scale = element.scale ?? 0;
    return element.type === 'INT64'
      ? (v) => decimalText(v as bigint, scale)
      : (v) => decimalText(bigintFromBytes(v as Uint8Array), scale);
  }
  if (logical?.type === 'UUID') return (v) => uuidText(v as Uint8Array);
  if (logical?.type === 'TIMESTAMP') {
    const zone = logical.isAdjustedToUTC;
    return (v) => timestampText(v as bigint, zone);
  }
  if (logical?.type === 'DATE' || element.converted_type === 'DATE') return (v) => dateText(v as number);
  if (logical?.type === 'TIME') return (v) => timeText(v as bigint);
  switch (element.type) {
    case 'BOOLEAN':
      return (v) => (v ? 't' : 'f');
    case 'INT32':
    case 'INT64':
      return (v) => String(v);
    case 'FLOAT':
    case 'DOUBLE':
      return (v) => floatText(v as number);
    case 'BYTE_ARRAY':
      return (v) => byteaText(v as Uint8Array);
    default:
      throw new Error(`column ${element.name}: Parquet type ${element.type} is not one the archiver writes`);
  }
}

export interface ArchivedParquet {
  file: AsyncBuffer;
  rowCount: number;
  columnNames: string[];
  rowGroups: number[];
}

/** Opens an archived Parquet file and reads its footer: a truncated or foreign file fails here. */
export async function openArchivedParquet(path: string): Promise<ArchivedParquet> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  return {
    file,
    rowCount: Number(metadata.num_rows),
    columnNames: metadata.schema.slice(1).map((e) => e.name),
    rowGroups: metadata.row_groups.map((g) => Number(g.num_rows)),
  };
}

/**
 * The archived rows as text, one row group per batch, in the manifest's column order. The
 * reader's own conversions are turned off (it would make decimals into floats and timestamps into
 * milliseconds); each value is converted here from its raw stored form.
 */
export async function* readArchivedRows(
  path: string,
  manifest: Manifest,
  arrayColumns: ReadonlyMap<string, ArrayTarget>,
): AsyncGenerator<TextRow[]> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const byName = new Map<string, SchemaElement>();
  for (const element of metadata.schema.slice(1)) {
    byName.set(element.name, { ...element });
    if (element.num_children) {
      throw new Error(`column ${element.name} is nested; the archiver writes flat columns only`);
    }
    // Raw values out: the reader converts nothing when the element carries no annotations.
    delete element.converted_type;
    delete element.logical_type;
  }
  const names = manifest.columns.map((c) => c.name);
  const converters = names.map((name) => {
    const element = byName.get(name);
    if (!element) throw new Error(`column ${name} is in the manifest but not in the Parquet file`);
    return converterFor(element, arrayColumns.get(name));
  });
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const rows = await new Promise<unknown[][]>((resolve, reject) => {
      parquetRead({
        file,
        metadata,
        columns: names,
        rowStart,
        rowEnd,
        utf8: false,
        compressors: COMPRESSORS,
        onComplete: resolve,
      }).catch(reject);
    });
    yield rows.map((row) =>
      row.map((value, i) => (value === null || value === undefined ? null : converters[i]!(value))),
    );
    rowStart = rowEnd;
  }
}
