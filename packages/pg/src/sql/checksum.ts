import type postgres from 'postgres';
import { type RowRange, rangePredicate } from './window.js';

/**
 * The content checksum of a chunk: the row count and the sum of a 64-bit hash of each row's text
 * form. A sum does not depend on row order, so the archiver can add up the hashes as rows stream
 * past while the manager computes the same number in one query at drop time.
 *
 * Both sides must run under PINNED_SETTINGS (see session.ts).
 */
export interface ContentChecksum {
  rowCount: number;
  /** Decimal string: the sum of int8 hashes overflows int8, so PostgreSQL sums into numeric. */
  checksum: string;
}

/** The per-row half of the definition: a 64-bit hash of the row's text form (`t`, see chunkRows). */
export function rowHash(sql: postgres.Sql | postgres.TransactionSql): postgres.PendingQuery<postgres.Row[]> {
  return sql`hashtextextended(t::text, 0)`;
}

/**
 * What "the chunk's rows" means, for extraction and the drop's recount alike: the table without
 * ONLY, aliased `t`. On a TimescaleDB chunk that reads compressed batches (decompressed) and heap
 * rows together; `FROM ONLY` would read the heap alone and miss every compressed row. A plain
 * table's window is the table's rows in the window's range (`where` included, so this must end
 * the FROM clause).
 */
export function chunkRows(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
  table: string,
  window?: RowRange,
): postgres.PendingQuery<postgres.Row[]> {
  if (window) return sql`${sql(schema)}.${sql(table)} as t where ${rangePredicate(sql, window)}`;
  return sql`${sql(schema)}.${sql(table)} as t`;
}

/**
 * The aggregate half: `row_count` and `checksum` over rows aliased `t`. Every place that computes
 * a content checksum in SQL (the drop's recount, restore's checks, release's delete) selects this.
 */
export function checksumSelect(
  sql: postgres.Sql | postgres.TransactionSql,
): postgres.PendingQuery<postgres.Row[]> {
  return sql`count(*)::text as row_count, coalesce(sum(${rowHash(sql)}), 0)::text as checksum`;
}

/** A row of checksumSelect as a ContentChecksum. */
export function toContentChecksum(row: { row_count: string; checksum: string } | undefined): ContentChecksum {
  return { rowCount: Number(row!.row_count), checksum: row!.checksum };
}

/** Recomputes the content checksum of one chunk (or window), every storage form included. */
export async function chunkContentChecksum(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
  table: string,
  window?: RowRange,
): Promise<ContentChecksum> {
  const [row] = await sql<{ row_count: string; checksum: string }[]>`
    select ${checksumSelect(sql)} from ${chunkRows(sql, schema, table, window)}`;
  return toContentChecksum(row);
}

/** Adds up per-row hashes (as produced by rowHashSelect) the way chunkContentChecksum does. */
export function createChecksumAccumulator() {
  let rows = 0;
  let sum = 0n;
  return {
    add(rowHash: bigint): void {
      rows++;
      sum += rowHash;
    },
    result(): ContentChecksum {
      return { rowCount: rows, checksum: sum.toString() };
    },
  };
}
