import { type ContentChecksum, partitionsOf, pinSession, primaryKeyColumns } from '@chunk-archiver/pg';
import { checkFetchedBytes, type Manifest } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { RestoreError } from '../errors.js';
import {
  createRangePartition,
  createStage,
  insertMissingFromStage,
  insertMissingKeys,
  type RangeRef,
  rangeChecksum,
  STAGE_TABLE,
  stagedKeysTaken,
  stagedRowsMissing,
  type TableRef,
  tableChecksum,
} from '../sql/restore.js';
import { insertRestore, type RestoreRecord } from '../sql/restores-ledger.js';
import { fetchObject } from './fetch-object.js';
import { loadRows } from './load.js';
import { type ArrayTarget, readArchivedRows } from './parquet-rows.js';
import { type Bound, boundOf } from './range.js';
import { name, type RestoreDeps, type RestoredObject, rangeOf } from './types.js';

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

export const EMPTY: ContentChecksum = { rowCount: 0, checksum: '0' };
export const rangeKey = (range: RangeRef) => JSON.stringify(range);

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
 * One archived chunk back, in one transaction: the object downloaded and hashed (it must be what
 * its manifest says), a dropped partition recreated, the rows loaded, and what they added to the
 * range checked against the manifest's count and content checksum. Anything else rolls it back.
 */
export async function restoreChunk(
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
      const key =
        manifest.source.kind === 'table' ? await primaryKeyColumns(tx, target.schema, target.table) : [];
      if (key.length) {
        // A plain table's rows are identified by their primary key, wherever their time is now.
        restored = await restoreByKey(tx, {
          target,
          columns,
          rows,
          method,
          key,
          manifest,
          skipExisting: input.skipExisting,
        });
      } else if (!input.skipExisting) {
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

/**
 * A window of a plain table back by primary key: the rows are staged and checked against the
 * manifest first; keys the target already holds refuse the restore (naming how many), or with
 * skip_existing are left out; every staged key must be in the target afterwards.
 */
async function restoreByKey(
  tx: postgres.TransactionSql,
  input: {
    target: TableRef;
    columns: string[];
    rows: Parameters<typeof loadRows>[3];
    method: Parameters<typeof loadRows>[4];
    key: string[];
    manifest: Manifest;
    skipExisting: boolean;
  },
): Promise<number> {
  const { target, columns, key, manifest } = input;
  await createStage(tx, target);
  await loadRows(tx, STAGE_TABLE, columns, input.rows, input.method);
  const staged = await tableChecksum(tx, STAGE_TABLE, columns);
  if (!sameChecksum(staged, manifest)) {
    throw new RestoreError(
      'CHECKSUM_MISMATCH',
      `rows read from ${manifest.object_key} give ${staged.rowCount} rows, checksum ${staged.checksum}; the manifest says ${manifest.row_count}, ${manifest.content_checksum}. Rolled back`,
    );
  }
  const taken = await stagedKeysTaken(tx, target, key);
  if (taken > 0 && !input.skipExisting) {
    throw new RestoreError(
      'ROWS_EXIST',
      `${name(target)} already holds ${taken} of the ${manifest.row_count} archived primary keys (${key.join(', ')}) of ${manifest.object_key}; nothing was restored. Restore into another table (into), or load only the missing rows (skip_existing)`,
      { field: 'skip_existing' },
    );
  }
  const restored = await insertMissingKeys(tx, target, columns, key);
  if (restored !== manifest.row_count - taken) {
    throw new RestoreError(
      'CHECKSUM_MISMATCH',
      `${restored} rows inserted into ${name(target)}, ${manifest.row_count - taken} expected. Rolled back`,
    );
  }
  return restored;
}
