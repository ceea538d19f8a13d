import type { ArchivalConfirmationData, ChunkIdentity } from '@chunk-archiver/events';
import { type Manifest, manifestIdentity } from '@chunk-archiver/storage';
import type { LedgerChunk } from './types.js';

/** The ledger's columns for a chunk's identity: the other direction of ledgerIdentity. */
export function ledgerColumns(chunk: ChunkIdentity) {
  return {
    source_kind: chunk.source_kind,
    table_schema: chunk.table_schema,
    table_name: chunk.table_name,
    chunk_schema: chunk.chunk_schema,
    chunk_name: chunk.chunk_name,
    chunk_oid: chunk.chunk_oid ?? null,
    dimension_slices: chunk.dimension_slices ?? [],
    time_column: chunk.time_column,
    dimension_type: chunk.dimension_type,
    range_start: chunk.chunk_start_time,
    range_end: chunk.chunk_end_time,
  };
}

/** A ledger row's chunk identity, as requests carry it and keys are derived from it. */
export function ledgerIdentity(database: string, row: LedgerChunk): ChunkIdentity {
  return {
    database,
    source_kind: row.source_kind,
    table_schema: row.table_schema,
    table_name: row.table_name,
    chunk_schema: row.chunk_schema,
    chunk_name: row.chunk_name,
    time_column: row.time_column,
    dimension_type: row.dimension_type,
    chunk_start_time: row.range_start,
    chunk_end_time: row.range_end,
    ...(row.chunk_oid !== null ? { chunk_oid: String(row.chunk_oid) } : {}),
    ...(row.dimension_slices.length ? { dimension_slices: slicesOf(row.dimension_slices) } : {}),
  };
}

export interface FieldMismatch {
  field: string;
  expected: string;
  got: string;
}

const show = (value: unknown) => (value === undefined ? '(absent)' : JSON.stringify(value));

function compare(pairs: Array<[string, unknown, unknown]>): FieldMismatch[] {
  return pairs
    .filter(([, expected, got]) => show(expected) !== show(got))
    .map(([field, expected, got]) => ({ field, expected: show(expected), got: show(got) }));
}

/** Slices in one key order (jsonb reorders keys), absent when there are none. */
const slicesOf = (slices: Array<{ column: string; start: string; end: string }> | undefined) =>
  slices?.length ? slices.map((s) => ({ column: s.column, start: s.start, end: s.end })) : undefined;

/** Every identity field of `got` against `expected`: one differing field means another chunk. */
function identityMismatches(expected: ChunkIdentity, got: ChunkIdentity): FieldMismatch[] {
  return compare([
    ['database', expected.database, got.database],
    ['source_kind', expected.source_kind, got.source_kind],
    ['table_schema', expected.table_schema, got.table_schema],
    ['table_name', expected.table_name, got.table_name],
    ['chunk_schema', expected.chunk_schema, got.chunk_schema],
    ['chunk_name', expected.chunk_name, got.chunk_name],
    ['time_column', expected.time_column, got.time_column],
    ['dimension_type', expected.dimension_type, got.dimension_type],
    ['chunk_start_time', expected.chunk_start_time, got.chunk_start_time],
    ['chunk_end_time', expected.chunk_end_time, got.chunk_end_time],
    ['chunk_oid', expected.chunk_oid, got.chunk_oid],
    ['dimension_slices', slicesOf(expected.dimension_slices), slicesOf(got.dimension_slices)],
  ]);
}

/**
 * A confirmation against the ledger row it claims to answer: a confirmation is a hint to check,
 * so one differing field (another table, range, OID, slice or attempt) means it is not about this
 * chunk at all.
 */
export function confirmationMismatches(
  expected: ChunkIdentity,
  attempts: number,
  data: ArchivalConfirmationData,
): FieldMismatch[] {
  return [...identityMismatches(expected, data), ...compare([['attempt', attempts, data.attempt]])];
}

/** The stored manifest against the ledger row: the archive must be of this very chunk. */
export function manifestMismatches(expected: ChunkIdentity, manifest: Manifest): FieldMismatch[] {
  return identityMismatches(expected, manifestIdentity(manifest));
}

export function describeMismatches(mismatches: FieldMismatch[]): string {
  return mismatches.map((m) => `${m.field} ${m.got} ≠ ${m.expected}`).join('; ');
}
