import type { ChunkIdentity } from '@chunk-archiver/events';
import { z } from 'zod';
import type { BlobStore } from './blob-store.js';

export const MANIFEST_VERSION = 1;

export const manifestSchema = z
  .object({
    manifest_version: z.literal(MANIFEST_VERSION),
    object_key: z.string(),
    row_count: z.number().int().nonnegative(),
    content_checksum: z.string(),
    checksum_definition: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
    codec: z.enum(['snappy', 'gzip', 'zstd', 'uncompressed']),
    row_group_size: z.number().int().positive(),
    columns: z.array(
      z.object({ name: z.string(), pg_type: z.string(), parquet_type: z.string(), nullable: z.boolean() }),
    ),
    range: z.object({
      dimension_type: z.enum(['timestamp', 'integer']),
      start: z.string(),
      end: z.string(),
      column: z.string(),
    }),
    source: z.object({
      database: z.string(),
      kind: z.enum(['timescaledb', 'partition', 'table']),
      table_schema: z.string(),
      table_name: z.string(),
      chunk_schema: z.string(),
      chunk_name: z.string(),
      /** Absent in manifests written before identities carried it. */
      chunk_oid: z.string().optional(),
      /** Secondary dimension slices (space partitions); absent or empty for one dimension. */
      dimension_slices: z
        .array(z.object({ column: z.string(), start: z.string(), end: z.string() }))
        .optional(),
      /** How the rows were stored when they were read: heap, compressed, or partially compressed. */
      storage: z
        .object({
          form: z.enum(['heap', 'compressed', 'partial']),
          heap_rows: z.number().int().nonnegative(),
          compressed_rows: z.number().int().nonnegative(),
        })
        .optional(),
    }),
    writer: z.object({ name: z.string(), version: z.string(), parquet_library: z.string() }),
    request_event_id: z.string(),
    /** An Iceberg data file: the table fields (ids, names, types) its Parquet schema carries. */
    iceberg: z
      .object({
        fields: z.array(
          z
            .object({
              id: z.number().int().positive(),
              name: z.string(),
              required: z.boolean(),
              type: z.string(),
            })
            .strict(),
        ),
      })
      .strict()
      .optional(),
    created_at: z.string(),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;

/** Reads and validates one manifest; throws when it is missing, not JSON, or not a manifest. */
export async function readManifest(store: BlobStore, key: string): Promise<Manifest> {
  return manifestSchema.parse(JSON.parse((await store.read(key)).toString('utf8')));
}

/** The manifest names how its checksum was computed, so a future change cannot be confused with it. */
export const CHECKSUM_DEFINITION =
  'count(*), sum(hashtextextended(row::text, 0)) under pinned session settings v1';

/** The chunk a manifest describes, as the identity everything else uses. */
export function manifestIdentity(manifest: Manifest): ChunkIdentity {
  const { source, range } = manifest;
  return {
    database: source.database,
    source_kind: source.kind,
    table_schema: source.table_schema,
    table_name: source.table_name,
    chunk_schema: source.chunk_schema,
    chunk_name: source.chunk_name,
    time_column: range.column,
    dimension_type: range.dimension_type,
    chunk_start_time: range.start,
    chunk_end_time: range.end,
    ...(source.chunk_oid ? { chunk_oid: source.chunk_oid } : {}),
    ...(source.dimension_slices?.length ? { dimension_slices: source.dimension_slices } : {}),
  };
}

/** A chunk identity as a manifest records it: the other direction of manifestIdentity. */
export function manifestPlace(chunk: ChunkIdentity): Pick<Manifest, 'range'> & {
  source: Omit<Manifest['source'], 'storage'>;
} {
  return {
    range: {
      dimension_type: chunk.dimension_type,
      start: chunk.chunk_start_time,
      end: chunk.chunk_end_time,
      column: chunk.time_column,
    },
    source: {
      database: chunk.database,
      kind: chunk.source_kind,
      table_schema: chunk.table_schema,
      table_name: chunk.table_name,
      chunk_schema: chunk.chunk_schema,
      chunk_name: chunk.chunk_name,
      ...(chunk.chunk_oid ? { chunk_oid: chunk.chunk_oid } : {}),
      ...(chunk.dimension_slices?.length ? { dimension_slices: chunk.dimension_slices } : {}),
    },
  };
}
