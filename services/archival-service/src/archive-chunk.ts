import { failpoint } from '@chunk-archiver/common';
import type { ArchivalRequestData, ManifestSummary, ObjectLocation } from '@chunk-archiver/events';
import { type ChunkStorage, createChecksumAccumulator } from '@chunk-archiver/pg';
import {
  archiveKeys,
  type BlobStore,
  CHECKSUM_DEFINITION,
  MANIFEST_VERSION,
  type Manifest,
} from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { createByteChannel } from './byte-channel.js';
import { ArchiveError } from './errors.js';
import { extractChunk } from './extract.js';
import type { ColumnPlan } from './parquet/column-mapping.js';
import { type Codec, createParquetEncoder } from './parquet/encoder.js';

export const WRITER_NAME = 'chunk-archiver';
export const WRITER_VERSION = '0.1.0';
export const PARQUET_LIBRARY = 'hyparquet-writer 0.17.0';

export interface ArchiveSettings {
  prefix: string;
  codec: Codec;
  rowGroupSize: number;
  /** How long extraction waits for the chunk's lock (default 60 s). */
  lockTimeoutMs?: number;
}

export interface ArchiveResult {
  object: ObjectLocation;
  manifest: ManifestSummary;
  /** Seconds per phase: extract+encode+upload overlap, so `stream` covers all three. */
  timings: { stream: number; verify: number; manifest: number };
}

const seconds = (since: number) => (performance.now() - since) / 1000;

/**
 * Archives one chunk: streams its rows from one snapshot through the Parquet encoder into the
 * store, reads the object's size and sha256 back, then writes the manifest beside it. The caller
 * has already checked the chunk against the catalog.
 */
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

export async function archiveChunk(
  deps: { sql: postgres.Sql; store: BlobStore; settings: ArchiveSettings },
  request: ArchivalRequestData,
  requestEventId: string,
): Promise<ArchiveResult> {
  const { sql, store, settings } = deps;
  const keys = archiveKeys(settings.prefix, request);
  const checksum = createChecksumAccumulator();
  const channel = createByteChannel();
  let plans: ColumnPlan[] = [];
  let encoder: ReturnType<typeof createParquetEncoder> | undefined;
  const metadata = {
    'chunk_archiver.database': request.database,
    'chunk_archiver.table': `${request.table_schema}.${request.table_name}`,
    'chunk_archiver.chunk': `${request.chunk_schema}.${request.chunk_name}`,
    'chunk_archiver.range_start': request.chunk_start_time,
    'chunk_archiver.range_end': request.chunk_end_time,
    'chunk_archiver.writer_version': `${WRITER_NAME} ${WRITER_VERSION}`,
  };

  const started = performance.now();
  let rowsSeen = 0;
  let pastFailpoint = false;
  let storage: ChunkStorage | undefined;
  const produce = async () => {
    try {
      const target = {
        kind: request.source_kind,
        schema: request.chunk_schema,
        table: request.chunk_name,
        lockTimeoutMs: settings.lockTimeoutMs ?? 60_000,
        oid: request.chunk_oid,
      };
      storage = await extractChunk(sql, target, {
        onColumns(found) {
          plans = found;
          encoder = createParquetEncoder({
            plans,
            codec: settings.codec,
            rowGroupSize: settings.rowGroupSize,
            createdBy: `${WRITER_NAME} ${WRITER_VERSION} (${PARQUET_LIBRARY})`,
            sink: (bytes) => channel.push(bytes),
          });
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
        ...metadata,
        'chunk_archiver.row_count': String(rowCount),
        'chunk_archiver.content_checksum': content,
      });
      channel.end();
    } catch (error) {
      channel.fail(error);
      throw error;
    }
  };
  const consume = async () => {
    try {
      return await store.upload(keys.dataKey, pausingAfterFirstPiece(channel), {
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
  const written = uploaded.value;
  const streamSeconds = seconds(started);

  const verifyStarted = performance.now();
  const info = await store.stat(keys.dataKey);
  if (!info || info.bytes !== written.bytes || info.sha256 !== written.sha256) {
    throw new ArchiveError(
      'VERIFY_MISMATCH',
      `object ${keys.dataKey} reads back as ${info ? `${info.bytes} bytes sha256 ${info.sha256}` : 'missing'}; wrote ${written.bytes} bytes sha256 ${written.sha256}`,
    );
  }
  const verifySeconds = seconds(verifyStarted);

  const manifestStarted = performance.now();
  const { rowCount, checksum: contentChecksum } = checksum.result();
  const columns = plans.map((p) => ({ name: p.name, pg_type: p.pgType, parquet_type: p.parquetType }));
  const manifest: Manifest = {
    manifest_version: MANIFEST_VERSION,
    object_key: keys.dataKey,
    row_count: rowCount,
    content_checksum: contentChecksum,
    checksum_definition: CHECKSUM_DEFINITION,
    sha256: written.sha256,
    bytes: written.bytes,
    codec: settings.codec,
    row_group_size: settings.rowGroupSize,
    columns: plans.map((p) => ({
      name: p.name,
      pg_type: p.pgType,
      parquet_type: p.parquetType,
      nullable: p.element.repetition_type !== 'REQUIRED',
    })),
    range: {
      dimension_type: request.dimension_type,
      start: request.chunk_start_time,
      end: request.chunk_end_time,
      column: request.time_column,
    },
    source: {
      database: request.database,
      kind: request.source_kind,
      table_schema: request.table_schema,
      table_name: request.table_name,
      chunk_schema: request.chunk_schema,
      chunk_name: request.chunk_name,
      ...(request.chunk_oid ? { chunk_oid: request.chunk_oid } : {}),
      ...(request.dimension_slices?.length ? { dimension_slices: request.dimension_slices } : {}),
      storage: {
        form: storage!.form,
        heap_rows: storage!.heapRows,
        compressed_rows: storage!.compressedRows,
      },
    },
    writer: { name: WRITER_NAME, version: WRITER_VERSION, parquet_library: PARQUET_LIBRARY },
    request_event_id: requestEventId,
    created_at: new Date().toISOString(),
  };
  // The manifest goes second: a manifest always describes a complete data object.
  const body = Buffer.from(JSON.stringify(manifest, null, 2));
  await store.upload(
    keys.manifestKey,
    (async function* () {
      yield body;
    })(),
    { contentType: 'application/json' },
  );
  const manifestSeconds = seconds(manifestStarted);

  return {
    object: {
      backend: store.backend,
      container: store.container,
      key: keys.dataKey,
      manifest_key: keys.manifestKey,
    },
    manifest: {
      row_count: rowCount,
      content_checksum: contentChecksum,
      bytes: written.bytes,
      sha256: written.sha256,
      codec: settings.codec,
      columns,
    },
    timings: { stream: streamSeconds, verify: verifySeconds, manifest: manifestSeconds },
  };
}
