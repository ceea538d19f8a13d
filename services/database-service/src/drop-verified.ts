import { failpoint } from '@chunk-archiver/common';
import {
  chunkContentChecksum,
  chunkStorage,
  lockChunkForDrop,
  pinSession,
  relationOid,
  storedRows,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { RetentionConfig } from './config.js';
import { windowSettings } from './config.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import { analyzeTable, detachAndDropPartition, dropHypertableChunk } from './sql/drop.js';
import { lockChunkRow, noteDropWait } from './sql/ledger.js';
import { aggregatesBehind, aggregateWatermarks } from './sql/timescale-guards.js';
import { markDeadFromArchived, markDropped, markForReArchive } from './sql/transitions.js';
import { vacuumTable, windowFrontier } from './sql/windows.js';
import { removeVerifiedWindow } from './windows/remove.js';

/** The drop settings for one database: its own vacuum_after_drop, else the default. */
export function dropOptions(config: RetentionConfig, db: ManagedDatabase) {
  return {
    lockTimeoutMs: config.defaults.lock_timeout_ms,
    analyzeAfterDrop: db.config.vacuum_after_drop ?? config.defaults.vacuum_after_drop,
  };
}

export type DropOutcome =
  | 'dropped'
  | 'content-changed'
  | 'not-archived'
  | 'vanished'
  | 'waiting-for-aggregate'
  | 'waiting-for-pause'
  | 'dry-run';

type Tx = postgres.TransactionSql;

/**
 * The only code path that drops a chunk. Inside one transaction: lock the ledger row, check the
 * chunk is still the table that was archived (same OID), lock it against everything (reads,
 * writes, compression), count its rows per storage form straight from storage, recompute its row
 * count and content checksum through every form, and drop it only if all of them agree with what
 * the verified archive holds. Anything else rolls back and leaves the chunk in place. Works from
 * the ledger alone, so a manager that died mid-way finishes the job after a restart.
 */
export async function dropVerifiedChunk(
  db: ManagedDatabase,
  chunkId: string,
  options: { lockTimeoutMs: number; dryRun?: boolean; analyzeAfterDrop?: boolean },
): Promise<DropOutcome> {
  const outcome = await db.sql.begin((tx) => dropInTransaction(db, tx, chunkId, options));
  if (outcome.result === 'dropped') db.recordDrop(outcome.rows ?? 0);
  if (outcome.result === 'dropped' && outcome.window) {
    const { schema, name, removalMs } = outcome.window;
    db.lastWindows.set(`${schema}.${name}`, { rows: outcome.rows ?? 0, removalMs });
    afterWindowRemoval(db, outcome.window);
    return outcome.result;
  }
  if (outcome.result === 'dropped' && options.analyzeAfterDrop && outcome.parent) {
    // DROP TABLE has already returned the space; refreshing the parent's statistics keeps plans
    // honest now that a range is gone. Best effort: the drop is done either way.
    await analyzeTable(db.sql, outcome.parent.schema, outcome.parent.name).catch((error: unknown) => {
      db.logger.warn({ err: error }, 'analyze after drop failed');
    });
  }
  return outcome.result;
}

interface InTransaction {
  result: DropOutcome;
  parent?: { schema: string; name: string };
  rows?: number;
  /** A plain table's window was removed (rows deleted, the table stays). */
  window?: { schema: string; name: string; oid: string; removalMs: number };
}

/** Tables (`schema.table`) with a VACUUM after archival running now: one at a time each. */
const vacuuming = new Set<string>();

function settingsOf(db: ManagedDatabase, table: { schema: string; name: string }) {
  const config = db.config.tables.find(
    (t) => t.kind === 'table' && t.schema === table.schema && t.name === table.name,
  );
  return config ? windowSettings(config) : undefined;
}

/** Wakes the scanner after `ms` without holding anything up (a confirmation, say). */
function wakeLater(db: ManagedDatabase, ms: number): void {
  if (ms <= 0) db.wake();
  else setTimeout(() => db.wake(), ms).unref();
}

/**
 * `window_pause_ms` is the least time between two removals from one table. A removal due sooner
 * is not waited for here (that would hold a confirmation): the window stays archived, says why,
 * and the scanner is woken when the pause is over to remove it. JavaScript runs this check and
 * the reservation with nothing in between, and only the leader removes, so two removals of one
 * table never both pass it.
 */
function pauseRefusal(db: ManagedDatabase, row: LedgerChunk): string | undefined {
  const pauseMs = settingsOf(db, { schema: row.table_schema, name: row.table_name })?.pauseMs ?? 0;
  if (pauseMs <= 0) return undefined;
  const key = `${row.table_schema}.${row.table_name}`;
  const now = Date.now();
  const due = db.nextRemovalAt.get(key) ?? 0;
  if (now >= due) {
    db.nextRemovalAt.set(key, now + pauseMs);
    return undefined;
  }
  wakeLater(db, due - now);
  return `window_pause_ms: the next removal from ${row.table_schema}.${row.table_name} may start at ${new Date(due).toISOString()}`;
}

/**
 * After a window's removal: a wake for the scanner, which cuts and requests the next windows now
 * instead of at the next interval (after the pause between windows, when one is set); and once
 * the table has no open window left, VACUUM (ANALYZE or FULL, as configured) in the background,
 * so a long one never holds up confirmations (the server's statement_timeout bounds it).
 */
function afterWindowRemoval(db: ManagedDatabase, table: { schema: string; name: string; oid: string }): void {
  const settings = settingsOf(db, table);
  if (settings && settings.vacuum !== 'none') void vacuumWhenDone(db, table, settings.vacuum);
  wakeLater(db, settings?.pauseMs ?? 0);
}

async function vacuumWhenDone(
  db: ManagedDatabase,
  table: { schema: string; name: string; oid: string },
  mode: 'analyze' | 'full',
): Promise<void> {
  const key = `${db.name}/${table.schema}.${table.name}`;
  if (vacuuming.has(key)) return;
  vacuuming.add(key);
  try {
    if ((await windowFrontier(db.sql, table, table.oid)).open > 0) return;
    await vacuumTable(db.sql, table, mode);
    db.logger.info({ table: `${table.schema}.${table.name}`, vacuum: mode }, 'vacuumed after archival');
  } catch (error) {
    // The removal is committed either way; the space comes back at the next autovacuum.
    db.logger.warn({ err: error, table: `${table.schema}.${table.name}` }, 'vacuum after archival failed');
  } finally {
    vacuuming.delete(key);
  }
}

async function dropInTransaction(
  db: ManagedDatabase,
  tx: Tx,
  chunkId: string,
  options: { lockTimeoutMs: number; dryRun?: boolean },
): Promise<InTransaction> {
  await pinSession(tx);
  const row: LedgerChunk | undefined = await lockChunkRow(tx, chunkId);
  if (row?.state !== 'archived' || row.row_count === null || row.content_checksum === null)
    return { result: 'not-archived' };
  const log = db.logger.child({ chunk: `${row.chunk_schema}.${row.chunk_name}` });
  const oid = await relationOid(tx, row.chunk_schema, row.chunk_name);
  if (oid === undefined || (row.chunk_oid !== null && String(row.chunk_oid) !== oid)) {
    // Someone else removed it (or replaced it): nothing to verify against, so a person should look.
    const message =
      oid === undefined
        ? 'the chunk table no longer exists; it was not dropped by this manager'
        : `the chunk table was replaced (OID ${oid}, archived ${row.chunk_oid}); the new one is a chunk of its own`;
    await markDeadFromArchived(tx, row.id, 'CHUNK_VANISHED', message);
    log.error(message);
    return { result: 'vanished' };
  }
  if (row.source_kind === 'table') {
    const pause = options.dryRun ? undefined : pauseRefusal(db, row);
    if (pause) {
      await noteDropWait(tx, row.id, 'WINDOW_PAUSE', pause);
      return { result: 'waiting-for-pause' };
    }
    const removed = await removeVerifiedWindow(tx, row, log, options);
    if (removed.result !== 'dropped') return { result: removed.result };
    return {
      result: 'dropped',
      rows: removed.rows,
      window: { schema: row.table_schema, name: row.table_name, oid, removalMs: removed.removalMs },
    };
  }
  await lockChunkForDrop(tx, row.chunk_schema, row.chunk_name, options.lockTimeoutMs);
  if (row.source_kind === 'timescaledb' && (await waitsForAggregate(tx, row)))
    return { result: 'waiting-for-aggregate' };
  const refusal = await recountRefusal(tx, row);
  if (refusal) {
    await markForReArchive(tx, row.id, ['archived'], refusal.code, refusal.message);
    log.warn({ code: refusal.code }, `not dropping, archiving again: ${refusal.message}`);
    return { result: 'content-changed' };
  }
  if (options.dryRun) return { result: 'dry-run' };
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
  await markDropped(
    tx,
    row.id,
    `verified ${row.row_count} rows, checksum ${row.content_checksum}; archive ${row.object_key}`,
  );
  log.info({ rows: Number(row.row_count), key: row.object_key }, 'chunk dropped after verification');
  return {
    result: 'dropped',
    parent: { schema: row.table_schema, name: row.table_name },
    rows: Number(row.row_count),
  };
}

/**
 * Continuous aggregates over the hypertable read its raw rows: a chunk past an aggregate's
 * watermark waits (and says why) until the aggregate has materialized its range.
 */
async function waitsForAggregate(tx: Tx, row: LedgerChunk): Promise<boolean> {
  const behind = aggregatesBehind(
    await aggregateWatermarks(tx, { schema: row.table_schema, name: row.table_name }),
    row.dimension_type,
    row.range_end,
  );
  if (behind.length === 0) return false;
  const message = `waiting for continuous aggregate ${behind.map((a) => `${a.view} (materialized up to ${a.watermark})`).join(', ')} to pass ${row.range_end}`;
  await noteDropWait(tx, row.id, 'WAITING_FOR_AGGREGATE', message);
  return true;
}

/**
 * Why the chunk, as it is now under the drop's lock, is not exactly what was archived; undefined
 * when it is. The recount reads through every storage form; the per-form counts, taken without
 * the planner, prove that read saw every row (a 0-row archive is dropped only for a chunk that
 * is provably empty).
 */
async function recountRefusal(
  tx: Tx,
  row: LedgerChunk,
): Promise<{ code: string; message: string } | undefined> {
  const storage = await chunkStorage(tx, row.source_kind, row.chunk_schema, row.chunk_name);
  const now = await chunkContentChecksum(tx, row.chunk_schema, row.chunk_name);
  if (now.rowCount !== storedRows(storage)) {
    return {
      code: 'RECOUNT_INCOMPLETE',
      message: `the recount read ${now.rowCount} rows but the chunk stores ${storedRows(storage)} (${storage.heapRows} in its heap, ${storage.compressedRows} compressed); a read that cannot see every row decides nothing`,
    };
  }
  if (row.storage_form !== null && row.storage_form !== storage.form) {
    return {
      code: 'COMPRESSION_CHANGED',
      message: `the chunk was ${row.storage_form} when archived and is ${storage.form} now`,
    };
  }
  if (String(now.rowCount) !== String(row.row_count) || now.checksum !== row.content_checksum) {
    return {
      code: 'CONTENT_CHANGED',
      message: `chunk changed after extraction: ${now.rowCount} rows (archived ${row.row_count}), checksum ${now.checksum} (archived ${row.content_checksum})`,
    };
  }
  return undefined;
}
