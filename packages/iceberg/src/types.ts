import type { ChunkIdentity } from '@chunk-archiver/events';

/** The Iceberg v2 table metadata this project writes and reads (the spec's names, verbatim). */

export type PrimitiveType =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'string'
  | 'uuid'
  | 'binary'
  | `decimal(${number}, ${number})`;

export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: PrimitiveType;
}

export interface IcebergSchema {
  type: 'struct';
  'schema-id': number;
  fields: IcebergField[];
}

export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: string;
}

export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

export interface Snapshot {
  'snapshot-id': number;
  'parent-snapshot-id'?: number;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  'schema-id': number;
  summary: Record<string, string> & { operation: 'append' | 'overwrite' | 'replace' | 'delete' };
}

export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  'current-schema-id': number;
  schemas: IcebergSchema[];
  'default-spec-id': number;
  'partition-specs': PartitionSpec[];
  'last-partition-id': number;
  'default-sort-order-id': number;
  'sort-orders': Array<{ 'order-id': number; fields: unknown[] }>;
  properties: Record<string, string>;
  'current-snapshot-id': number;
  snapshots: Snapshot[];
  'snapshot-log': Array<{ 'snapshot-id': number; 'timestamp-ms': number }>;
  'metadata-log': Array<{ 'metadata-file': string; 'timestamp-ms': number }>;
  refs: Record<string, { 'snapshot-id': number; type: 'branch' | 'tag' }>;
}

/** One data file as a manifest entry records it. */
export interface DataFile {
  content: 0;
  file_path: string;
  file_format: 'PARQUET';
  /** Partition values by partition field name (absent fields: the unpartitioned spec). */
  partition: Record<string, number | bigint | null>;
  record_count: bigint;
  file_size_in_bytes: bigint;
  lower_bounds: Array<{ key: number; value: Buffer }> | null;
  upper_bounds: Array<{ key: number; value: Buffer }> | null;
}

/** 0 existing, 1 added, 2 deleted (the spec's status). */
export type EntryStatus = 0 | 1 | 2;

export interface ManifestEntry {
  status: EntryStatus;
  snapshot_id: bigint | null;
  sequence_number: bigint | null;
  file_sequence_number: bigint | null;
  data_file: DataFile;
}

/** One manifest as a manifest list records it. */
export interface ManifestFile {
  manifest_path: string;
  manifest_length: bigint;
  partition_spec_id: number;
  content: 0;
  sequence_number: bigint;
  min_sequence_number: bigint;
  added_snapshot_id: bigint;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: bigint;
  existing_rows_count: bigint;
  deleted_rows_count: bigint;
  partitions: Array<{
    contains_null: boolean;
    contains_nan: boolean | null;
    lower_bound: Buffer | null;
    upper_bound: Buffer | null;
  }> | null;
}

/** One chunk's verified data file, as the manager's ledger and the stored manifest record it. */
export interface ChunkFile {
  chunk: ChunkIdentity;
  key: string;
  /** The key without its attempt: every file ever written for this chunk starts with it. */
  stem: string;
  rows: number;
  bytes: number;
  sha256: string;
  contentChecksum: string;
  fields: IcebergField[];
}

/** A manifest entry with the partition spec its manifest was written for. */
export type LiveEntry = ManifestEntry & { specId: number };
