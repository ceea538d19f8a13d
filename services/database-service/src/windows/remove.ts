import { failpoint, type Logger } from '@chunk-archiver/common';
import type { ContentChecksum, RowRange } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { LedgerChunk } from '../ledger/types.js';
import { markDropped, markForReArchive } from '../sql/transitions.js';
import { boundedCount, deleteWindowRows, lockAgainstWriters, serializeRemovals } from '../sql/windows.js';

type Tx = postgres.TransactionSql;

/** The window a ledger row of a plain table stands for. */
export function windowOf(
  row: Pick<LedgerChunk, 'time_column' | 'dimension_type' | 'range_start' | 'range_end'>,
): RowRange {
  return {
    column: row.time_column,
    dimension: row.dimension_type,
    start: row.range_start,
    end: row.range_end,
  };
}

/** Why the removal was undone: the window is not exactly what was archived. */
class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown inside the savepoint to undo a dry run's delete. */
class DryRun extends Error {}

export type RemovalOutcome =
  | { result: 'dropped'; rows: number; removalMs: number }
  | { result: 'content-changed' }
  | { result: 'dry-run' };

/**
 * The verified removal of one window, inside the drop's transaction (ledger row locked, table OID
 * checked). In a savepoint: delete exactly the window's rows, returning the count and content
 * checksum of exactly the rows deleted, which must equal the archive's; then block the table's
 * writers (waiting for those already running) and see that no row is left in the window, so none
 * that arrived meanwhile outlives its archive. Any difference undoes the delete and sends the
 * window back to be archived again. No row outside the window is touched.
 */
export async function removeVerifiedWindow(
  tx: Tx,
  row: LedgerChunk,
  log: Logger,
  options: { lockTimeoutMs: number; dryRun?: boolean | undefined },
): Promise<RemovalOutcome> {
  const table = { schema: row.table_schema, name: row.table_name };
  const window = windowOf(row);
  const started = performance.now();
  await tx`select set_config('lock_timeout', ${`${Math.max(1, Math.floor(options.lockTimeoutMs))}ms`}, true)`;
  await serializeRemovals(tx, String(row.chunk_oid));
  try {
    await tx.savepoint(async (sp) => {
      const deleted = await deleteWindowRows(sp, table, window);
      const refusal = deletedRefusal(deleted, row);
      if (refusal) throw refusal;
      await lockAgainstWriters(sp, table, options.lockTimeoutMs);
      const late = await boundedCount(sp, table, window, 1_000_000);
      if (late > 0)
        throw new Refusal('LATE_ROWS', `${late} rows entered the window while it was being removed`);
      if (options.dryRun) throw new DryRun();
    });
  } catch (error) {
    if (error instanceof DryRun) return { result: 'dry-run' };
    if (!(error instanceof Refusal)) throw error;
    await markForReArchive(tx, row.id, ['archived'], error.code, error.message);
    log.warn({ code: error.code }, `window not removed, archiving again: ${error.message}`);
    return { result: 'content-changed' };
  }
  await failpoint('drop.in-transaction');
  const removalMs = Math.round(performance.now() - started);
  await markDropped(
    tx,
    row.id,
    `removed ${row.row_count} rows of [${row.range_start}, ${row.range_end}) in ${removalMs} ms, checksum ${row.content_checksum}; archive ${row.object_key}`,
    removalMs,
  );
  log.info(
    { rows: Number(row.row_count), key: row.object_key, removal_ms: removalMs },
    'window removed after verification',
  );
  return { result: 'dropped', rows: Number(row.row_count), removalMs };
}

function deletedRefusal(deleted: ContentChecksum, row: LedgerChunk): Refusal | undefined {
  if (String(deleted.rowCount) === String(row.row_count) && deleted.checksum === row.content_checksum)
    return undefined;
  return new Refusal(
    'CONTENT_CHANGED',
    `the window changed after extraction: the delete found ${deleted.rowCount} rows (archived ${row.row_count}), checksum ${deleted.checksum} (archived ${row.content_checksum})`,
  );
}
