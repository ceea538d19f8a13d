import type { Logger } from '@chunk-archiver/common';
import type { BlobStore, Manifest } from '@chunk-archiver/storage';
import { RestoreError } from '../errors.js';
import type { ManagedDatabase } from '../managed-database.js';
import type { RangeRef, TableRef } from '../sql/restore.js';

export interface RestoreRequest {
  /** `schema.table` or `table` (schema public): the table the chunks were archived from. */
  table: string;
  from: string;
  to: string;
  /** `schema.table` to restore into instead of the source table. */
  into?: string | undefined;
  dryRun?: boolean | undefined;
  /** Insert only rows not already in the target, instead of refusing. */
  skipExisting?: boolean | undefined;
  /** Who asked (CLI user, "http"): kept in the ledger. */
  requestedBy?: string | undefined;
}

export interface RestoredObject {
  object_key: string;
  chunk: string;
  range_start: string;
  range_end: string;
  archived_rows: number;
  /** Rows already in the target's range before the restore. */
  existing_rows: number;
  restored_rows: number;
  skipped_rows: number;
  status: 'restored' | 'would_restore' | 'failed';
  restore_id: string | null;
  error_code?: string;
  error?: string;
}

export interface RestoreReport {
  database: string;
  source: string;
  target: string;
  from: string;
  to: string;
  dry_run: boolean;
  skip_existing: boolean;
  /** Restores work in whole chunks: the span actually restored. */
  covered: { start: string; end: string } | null;
  /** Set when rows were restored into the source table: retention skips these ranges until released. */
  held: boolean;
  objects: RestoredObject[];
  ok: boolean;
}

export interface RestoreDeps {
  db: ManagedDatabase;
  store: BlobStore;
  /** The storage prefix the archive was written under. */
  prefix: string;
  logger: Logger;
  tmpDir?: string;
}

/** `schema.table` → parts; a bare name is in public. Names are never interpolated into SQL. */
export function parseTableName(field: string, text: string): TableRef {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => p.length === 0 || p.length > 63)) {
    throw new RestoreError('BAD_TABLE', `${field}: "${text}" is not a table name (table or schema.table)`, {
      field,
    });
  }
  return parts.length === 2
    ? { schema: parts[0]!, table: parts[1]! }
    : { schema: 'public', table: parts[0]! };
}

export const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.table === b.table;
export const name = (t: TableRef) => `${t.schema}.${t.table}`;

export function rangeOf(manifest: Manifest): RangeRef {
  return {
    column: manifest.range.column,
    dimension: manifest.range.dimension_type,
    start: manifest.range.start,
    end: manifest.range.end,
    slices: manifest.source.dimension_slices ?? [],
  };
}
