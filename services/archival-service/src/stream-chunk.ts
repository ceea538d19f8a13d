import { failpoint } from '@chunk-archiver/common';
import type { ArchivalRequestData } from '@chunk-archiver/events';
import { fieldsFor, type IcebergField, type TableMetadata } from '@chunk-archiver/iceberg';
import {
  type ChunkStorage,
  type ContentChecksum,
  createChecksumAccumulator,
  type RowRange,
} from '@chunk-archiver/pg';
import type { BlobStore, UploadResult } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { createByteChannel } from './byte-channel.js';
import { extractChunk } from './extract.js';
import { type ColumnPlan, planColumn } from './parquet/column-mapping.js';
import { type Codec, createParquetEncoder } from './parquet/encoder.js';
import { icebergPlans, icebergSchemaFooter } from './parquet/iceberg-plan.js';

export interface StreamSettings {
  codec: Codec;
  rowGroupSize: number;
  /** Bytes of row data that end a row group early (wide rows). */
  rowGroupBytes?: number;
  /** How long extraction waits for the chunk's lock (default 60 s). */
  lockTimeoutMs?: number;
  /** Written into the Parquet footer. */
  createdBy: string;
  /** An Iceberg data file: the table as it is now (undefined: not created yet), for field ids. */
  iceberg?: { table: TableMetadata | undefined };
}

export interface Streamed {
  written: UploadResult;
  plans: ColumnPlan[];
  checksum: ContentChecksum;
  storage: ChunkStorage;
  /** An Iceberg data file's fields, in column order. */
  fields?: IcebergField[];
}

/** Passes the bytes through; after the first piece is with the store, a test may stop mid-upload. */
async function* pausingAfterFirstPiece(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let first = true;
  for await (const piece of source) {
    yield piece;
    if (first) {
      first = false;
      await failpoint('archive.mid-upload');
    }
  }
}

/** A plain table's request is for its rows in `[start, end)` of the time column; a chunk is whole. */
export function requestWindow(request: ArchivalRequestData): RowRange | undefined {
  if (request.source_kind !== 'table') return undefined;
  return {
    column: request.time_column,
    dimension: request.dimension_type,
    start: request.chunk_start_time,
    end: request.chunk_end_time,
  };
}

/** Footer key-values that say what the file is without its manifest. */
function footerMetadata(request: ArchivalRequestData, writer: string): Record<string, string> {
  return {
    'chunk_archiver.database': request.database,
    'chunk_archiver.table': `${request.table_schema}.${request.table_name}`,
    'chunk_archiver.chunk': `${request.chunk_schema}.${request.chunk_name}`,
    'chunk_archiver.range_start': request.chunk_start_time,
    'chunk_archiver.range_end': request.chunk_end_time,
    'chunk_archiver.writer_version': writer,
  };
}

/**
 * Extraction, encoding and upload at once: rows stream from one snapshot through the Parquet
 * encoder into the store's multipart/block upload, with back-pressure all the way, while each
 * row's hash is summed into the content checksum. Memory depends on the row-group size only.
 */
export async function streamChunkToStore(
  deps: { sql: postgres.Sql; store: BlobStore },
  request: ArchivalRequestData,
  key: string,
  settings: StreamSettings,
): Promise<Streamed> {
  const checksum = createChecksumAccumulator();
  const channel = createByteChannel();
  let plans: ColumnPlan[] = [];
  let fields: IcebergField[] | undefined;
  let encoder: ReturnType<typeof createParquetEncoder> | undefined;
  let storage: ChunkStorage | undefined;
  let rowsSeen = 0;
  let pastFailpoint = false;
  const target = {
    kind: request.source_kind,
    schema: request.chunk_schema,
    table: request.chunk_name,
    lockTimeoutMs: settings.lockTimeoutMs ?? 60_000,
    oid: request.chunk_oid,
    window: requestWindow(request),
  };
  const produce = async () => {
    try {
      storage = await extractChunk(deps.sql, target, {
        onColumns(columns) {
          plans = columns.map(planColumn);
          if (settings.iceberg) {
            fields = fieldsFor(settings.iceberg.table, columns);
            plans = icebergPlans(plans, fields);
          }
          encoder = createParquetEncoder({
            plans,
            codec: settings.codec,
            rowGroupSize: settings.rowGroupSize,
            rowGroupBytes: settings.rowGroupBytes,
            createdBy: settings.createdBy,
            sink: (bytes) => channel.push(bytes),
          });
          return plans;
        },
        onRow(tuple, rowHash) {
          checksum.add(rowHash);
          // One row group in: ask for a flush, which is where a test may stop mid-extraction.
          const full = encoder!.add(tuple, 1);
          return ++rowsSeen === settings.rowGroupSize || full;
        },
        async flush() {
          await encoder!.flush();
          if (rowsSeen >= settings.rowGroupSize && !pastFailpoint) {
            pastFailpoint = true;
            await failpoint('archive.mid-extraction');
          }
        },
      });
      const { rowCount, checksum: content } = checksum.result();
      await encoder!.finish({
        ...footerMetadata(request, settings.createdBy),
        'chunk_archiver.row_count': String(rowCount),
        'chunk_archiver.content_checksum': content,
        ...(fields ? icebergSchemaFooter(fields) : {}),
      });
      channel.end();
    } catch (error) {
      channel.fail(error);
      throw error;
    }
  };
  const consume = async () => {
    try {
      return await deps.store.upload(key, pausingAfterFirstPiece(channel), {
        contentType: 'application/vnd.apache.parquet',
      });
    } catch (error) {
      channel.cancel(error);
      throw error;
    }
  };
  const [produced, uploaded] = await Promise.allSettled([produce(), consume()]);
  if (produced.status === 'rejected') throw produced.reason;
  if (uploaded.status === 'rejected') throw uploaded.reason;
  return {
    written: uploaded.value,
    plans,
    checksum: checksum.result(),
    storage: storage!,
    ...(fields ? { fields } : {}),
  };
}
