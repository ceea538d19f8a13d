import { coerceError, errorCode } from '@chunk-archiver/common';
import { type ColumnInfo, type ContentChecksum, listColumns } from '@chunk-archiver/pg';
import { RestoreError } from '../errors.js';
import { rowsInRange, type TableRef } from '../sql/restore.js';
import { insertRestore, type RestoreRecord } from '../sql/restores-ledger.js';
import { EMPTY, rangeKey, restoreChunk } from './chunk.js';
import { type ArchivedChunk, type ArchiveSelection, findArchivedChunks } from './find-archived.js';
import type { ArrayTarget } from './parquet-rows.js';
import {
  name,
  parseTableName,
  type RestoreDeps,
  type RestoredObject,
  type RestoreReport,
  type RestoreRequest,
  rangeOf,
  sameTable,
} from './types.js';

export type { RestoreDeps, RestoredObject, RestoreReport, RestoreRequest } from './types.js';
export { parseTableName } from './types.js';

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

/** The target's columns, checked to hold every archived column; which are arrays, and of what. */
async function targetColumns(
  deps: RestoreDeps,
  target: TableRef,
  field: string,
  selection: ArchiveSelection,
): Promise<Map<string, ArrayTarget>> {
  const columns = await listColumns(deps.db.sql, target.schema, target.table);
  if (columns.length === 0) {
    throw new RestoreError(
      'UNKNOWN_TARGET',
      `${field}: table ${name(target)} does not exist in database ${deps.db.name}`,
      {
        field,
      },
    );
  }
  for (const chunk of selection.chunks) checkColumns(target, columns, chunk, field);
  return new Map<string, ArrayTarget>(
    columns
      .filter((c) => c.category === 'A')
      .map((c) => [c.name, c.baseType === '_json' || c.baseType === '_jsonb' ? 'json' : 'other']),
  );
}

/** The plan: per selected chunk, what is archived and what the target already holds in its range. */
async function planObjects(
  deps: RestoreDeps,
  target: TableRef,
  selection: ArchiveSelection,
): Promise<RestoredObject[]> {
  const objects: RestoredObject[] = [];
  for (const { manifest } of selection.chunks) {
    objects.push({
      object_key: manifest.object_key,
      chunk: `${manifest.source.chunk_schema}.${manifest.source.chunk_name}`,
      range_start: manifest.range.start,
      range_end: manifest.range.end,
      archived_rows: manifest.row_count,
      existing_rows: await rowsInRange(deps.db.sql, target, rangeOf(manifest)),
      restored_rows: 0,
      skipped_rows: 0,
      status: 'would_restore',
      restore_id: null,
    });
  }
  return objects;
}

/** Rows already in a chunk's range refuse the whole restore, unless skip_existing says otherwise. */
function refuseOccupied(target: TableRef, objects: RestoredObject[]): void {
  const occupied = objects.filter((o) => o.existing_rows > 0);
  if (occupied.length === 0) return;
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

/** What the ledger records of one chunk's restore, before it is attempted. */
function restoreRecord(
  source: TableRef,
  target: TableRef,
  chunk: ArchivedChunk,
  request: RestoreRequest,
  held: boolean,
): RestoreRecord {
  const { manifest, manifestKey } = chunk;
  return {
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
    held,
    created_partition: false,
    error_code: null,
    error: null,
    requested_by: request.requestedBy ?? null,
    started_at: new Date(),
  };
}

/** A chunk that did not come back: said in the report and recorded as failed in the ledger. */
async function recordFailure(
  deps: RestoreDeps,
  outcome: RestoredObject,
  record: RestoreRecord,
  error: unknown,
) {
  const err = coerceError(error);
  outcome.status = 'failed';
  outcome.error_code = errorCode(error, 'RESTORE_FAILED');
  outcome.error = err.message;
  const log = deps.logger.child({ database: deps.db.name, chunk: outcome.chunk, object: outcome.object_key });
  log.error({ err, code: outcome.error_code }, 'chunk not restored; nothing of it was loaded');
  try {
    outcome.restore_id = await insertRestore(deps.db.sql, {
      ...record,
      state: 'failed',
      held: false,
      error_code: outcome.error_code,
      error: err.message,
    });
  } catch (ledgerError) {
    log.error({ err: coerceError(ledgerError) }, 'could not record the failed restore in the ledger');
  }
}

/**
 * Brings archived chunks back: every archived chunk overlapping [from, to) is downloaded, its
 * sha256 checked, its rows loaded, and their content checksum compared with the manifest, all in
 * one transaction per chunk, so a chunk comes back whole or not at all.
 */
export async function restoreRange(deps: RestoreDeps, request: RestoreRequest): Promise<RestoreReport> {
  const source = parseTableName('table', request.table);
  const target = request.into ? parseTableName('into', request.into) : source;
  if (request.dryRun) return restoreUnlocked(deps, request, source, target);
  // Two restores into one table would each see the other's rows and fail on a checksum, or
  // worse: one at a time, and the loser is told so.
  const session = await deps.db.sql.reserve();
  try {
    const [lock] = await session<{ ok: boolean }[]>`
      select pg_try_advisory_lock(${RESTORE_LOCK_CLASS}::int, hashtext(${name(target)})) as ok`;
    if (!lock!.ok)
      throw new RestoreError(
        'RESTORE_RUNNING',
        `another restore into ${name(target)} is running; try again when it has finished`,
      );
    try {
      return await restoreUnlocked(deps, request, source, target);
    } finally {
      await session`select pg_advisory_unlock(${RESTORE_LOCK_CLASS}::int, hashtext(${name(target)}))`;
    }
  } finally {
    session.release();
  }
}

/** The advisory-lock class of "a restore into this table is running" (the key is hashtext of its name). */
export const RESTORE_LOCK_CLASS = 724_311;

async function restoreUnlocked(
  deps: RestoreDeps,
  request: RestoreRequest,
  source: TableRef,
  target: TableRef,
): Promise<RestoreReport> {
  const intoSource = sameTable(source, target);
  await deps.db.ensureLedger();
  const selection = await findArchivedChunks(deps.store, {
    prefix: deps.prefix,
    database: deps.db.name,
    schema: source.schema,
    table: source.table,
    from: request.from,
    to: request.to,
  });
  const arrayColumns = await targetColumns(deps, target, request.into ? 'into' : 'table', selection);
  const objects = await planObjects(deps, target, selection);
  const chunks = selection.chunks;
  const report: RestoreReport = {
    database: deps.db.name,
    source: name(source),
    target: name(target),
    from: request.from,
    to: request.to,
    dry_run: request.dryRun ?? false,
    skip_existing: request.skipExisting ?? false,
    covered: chunks.length
      ? { start: chunks[0]!.manifest.range.start, end: chunks.at(-1)!.manifest.range.end }
      : null,
    // Set once the chunks are in: a dry run, or a restore where every chunk failed, holds nothing.
    held: false,
    objects,
    ok: true,
  };
  if (!request.skipExisting && !request.dryRun) refuseOccupied(target, objects);
  if (request.dryRun) return report;
  // What this restore has loaded into each range so far: an earlier generation of the same
  // partition (see findArchivedChunks) is the only thing a later one may find there.
  const loaded = new Map<string, ContentChecksum>();
  for (let i = 0; i < chunks.length; i++) {
    const { manifest } = chunks[i]!;
    const record = restoreRecord(source, target, chunks[i]!, request, intoSource);
    const key = rangeKey(rangeOf(manifest));
    const before = loaded.get(key) ?? EMPTY;
    try {
      const restored = await restoreChunk(deps, {
        manifest,
        source,
        target,
        intoSource,
        arrayColumns,
        skipExisting: request.skipExisting ?? false,
        record,
        before,
      });
      Object.assign(objects[i]!, restored, { status: 'restored' });
      deps.logger
        .child({ database: deps.db.name, chunk: objects[i]!.chunk, object: manifest.object_key })
        .info({ rows: restored.restored_rows, skipped: restored.skipped_rows }, 'chunk restored');
      loaded.set(key, {
        rowCount: before.rowCount + manifest.row_count,
        checksum: (BigInt(before.checksum) + BigInt(manifest.content_checksum)).toString(),
      });
    } catch (error) {
      report.ok = false;
      await recordFailure(deps, objects[i]!, record, error);
    }
  }
  report.held = intoSource && objects.some((o) => o.status === 'restored');
  return report;
}
