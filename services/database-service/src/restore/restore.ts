import { coerceError, errorCode, type Logger } from '@chunk-archiver/common';
import {
  type ColumnInfo,
  type ContentChecksum,
  listColumns,
  partitionsOf,
  pinSession,
} from '@chunk-archiver/pg';
import { type BlobStore, checkFetchedBytes, type Manifest } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { RestoreError } from '../errors.js';
import type { ManagedDatabase } from '../managed-database.js';
import {
  createRangePartition,
  createStage,
  insertMissingFromStage,
  type RangeRef,
  rangeChecksum,
  rowsInRange,
  STAGE_TABLE,
  stagedRowsMissing,
  type TableRef,
  tableChecksum,
} from '../sql/restore.js';
import { insertRestore, type RestoreRecord } from '../sql/restores-ledger.js';
import { fetchObject } from './fetch-object.js';
import { type ArchivedChunk, findArchivedChunks } from './find-archived.js';
import { loadRows } from './load.js';
import { type ArrayTarget, readArchivedRows } from './parquet-rows.js';
import { type Bound, boundOf } from './range.js';

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

const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.table === b.table;
const name = (t: TableRef) => `${t.schema}.${t.table}`;

function rangeOf(manifest: Manifest): RangeRef {
  return {
    column: manifest.range.column,
    dimension: manifest.range.dimension_type,
    start: manifest.range.start,
    end: manifest.range.end,
    slices: manifest.source.dimension_slices ?? [],
  };
}

function checkColumns(target: TableRef, columns: ColumnInfo[], chunk: ArchivedChunk, field: string): void {
  const have = new Set(columns.map((c) => c.name));
  const missing = chunk.manifest.columns.filter((c) => !have.has(c.name)).map((c) => c.name);
  if (missing.length) {
    throw new RestoreError(
      'COLUMN_MISMATCH',
      `${field}: ${name(target)} has no column ${missing.join(', ')} that ${chunk.manifest.object_key} holds`,
      { field },
    );
  }
}

function sameChecksum(a: ContentChecksum, manifest: Manifest): boolean {
  return a.rowCount === manifest.row_count && a.checksum === manifest.content_checksum;
}

/** The checksum is a sum: what a load added to a range is `after − before`. */
function added(after: ContentChecksum, before: ContentChecksum): ContentChecksum {
  return {
    rowCount: after.rowCount - before.rowCount,
    checksum: (BigInt(after.checksum) - BigInt(before.checksum)).toString(),
  };
}

const EMPTY: ContentChecksum = { rowCount: 0, checksum: '0' };
const rangeKey = (range: RangeRef) => JSON.stringify(range);

/** A partitioned source needs a partition for the range again; an existing one is reused. */
async function ensurePartition(
  tx: postgres.TransactionSql,
  source: TableRef,
  manifest: Manifest,
): Promise<boolean> {
  const range = rangeOf(manifest);
  const start: Bound = boundOf(range.start, range.dimension);
  const end: Bound = boundOf(range.end, range.dimension);
  for (const p of await partitionsOf(tx, source.schema, source.table)) {
    const pStart =
      p.startTime?.getTime() ?? (p.startInteger !== undefined ? BigInt(p.startInteger) : undefined);
    const pEnd = p.endTime?.getTime() ?? (p.endInteger !== undefined ? BigInt(p.endInteger) : undefined);
    if (pStart !== undefined && pEnd !== undefined && pStart <= start && end <= pEnd) return false;
  }
  await createRangePartition(
    tx,
    source,
    { schema: manifest.source.chunk_schema, table: manifest.source.chunk_name },
    range,
  );
  return true;
}

/**
 * Brings archived chunks back: every archived chunk overlapping [from, to) is downloaded, its
 * sha256 checked, its rows loaded, and their content checksum compared with the manifest, all in
 * one transaction per chunk, so a chunk comes back whole or not at all.
 */
export async function restoreRange(deps: RestoreDeps, request: RestoreRequest): Promise<RestoreReport> {
  const { db, store } = deps;
  const source = parseTableName('table', request.table);
  const target = request.into ? parseTableName('into', request.into) : source;
  const intoSource = sameTable(source, target);
  const targetField = request.into ? 'into' : 'table';
  const log = deps.logger.child({ database: db.name, table: name(source), target: name(target) });
  await db.ensureLedger();

  const selection = await findArchivedChunks(store, {
    prefix: deps.prefix,
    database: db.name,
    schema: source.schema,
    table: source.table,
    from: request.from,
    to: request.to,
  });
  const targetColumns = await listColumns(db.sql, target.schema, target.table);
  if (targetColumns.length === 0) {
    throw new RestoreError(
      'UNKNOWN_TARGET',
      `${targetField}: table ${name(target)} does not exist in database ${db.name}`,
      {
        field: targetField,
      },
    );
  }
  for (const chunk of selection.chunks) checkColumns(target, targetColumns, chunk, targetField);
  const arrayColumns = new Map<string, ArrayTarget>(
    targetColumns
      .filter((c) => c.category === 'A')
      .map((c) => [c.name, c.baseType === '_json' || c.baseType === '_jsonb' ? 'json' : 'other']),
  );

  const objects: RestoredObject[] = [];
  for (const { manifest } of selection.chunks) {
    const existing = await rowsInRange(db.sql, target, rangeOf(manifest));
    objects.push({
      object_key: manifest.object_key,
      chunk: `${manifest.source.chunk_schema}.${manifest.source.chunk_name}`,
      range_start: manifest.range.start,
      range_end: manifest.range.end,
      archived_rows: manifest.row_count,
      existing_rows: existing,
      restored_rows: 0,
      skipped_rows: 0,
      status: 'would_restore',
      restore_id: null,
    });
  }
  const report: RestoreReport = {
    database: db.name,
    source: name(source),
    target: name(target),
    from: request.from,
    to: request.to,
    dry_run: request.dryRun ?? false,
    skip_existing: request.skipExisting ?? false,
    covered: selection.chunks.length
      ? {
          start: selection.chunks[0]!.manifest.range.start,
          end: selection.chunks[selection.chunks.length - 1]!.manifest.range.end,
        }
      : null,
    // Set once the chunks are in: a dry run, or a restore where every chunk failed, holds nothing.
    held: false,
    objects,
    ok: true,
  };
  const occupied = objects.filter((o) => o.existing_rows > 0);
  if (occupied.length && !request.skipExisting && !request.dryRun) {
    throw new RestoreError(
      'ROWS_EXIST',
      `${name(target)} already holds rows in the range of ${occupied
        .map((o) => `${o.chunk} [${o.range_start}, ${o.range_end}): ${o.existing_rows} rows`)
        .join(
          '; ',
        )}; nothing was restored. Restore into another table (into), or skip rows that are already there (skip_existing)`,
      { field: 'skip_existing' },
    );
  }
  if (request.dryRun) return report;

  // What this restore has loaded into each range so far: an earlier generation of the same
  // partition (see findArchivedChunks) is the only thing a later one may find there.
  const loaded = new Map<string, ContentChecksum>();
  for (let i = 0; i < selection.chunks.length; i++) {
    const { manifest, manifestKey } = selection.chunks[i]!;
    const outcome = objects[i]!;
    const chunkLog = log.child({ chunk: outcome.chunk, object: manifest.object_key });
    const started = new Date();
    const record: RestoreRecord = {
      state: 'restored',
      source_schema: source.schema,
      source_table: source.table,
      target_schema: target.schema,
      target_table: target.table,
      object_key: manifest.object_key,
      manifest_key: manifestKey,
      chunk_schema: manifest.source.chunk_schema,
      chunk_name: manifest.source.chunk_name,
      time_column: manifest.range.column,
      dimension_type: manifest.range.dimension_type,
      range_start: manifest.range.start,
      range_end: manifest.range.end,
      columns: manifest.columns.map((c) => c.name),
      archived_rows: manifest.row_count,
      restored_rows: 0,
      skipped_rows: 0,
      content_checksum: manifest.content_checksum,
      held: intoSource,
      created_partition: false,
      error_code: null,
      error: null,
      requested_by: request.requestedBy ?? null,
      started_at: started,
    };
    try {
      const restored = await restoreChunk(deps, {
        manifest,
        source,
        target,
        intoSource,
        arrayColumns,
        skipExisting: request.skipExisting ?? false,
        record,
        before: loaded.get(rangeKey(rangeOf(manifest))) ?? EMPTY,
      });
      const key = rangeKey(rangeOf(manifest));
      const previous = loaded.get(key) ?? EMPTY;
      loaded.set(key, {
        rowCount: previous.rowCount + manifest.row_count,
        checksum: (BigInt(previous.checksum) + BigInt(manifest.content_checksum)).toString(),
      });
      Object.assign(outcome, restored, { status: 'restored' });
      chunkLog.info({ rows: restored.restored_rows, skipped: restored.skipped_rows }, 'chunk restored');
    } catch (error) {
      const err = coerceError(error);
      outcome.status = 'failed';
      outcome.error_code = errorCode(error, 'RESTORE_FAILED');
      outcome.error = err.message;
      report.ok = false;
      chunkLog.error({ err, code: outcome.error_code }, 'chunk not restored; nothing of it was loaded');
      try {
        outcome.restore_id = await insertRestore(db.sql, {
          ...record,
          state: 'failed',
          held: false,
          error_code: outcome.error_code,
          error: err.message,
        });
      } catch (ledgerError) {
        chunkLog.error(
          { err: coerceError(ledgerError) },
          'could not record the failed restore in the ledger',
        );
      }
    }
  }
  report.held = intoSource && objects.some((o) => o.status === 'restored');
  return report;
}

async function restoreChunk(
  deps: RestoreDeps,
  input: {
    manifest: Manifest;
    source: TableRef;
    target: TableRef;
    intoSource: boolean;
    arrayColumns: ReadonlyMap<string, ArrayTarget>;
    skipExisting: boolean;
    record: RestoreRecord;
    /** What this restore already loaded into the chunk's range (another generation of it). */
    before: ContentChecksum;
  },
): Promise<Pick<RestoredObject, 'restored_rows' | 'skipped_rows' | 'restore_id'>> {
  const { db } = deps;
  const { manifest, target } = input;
  const fetched = await fetchObject(deps.store, manifest.object_key, deps.tmpDir);
  try {
    const [damaged] = checkFetchedBytes(fetched, manifest);
    if (damaged) {
      // Size or bytes: either way the object is not what its manifest describes.
      throw new RestoreError(
        'SHA256_MISMATCH',
        `object ${manifest.object_key} is ${fetched.bytes} bytes with sha256 ${fetched.sha256}; its manifest says ${manifest.bytes} bytes, ${manifest.sha256} (${damaged.code}). Run verify`,
      );
    }
    const columns = manifest.columns.map((c) => c.name);
    const range = rangeOf(manifest);
    const rows = readArchivedRows(fetched.path, manifest, input.arrayColumns);
    const method = db.config.restore_method;
    return await db.sql.begin(async (tx) => {
      await pinSession(tx);
      const createdPartition =
        input.intoSource && manifest.source.kind === 'partition'
          ? await ensurePartition(tx, input.source, manifest)
          : false;
      let restored: number;
      if (!input.skipExisting) {
        // Checked again inside the transaction: rows may have arrived since the plan. Only what
        // this restore loaded itself may be there.
        const before = await rangeChecksum(tx, target, columns, range);
        if (before.rowCount !== input.before.rowCount || before.checksum !== input.before.checksum) {
          throw new RestoreError(
            'ROWS_EXIST',
            `${name(target)} now holds ${before.rowCount - input.before.rowCount} rows in the chunk's range; not restored`,
          );
        }
        restored = await loadRows(tx, target, columns, rows, method);
        const after = added(await rangeChecksum(tx, target, columns, range), before);
        if (!sameChecksum(after, manifest)) {
          throw new RestoreError(
            'CHECKSUM_MISMATCH',
            `restored rows of ${manifest.object_key} give ${after.rowCount} rows, checksum ${after.checksum}; the manifest says ${manifest.row_count}, ${manifest.content_checksum}. Rolled back`,
          );
        }
      } else {
        await createStage(tx, target);
        await loadRows(tx, STAGE_TABLE, columns, rows, method);
        const staged = await tableChecksum(tx, STAGE_TABLE, columns);
        if (!sameChecksum(staged, manifest)) {
          throw new RestoreError(
            'CHECKSUM_MISMATCH',
            `rows read from ${manifest.object_key} give ${staged.rowCount} rows, checksum ${staged.checksum}; the manifest says ${manifest.row_count}, ${manifest.content_checksum}. Rolled back`,
          );
        }
        restored = await insertMissingFromStage(tx, target, columns, range);
        const missing = await stagedRowsMissing(tx, target, columns, range);
        if (missing > 0) {
          throw new RestoreError(
            'CHECKSUM_MISMATCH',
            `${missing} archived rows are not in ${name(target)} after the restore. Rolled back`,
          );
        }
      }
      const restoreId = await insertRestore(tx, {
        ...input.record,
        restored_rows: restored,
        skipped_rows: manifest.row_count - restored,
        created_partition: createdPartition,
      });
      return { restored_rows: restored, skipped_rows: manifest.row_count - restored, restore_id: restoreId };
    });
  } finally {
    await fetched.dispose();
  }
}
