import type postgres from 'postgres';

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

/** Recomputes the content checksum of one chunk table. */
export async function chunkContentChecksum(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
  table: string,
): Promise<ContentChecksum> {
  const [row] = await sql<{ row_count: string; checksum: string }[]>`
    select count(*)::text as row_count,
           coalesce(sum(hashtextextended(t::text, 0)), 0)::text as checksum
    from only ${sql(schema)}.${sql(table)} as t`;
  return { rowCount: Number(row!.row_count), checksum: row!.checksum };
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
