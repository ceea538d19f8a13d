import type { ArchivalRequestData, ManifestSummary, ObjectLocation } from '@chunk-archiver/events';
import { readCurrent } from '@chunk-archiver/iceberg';
import {
  archiveKeys,
  type BlobStore,
  buildManifest,
  checkStoredObject,
  type Manifest,
  manifestPlace,
  tableArchivePrefix,
} from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { ArchiveError } from './errors.js';
import type { Codec } from './parquet/encoder.js';
import { type Streamed, streamChunkToStore } from './stream-chunk.js';

export const WRITER_NAME = 'chunk-archiver';
export const WRITER_VERSION = '0.1.0';
export const PARQUET_LIBRARY = 'hyparquet-writer 0.17.0';

export interface ArchiveSettings {
  prefix: string;
  codec: Codec;
  rowGroupSize: number;
  /** Bytes of row data that end a row group early (wide rows); default 8 MiB. */
  rowGroupBytes?: number;
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

/** The manifest of a streamed chunk: what was written, read and from where. */
function manifestOf(
  request: ArchivalRequestData,
  requestEventId: string,
  key: string,
  streamed: Streamed,
  settings: ArchiveSettings,
): Manifest {
  const { written, plans, checksum, storage } = streamed;
  const place = manifestPlace(request);
  return buildManifest({
    object_key: key,
    row_count: checksum.rowCount,
    content_checksum: checksum.checksum,
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
    ...place,
    source: {
      ...place.source,
      storage: { form: storage.form, heap_rows: storage.heapRows, compressed_rows: storage.compressedRows },
    },
    writer: { name: WRITER_NAME, version: WRITER_VERSION, parquet_library: PARQUET_LIBRARY },
    request_event_id: requestEventId,
    ...(streamed.fields ? { iceberg: { fields: streamed.fields } } : {}),
  });
}

/** Reads the written object's size and sha256 back from the store: a failed read-back is no archive. */
async function readBack(
  store: BlobStore,
  key: string,
  written: { bytes: number; sha256: string },
): Promise<void> {
  const problem = await checkStoredObject(store, { object_key: key, ...written });
  if (problem) throw new ArchiveError('VERIFY_MISMATCH', `read-back: ${problem.message}`);
}

/** The manifest goes second: a manifest always describes a complete data object. */
async function writeManifest(store: BlobStore, manifestKey: string, manifest: Manifest): Promise<void> {
  const body = Buffer.from(JSON.stringify(manifest, null, 2));
  await store.upload(
    manifestKey,
    (async function* () {
      yield body;
    })(),
    { contentType: 'application/json' },
  );
}

/** The chunk's Iceberg table as it is now, for the field ids its columns already have. */
async function icebergTable(store: BlobStore, prefix: string, request: ArchivalRequestData) {
  const key = tableArchivePrefix(prefix, request.database, request.table_schema, request.table_name);
  // Reading needs no location: only metadata JSON is read, never a path inside it.
  return (await readCurrent({ store, key, locationBase: '' }))?.metadata;
}

/**
 * Archives one chunk: streams its rows from one snapshot into the store, reads the object's size
 * and sha256 back, then writes the manifest beside it. The caller has already checked the chunk
 * against the catalog.
 */
export async function archiveChunk(
  deps: { sql: postgres.Sql; store: BlobStore; settings: ArchiveSettings },
  request: ArchivalRequestData,
  requestEventId: string,
): Promise<ArchiveResult> {
  const { store, settings } = deps;
  const iceberg = request.archive_format === 'iceberg';
  const keys = archiveKeys(
    settings.prefix,
    request,
    iceberg ? { format: 'iceberg', attempt: requestEventId } : { format: 'parquet' },
  );
  const started = performance.now();
  const streamed = await streamChunkToStore(deps, request, keys.dataKey, {
    ...settings,
    createdBy: `${WRITER_NAME} ${WRITER_VERSION} (${PARQUET_LIBRARY})`,
    ...(iceberg ? { iceberg: { table: await icebergTable(store, settings.prefix, request) } } : {}),
  });
  const streamSeconds = seconds(started);
  const verifyStarted = performance.now();
  await readBack(store, keys.dataKey, streamed.written);
  const verifySeconds = seconds(verifyStarted);
  const manifestStarted = performance.now();
  const manifest = manifestOf(request, requestEventId, keys.dataKey, streamed, settings);
  await writeManifest(store, keys.manifestKey, manifest);
  return {
    object: {
      backend: store.backend,
      container: store.container,
      key: keys.dataKey,
      manifest_key: keys.manifestKey,
    },
    manifest: {
      row_count: manifest.row_count,
      content_checksum: manifest.content_checksum,
      bytes: manifest.bytes,
      sha256: manifest.sha256,
      codec: settings.codec,
      columns: manifest.columns.map((c) => ({
        name: c.name,
        pg_type: c.pg_type,
        parquet_type: c.parquet_type,
      })),
    },
    timings: { stream: streamSeconds, verify: verifySeconds, manifest: seconds(manifestStarted) },
  };
}
