import type postgres from 'postgres';

export interface ColumnInfo {
  name: string;
  /** format_type(): `numeric(12,2)`, `timestamp with time zone`, `integer[]`, ... */
  pgType: string;
  /** The base type's name after resolving domains: `int4`, `numeric`, `_int4`, ... */
  baseType: string;
  /** pg_type.typcategory of the base type: A array, E enum, N numeric, ... */
  category: string;
  typmod: number;
  notNull: boolean;
}

/** The visible columns of a table, in order, with domains resolved to their base types. */
export async function listColumns(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
  table: string,
): Promise<ColumnInfo[]> {
  const rows = await sql<
    {
      name: string;
      pg_type: string;
      base_type: string;
      category: string;
      typmod: number;
      not_null: boolean;
    }[]
  >`
    select a.attname as name,
           format_type(a.atttypid, a.atttypmod) as pg_type,
           bt.typname as base_type,
           bt.typcategory as category,
           case when t.typtype = 'd' then t.typtypmod else a.atttypmod end as typmod,
           a.attnotnull as not_null
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_type t on t.oid = a.atttypid
    join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
    where n.nspname = ${schema} and c.relname = ${table} and a.attnum > 0 and not a.attisdropped
    order by a.attnum`;
  return rows.map((r) => ({
    name: r.name,
    pgType: r.pg_type,
    baseType: r.base_type,
    category: r.category,
    typmod: r.typmod,
    notNull: r.not_null,
  }));
}
