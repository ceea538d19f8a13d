import { chunkRows, type RowRange, rowHash } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { ColumnPlan } from '../parquet/column-mapping.js';

/**
 * Binary COPY of one chunk's rows (every storage form: see chunkRows), each row led by its content
 * hash (the per-row half of the shared checksum definition). Identifiers are escaped by the
 * driver; no value is interpolated.
 */
export function copyChunkQuery(
  tx: postgres.TransactionSql,
  schema: string,
  table: string,
  plans: ColumnPlan[],
  window?: RowRange,
): postgres.PendingQuery<postgres.Row[]> {
  const select = plans.map((p) => {
    const column = tx`t.${tx(p.name)}`;
    if (p.select === 'json') return tx`to_json(${column})`;
    // format() applies the type's output function (inet::text would add a netmask); it turns
    // NULL into '', hence the CASE.
    if (p.select === 'text')
      return tx`case when ${column} is null then null else format('%s', ${column}) end`;
    return column;
  });
  const list = select.reduce((acc, part) => tx`${acc}, ${part}`, rowHash(tx));
  return tx`copy (select ${list} from ${chunkRows(tx, schema, table, window)}) to stdout (format binary)`;
}
