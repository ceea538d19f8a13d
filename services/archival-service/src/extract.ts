import { listColumns, pinSession } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import { type ColumnPlan, planColumn } from './parquet/column-mapping.js';
import { copyTextRows } from './parquet/copy-text.js';
import { copyChunkQuery } from './sql/copy-chunk.js';

export interface ExtractCallbacks {
  /** Called once, inside the snapshot, before any row: the plan for every column. */
  onColumns(plans: ColumnPlan[]): void;
  /** Fields in plan order and the row's content hash. Awaited: back-pressure reaches the COPY. */
  onRow(fields: Array<string | null>, rowHash: bigint): Promise<void>;
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
    for await (const fields of copyTextRows(stream)) {
      const hash = BigInt(fields[0]!);
      await callbacks.onRow(fields.slice(1), hash);
    }
  });
}
