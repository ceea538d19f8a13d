import { hasTimescaleDb, pinSession } from '@chunk-archiver/pg';
import { RestoreError } from '../errors.js';
import type { ManagedDatabase } from '../managed-database.js';
import { deleteRange, dropTable, emptyChunksInRange, isHypertable } from '../sql/restore.js';
import { lockRestore, markReleased } from '../sql/restores-ledger.js';

export interface ReleaseReport {
  restore_id: string;
  /** This restore and any other of the same range (a later skip-existing restore, say). */
  released: string[];
  table: string;
  range_start: string;
  range_end: string;
  deleted_rows: number;
  /** Partitions or chunks emptied by the release and dropped with it. */
  dropped_tables: string[];
}

/**
 * Ends a restore into a managed table: the restored rows are deleted again, but only if they are
 * still exactly the archived rows (same count and content checksum), because the archive already
 * holds them. Rows changed or added since the restore would be lost, so then nothing is deleted.
 */
export async function releaseRestore(db: ManagedDatabase, id: string): Promise<ReleaseReport> {
  if (!/^\d{1,18}$/.test(id))
    throw new RestoreError('BAD_RESTORE_ID', `release: "${id}" is not a restore id`, { field: 'release' });
  await db.ensureLedger();
  return db.sql.begin(async (tx) => {
    await pinSession(tx);
    const restore = await lockRestore(tx, id);
    if (!restore)
      throw new RestoreError('UNKNOWN_RESTORE', `release: no restore ${id} in database ${db.name}`, {
        field: 'release',
      });
    if (restore.state !== 'restored' || !restore.held) {
      throw new RestoreError(
        'NOT_HELD',
        `release: restore ${id} is ${restore.state}${restore.held ? '' : ', not into the managed table'}; there is nothing to release`,
        { field: 'release' },
      );
    }
    const target = { schema: restore.target_schema, table: restore.target_table };
    const range = {
      column: restore.time_column,
      dimension: restore.dimension_type,
      start: restore.range_start,
      end: restore.range_end,
    };
    const deleted = await deleteRange(tx, target, restore.columns, range);
    if (deleted.rowCount !== Number(restore.archived_rows) || deleted.checksum !== restore.content_checksum) {
      throw new RestoreError(
        'RANGE_CHANGED',
        `release: ${target.schema}.${target.table} holds ${deleted.rowCount} rows in [${restore.range_start}, ${restore.range_end}) that differ from the ${restore.archived_rows} archived in ${restore.object_key}; deleting them would lose data, so nothing was deleted`,
      );
    }
    // Nothing may be left for retention to archive a second time: a partition the restore
    // recreated, or a hypertable chunk the restored rows created, goes with them once empty.
    const dropped: string[] = [];
    if (restore.created_partition) {
      await dropTable(tx, { schema: restore.chunk_schema, table: restore.chunk_name });
      dropped.push(`${restore.chunk_schema}.${restore.chunk_name}`);
    } else if ((await hasTimescaleDb(tx)) && (await isHypertable(tx, target))) {
      for (const chunk of await emptyChunksInRange(tx, target, range)) {
        await dropTable(tx, chunk);
        dropped.push(`${chunk.schema}.${chunk.table}`);
      }
    }
    const released = await markReleased(tx, restore);
    return {
      restore_id: id,
      released: released,
      table: `${target.schema}.${target.table}`,
      range_start: restore.range_start,
      range_end: restore.range_end,
      deleted_rows: deleted.rowCount,
      dropped_tables: dropped,
    };
  });
}
