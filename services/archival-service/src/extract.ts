import { listColumns, pinSession } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import { type ColumnPlan, planColumn } from './parquet/column-mapping.js';
import { createCopyBinaryParser, type TupleView } from './parquet/copy-binary.js';
import { copyChunkQuery } from './sql/copy-chunk.js';

export interface ExtractCallbacks {
  /** Called once, inside the snapshot, before any row: the plan for every column. */
  onColumns(plans: ColumnPlan[]): void;
  /**
   * One row: field 0 of the tuple is its content hash, fields 1.. the columns in plan order. The
   * view is only valid during the call. Returns true when the caller should await flush().
   */
  onRow(tuple: TupleView, rowHash: bigint): boolean;
  /** Awaited between rows: this is where back-pressure reaches the COPY. */
  flush(): Promise<void>;
}

/**
 * Reads one chunk inside a REPEATABLE READ READ ONLY transaction, so the columns, the rows and
 * their hashes all come from one snapshot.
 */
export async function extractChunk(
  sql: postgres.Sql,
  schema: string,
  table: string,
  callbacks: ExtractCallbacks,
): Promise<void> {
  await sql.begin('isolation level repeatable read read only', async (tx) => {
    await pinSession(tx);
    const plans = (await listColumns(tx, schema, table)).map(planColumn);
    callbacks.onColumns(plans);
    const stream = await copyChunkQuery(tx, schema, table, plans).readable();
    const parser = createCopyBinaryParser(plans.length + 1);
    for await (const chunk of stream) {
      parser.push(chunk as Buffer);
      for (let tuple = parser.next(); tuple; tuple = parser.next()) {
        if (callbacks.onRow(tuple, tuple.buf.readBigInt64BE(tuple.offsets[0]!))) await callbacks.flush();
      }
    }
    if (!parser.finished() || parser.pending() > 0) throw new Error('COPY output ended without its trailer');
  });
}
