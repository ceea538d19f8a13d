import type { ArchivalConfirmationData, ChunkIdentity } from '@chunk-archiver/events';
import type { Manifest } from '@chunk-archiver/storage';
import type { LedgerChunk } from './types.js';

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

/**
 * Every identity field of a confirmation against the ledger row it claims to answer: a
 * confirmation is a hint to check, so one differing field (another table, range, OID, slice or
 * attempt) means it is not about this chunk at all.
 */
export function confirmationMismatches(
  expected: ChunkIdentity,
  attempts: number,
  data: ArchivalConfirmationData,
): FieldMismatch[] {
  return compare([
    ['database', expected.database, data.database],
    ['source_kind', expected.source_kind, data.source_kind],
    ['table_schema', expected.table_schema, data.table_schema],
    ['table_name', expected.table_name, data.table_name],
    ['chunk_schema', expected.chunk_schema, data.chunk_schema],
    ['chunk_name', expected.chunk_name, data.chunk_name],
    ['time_column', expected.time_column, data.time_column],
    ['dimension_type', expected.dimension_type, data.dimension_type],
    ['chunk_start_time', expected.chunk_start_time, data.chunk_start_time],
    ['chunk_end_time', expected.chunk_end_time, data.chunk_end_time],
    ['chunk_oid', expected.chunk_oid, data.chunk_oid],
    ['dimension_slices', slicesOf(expected.dimension_slices), slicesOf(data.dimension_slices)],
    ['attempt', attempts, data.attempt],
  ]);
}

/** The stored manifest's source and range against the ledger row: the archive must be of this chunk. */
export function manifestMismatches(expected: ChunkIdentity, manifest: Manifest): FieldMismatch[] {
  const source = manifest.source;
  return compare([
    ['source.database', expected.database, source.database],
    ['source.kind', expected.source_kind, source.kind],
    ['source.table_schema', expected.table_schema, source.table_schema],
    ['source.table_name', expected.table_name, source.table_name],
    ['source.chunk_schema', expected.chunk_schema, source.chunk_schema],
    ['source.chunk_name', expected.chunk_name, source.chunk_name],
    ['source.chunk_oid', expected.chunk_oid, source.chunk_oid],
    ['source.dimension_slices', slicesOf(expected.dimension_slices), slicesOf(source.dimension_slices)],
    ['range.dimension_type', expected.dimension_type, manifest.range.dimension_type],
    ['range.start', expected.chunk_start_time, manifest.range.start],
    ['range.end', expected.chunk_end_time, manifest.range.end],
    ['range.column', expected.time_column, manifest.range.column],
  ]);
}

export function describeMismatches(mismatches: FieldMismatch[]): string {
  return mismatches.map((m) => `${m.field} ${m.got} ≠ ${m.expected}`).join('; ');
}
