import type postgres from 'postgres';
import type { ColumnPlan } from '../parquet/column-mapping.js';

/**
 * COPY of one chunk table, each row followed by its content hash (the per-row half of the shared
 * checksum definition). Identifiers are escaped by the driver; no value is interpolated.
 */
export function copyChunkQuery(
  tx: postgres.TransactionSql,
  schema: string,
  table: string,
  plans: ColumnPlan[],
): postgres.PendingQuery<postgres.Row[]> {
  const select = plans.map((p) => (p.selectAsJson ? tx`to_json(t.${tx(p.name)})` : tx`t.${tx(p.name)}`));
  const list = select.reduce((acc, part) => tx`${acc}, ${part}`, tx`hashtextextended(t::text, 0)`);
  return tx`copy (select ${list} from only ${tx(schema)}.${tx(table)} as t) to stdout`;
}
