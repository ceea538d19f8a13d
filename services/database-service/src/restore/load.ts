import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type postgres from 'postgres';
import { copyIn, insertTextRows, type TableRef } from '../sql/restore.js';
import type { TextRow } from './parquet-rows.js';

export type LoadMethod = 'copy' | 'insert';

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One row in COPY's text format: tab-separated, `\N` for NULL, control characters escaped. */
export function copyTextLine(row: TextRow): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (i) line += '\t';
    line += value === null ? '\\N' : value!.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!);
  }
  return `${line}\n`;
}

async function* copyText(batches: AsyncIterable<TextRow[]>): AsyncGenerator<Buffer> {
  for await (const batch of batches) {
    let text = '';
    for (const row of batch) text += copyTextLine(row);
    yield Buffer.from(text, 'utf8');
  }
}

/** PostgreSQL takes at most 65535 parameters in one statement. */
const MAX_PARAMETERS = 60_000;

/** Streams the rows into the table; returns how many were loaded. */
export async function loadRows(
  tx: postgres.TransactionSql,
  target: TableRef,
  columns: string[],
  batches: AsyncIterable<TextRow[]>,
  method: LoadMethod,
): Promise<number> {
  let loaded = 0;
  if (method === 'copy') {
    const counted = (async function* () {
      for await (const batch of batches) {
        loaded += batch.length;
        yield batch;
      }
    })();
    await pipeline(Readable.from(copyText(counted)), await copyIn(tx, target, columns));
    return loaded;
  }
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  for await (const batch of batches) {
    for (let i = 0; i < batch.length; i += perStatement) {
      const slice = batch.slice(i, i + perStatement);
      await insertTextRows(tx, target, columns, slice);
      loaded += slice.length;
    }
  }
  return loaded;
}
