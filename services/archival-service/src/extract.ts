import {
  bindRangeSettings,
  type ChunkStorage,
  type ColumnInfo,
  chunkStorage,
  listColumns,
  lockChunkForRead,
  pinSession,
  type RowRange,
  relationOid,
  storedRows,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';
import { ArchiveError } from './errors.js';
import type { ColumnPlan } from './parquet/column-mapping.js';
import { createCopyBinaryParser, type TupleView } from './parquet/copy-binary.js';
import { copyChunkQuery } from './sql/copy-chunk.js';

export interface ExtractCallbacks {
  /** Called once, inside the snapshot, before any row: the columns, answered with their plans. */
  onColumns(columns: ColumnInfo[]): ColumnPlan[];
  /**
   * One row: field 0 of the tuple is its content hash, fields 1.. the columns in plan order. The
   * view is only valid during the call. Returns true when the caller should await flush().
   */
  onRow(tuple: TupleView, rowHash: bigint): boolean;
  /** Awaited between rows: this is where back-pressure reaches the COPY. */
  flush(): Promise<void>;
}

export interface ExtractTarget {
  kind: 'timescaledb' | 'partition' | 'table';
  /** A plain table's window: only its rows are read (and counted, and hashed). */
  window?: RowRange | undefined;
  schema: string;
  table: string;
  /** How long to wait for the chunk's lock (a compression in progress holds it). */
  lockTimeoutMs: number;
  /** The OID the chunk was requested with: the name must still resolve to it once locked. */
  oid?: string | undefined;
}

/**
 * Reads one chunk inside a REPEATABLE READ READ ONLY transaction, so the columns, the rows, their
 * hashes and the storage counts all come from one snapshot. The chunk is locked before that
 * snapshot is taken (see lockChunkForRead), and the rows read must equal the rows stored, counted
 * per storage form without the planner: a read that missed any row fails rather than archive less.
 */
export async function extractChunk(
  sql: postgres.Sql,
  target: ExtractTarget,
  callbacks: ExtractCallbacks,
): Promise<ChunkStorage> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    await lockChunkForRead(tx, target.schema, target.table, target.lockTimeoutMs);
    await pinSession(tx);
    const oid = await relationOid(tx, target.schema, target.table);
    if (target.oid !== undefined && oid !== target.oid) {
      throw new ArchiveError(
        'CHUNK_REPLACED',
        `${target.schema}.${target.table} is OID ${oid ?? 'none'} now, requested ${target.oid}: dropped and re-created since`,
      );
    }
    const storage = await chunkStorage(tx, target.kind, target.schema, target.table, target.window);
    const plans = callbacks.onColumns(await listColumns(tx, target.schema, target.table));
    // COPY takes no bind parameters: a window's bounds reach it through transaction settings.
    const window = target.window ? await bindRangeSettings(tx, target.window) : undefined;
    const rows = await streamRows(tx, { ...target, window }, plans, callbacks);
    if (rows !== storedRows(storage)) {
      throw new ArchiveError(
        'EXTRACTION_INCOMPLETE',
        `read ${rows} rows of ${target.schema}.${target.table}, but it stores ${storedRows(storage)} (${storage.heapRows} in its heap, ${storage.compressedRows} compressed); is TimescaleDB's decompression disabled?`,
      );
    }
    return storage;
  });
}

async function streamRows(
  tx: postgres.TransactionSql,
  target: ExtractTarget,
  plans: ColumnPlan[],
  callbacks: ExtractCallbacks,
): Promise<number> {
  const stream = await copyChunkQuery(tx, target.schema, target.table, plans, target.window).readable();
  const parser = createCopyBinaryParser(plans.length + 1);
  let rows = 0;
  for await (const chunk of stream) {
    parser.push(chunk as Buffer);
    for (let tuple = parser.next(); tuple; tuple = parser.next()) {
      rows++;
      if (callbacks.onRow(tuple, tuple.buf.readBigInt64BE(tuple.offsets[0]!))) await callbacks.flush();
    }
  }
  if (!parser.finished() || parser.pending() > 0) throw new Error('COPY output ended without its trailer');
  return rows;
}
