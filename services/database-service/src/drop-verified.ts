import { failpoint } from '@chunk-archiver/common';
import { chunkContentChecksum, pinSession } from '@chunk-archiver/pg';
import type { RetentionConfig } from './config.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import {
  analyzeTable,
  chunkTableExists,
  detachAndDropPartition,
  dropHypertableChunk,
  lockChunkAgainstWrites,
} from './sql/drop.js';
import {
  lockChunkRow,
  markDeadFromArchived,
  markDropped,
  markForReArchive,
  recordEvent,
} from './sql/ledger.js';

/** The drop settings for one database: its own vacuum_after_drop, else the default. */
export function dropOptions(config: RetentionConfig, db: ManagedDatabase) {
  return {
    lockTimeoutMs: config.defaults.lock_timeout_ms,
    analyzeAfterDrop: db.config.vacuum_after_drop ?? config.defaults.vacuum_after_drop,
  };
}

export type DropOutcome = 'dropped' | 'content-changed' | 'not-archived' | 'vanished' | 'dry-run';

/**
 * The only code path that drops a chunk. Inside one transaction: lock the ledger row, lock the
 * chunk against writes, recompute its row count and content checksum, and drop it only if both
 * equal what the verified archive holds. Anything else rolls back and leaves the chunk in place.
 * Works from the ledger alone, so a manager that died mid-way finishes the job after a restart.
 */
export async function dropVerifiedChunk(
  db: ManagedDatabase,
  chunkId: string,
  options: { lockTimeoutMs: number; dryRun?: boolean; analyzeAfterDrop?: boolean },
): Promise<DropOutcome> {
  const outcome = await dropInTransaction(db, chunkId, options);
  if (outcome.result === 'dropped' && options.analyzeAfterDrop && outcome.parent) {
    // DROP TABLE has already returned the space; refreshing the parent's statistics keeps plans
    // honest now that a range is gone. Best effort: the drop is done either way.
    await analyzeTable(db.sql, outcome.parent.schema, outcome.parent.name).catch((error: unknown) => {
      db.logger.warn({ err: error }, 'analyze after drop failed');
    });
  }
  return outcome.result;
}

async function dropInTransaction(
  db: ManagedDatabase,
  chunkId: string,
  options: { lockTimeoutMs: number; dryRun?: boolean },
): Promise<{ result: DropOutcome; parent?: { schema: string; name: string } }> {
  return db.sql.begin(async (tx) => {
    await pinSession(tx);
    const row: LedgerChunk | undefined = await lockChunkRow(tx, chunkId);
    if (row?.state !== 'archived' || row.row_count === null || row.content_checksum === null)
      return { result: 'not-archived' as const };
    const log = db.logger.child({ chunk: `${row.chunk_schema}.${row.chunk_name}` });
    if (!(await chunkTableExists(tx, row.chunk_schema, row.chunk_name))) {
      // Someone else removed it: nothing to verify against, so a person should look.
      const message = 'the chunk table no longer exists; it was not dropped by this manager';
      await markDeadFromArchived(tx, row.id, 'CHUNK_VANISHED', message);
      await recordEvent(tx, row.id, 'archived', 'dead', message);
      log.error('chunk vanished before its verified drop');
      return { result: 'vanished' as const };
    }
    await lockChunkAgainstWrites(tx, row.chunk_schema, row.chunk_name, options.lockTimeoutMs);
    const now = await chunkContentChecksum(tx, row.chunk_schema, row.chunk_name);
    if (String(now.rowCount) !== String(row.row_count) || now.checksum !== row.content_checksum) {
      const message = `chunk changed after extraction: ${now.rowCount} rows (archived ${row.row_count}), checksum ${now.checksum} (archived ${row.content_checksum}); archiving again`;
      await markForReArchive(tx, row.id, ['archived'], 'CONTENT_CHANGED', message);
      await recordEvent(tx, row.id, 'archived', 'pending', message);
      log.warn(
        { rows_now: now.rowCount, rows_archived: row.row_count },
        'chunk changed since it was archived; not dropping, re-archiving',
      );
      return { result: 'content-changed' as const };
    }
    if (options.dryRun) return { result: 'dry-run' as const };
    await failpoint('drop.in-transaction');
    if (row.source_kind === 'partition') {
      await detachAndDropPartition(
        tx,
        { schema: row.table_schema, name: row.table_name },
        { schema: row.chunk_schema, name: row.chunk_name },
      );
    } else {
      await dropHypertableChunk(tx, { schema: row.chunk_schema, name: row.chunk_name });
    }
    await markDropped(tx, row.id);
    await recordEvent(
      tx,
      row.id,
      'archived',
      'dropped',
      `verified ${row.row_count} rows, checksum ${row.content_checksum}; archive ${row.object_key}`,
    );
    log.info({ rows: Number(row.row_count), key: row.object_key }, 'chunk dropped after verification');
    return { result: 'dropped' as const, parent: { schema: row.table_schema, name: row.table_name } };
  });
}
