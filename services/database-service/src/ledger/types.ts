import type { DimensionSlice } from '@chunk-archiver/events';
import type { StorageForm } from '@chunk-archiver/pg';

/** Every state of a chunk, in the order of its life (status and metrics list them so). */
export const CHUNK_STATES = ['pending', 'requested', 'archived', 'dropped', 'failed', 'dead'] as const;
export type ChunkState = (typeof CHUNK_STATES)[number];

/**
 * A row of archiver.chunks as stored: the chunk's identity in the ledger's own columns, plus where
 * it is in its life. ledger/identity.ts maps between it and the ChunkIdentity everything else uses.
 */
export interface LedgerChunk {
  id: string;
  source_kind: 'timescaledb' | 'partition' | 'table';
  table_schema: string;
  table_name: string;
  chunk_schema: string;
  chunk_name: string;
  time_column: string;
  dimension_type: 'timestamp' | 'integer';
  range_start: string;
  range_end: string;
  /** The table's OID at discovery (decimal); null only for rows from before identities had it. */
  chunk_oid: string | null;
  /** Secondary dimension slices (space partitions); empty for one dimension. */
  dimension_slices: DimensionSlice[];
  state: ChunkState;
  attempts: number;
  request_event_id: string | null;
  requested_at: Date | null;
  next_attempt_at: Date | null;
  last_error_code: string | null;
  last_error: string | null;
  object_key: string | null;
  manifest_key: string | null;
  row_count: string | null;
  bytes: string | null;
  sha256: string | null;
  content_checksum: string | null;
  /** How the chunk's rows were stored when they were archived (from the stored manifest). */
  storage_form: StorageForm | null;
  /** A plain table's window: the rows it was cut for (an estimate, or a bounded count). */
  expected_rows: string | null;
  /** A plain table's window: how long its verified delete took. */
  removal_ms: number | null;
}
