import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

export interface ChunkRange {
  /** Set for time dimensions. */
  startTime?: Date;
  endTime?: Date;
  /** Set for integer dimensions (decimal strings: int8 does not fit a JS number). */
  startInteger?: string;
  endInteger?: string;
}

export interface HypertableChunk extends ChunkRange {
  chunkSchema: string;
  chunkName: string;
  timeColumn: string;
  isCompressed: boolean;
}

export async function hasTimescaleDb(sql: Db): Promise<boolean> {
  const rows = await sql`select 1 from pg_extension where extname = 'timescaledb'`;
  return rows.length > 0;
}

/** One chunk of one hypertable, by name, with its primary-dimension range; undefined when absent. */
export async function findHypertableChunk(
  sql: Db,
  id: { tableSchema: string; tableName: string; chunkSchema: string; chunkName: string },
): Promise<HypertableChunk | undefined> {
  const [row] = await sql<
    {
      chunk_schema: string;
      chunk_name: string;
      primary_dimension: string;
      range_start: Date | null;
      range_end: Date | null;
      range_start_integer: string | null;
      range_end_integer: string | null;
      is_compressed: boolean;
    }[]
  >`
    select chunk_schema, chunk_name, primary_dimension, range_start, range_end,
           range_start_integer::text as range_start_integer, range_end_integer::text as range_end_integer,
           is_compressed
    from timescaledb_information.chunks
    where hypertable_schema = ${id.tableSchema} and hypertable_name = ${id.tableName}
      and chunk_schema = ${id.chunkSchema} and chunk_name = ${id.chunkName}`;
  if (!row) return undefined;
  return {
    chunkSchema: row.chunk_schema,
    chunkName: row.chunk_name,
    timeColumn: row.primary_dimension,
    isCompressed: row.is_compressed,
    ...(row.range_start ? { startTime: row.range_start, endTime: row.range_end ?? undefined } : {}),
    ...(row.range_start_integer !== null
      ? { startInteger: row.range_start_integer, endInteger: row.range_end_integer ?? undefined }
      : {}),
  };
}

export interface Partition extends ChunkRange {
  partitionSchema: string;
  partitionName: string;
  /** The partition key column of the parent (single-column range partitioning only). */
  keyColumn: string;
  isDefault: boolean;
}

/**
 * One direct partition of a range-partitioned parent, with its bounds cast to the key's type;
 * undefined when the parent is not range-partitioned or the partition is not its child.
 */
export async function findPartition(
  sql: Db,
  id: { tableSchema: string; tableName: string; chunkSchema: string; chunkName: string },
): Promise<Partition | undefined> {
  const rows = await partitionsOf(sql, id.tableSchema, id.tableName, id.chunkSchema, id.chunkName);
  return rows[0];
}

/** Every direct partition of a range-partitioned parent (or just the named one). */
export async function partitionsOf(
  sql: Db,
  tableSchema: string,
  tableName: string,
  chunkSchema?: string,
  chunkName?: string,
): Promise<Partition[]> {
  const rows = await sql<
    {
      partition_schema: string;
      partition_name: string;
      key_column: string;
      key_type: string;
      is_default: boolean;
      lower: string | null;
      upper: string | null;
    }[]
  >`
    with parent as (
      select p.oid, pt.partattrs[0] as attnum
      from pg_class p
      join pg_namespace pn on pn.oid = p.relnamespace
      join pg_partitioned_table pt on pt.partrelid = p.oid
      where pn.nspname = ${tableSchema} and p.relname = ${tableName}
        and p.relkind = 'p' and pt.partstrat = 'r' and pt.partnatts = 1
    ), bounds as (
      select n.nspname as partition_schema, c.relname as partition_name,
             a.attname as key_column, format_type(a.atttypid, a.atttypmod) as key_type,
             pg_get_expr(c.relpartbound, c.oid) as bound
      from parent
      join pg_inherits i on i.inhparent = parent.oid
      join pg_class c on c.oid = i.inhrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = parent.oid and a.attnum = parent.attnum
      where (${chunkSchema ?? null}::text is null or n.nspname = ${chunkSchema ?? null})
        and (${chunkName ?? null}::text is null or c.relname = ${chunkName ?? null})
    )
    select partition_schema, partition_name, key_column, key_type,
           bound = 'DEFAULT' as is_default,
           (regexp_match(bound, '^FOR VALUES FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)$'))[1] as lower,
           (regexp_match(bound, '^FOR VALUES FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)$'))[2] as upper
    from bounds
    order by partition_schema, partition_name`;
  const parsed: Partition[] = [];
  for (const r of rows) {
    const base = {
      partitionSchema: r.partition_schema,
      partitionName: r.partition_name,
      keyColumn: r.key_column,
      isDefault: r.is_default,
    };
    if (r.lower === null || r.upper === null) {
      parsed.push(base);
      continue;
    }
    if (/^(smallint|integer|bigint)$/.test(r.key_type)) {
      parsed.push({ ...base, startInteger: r.lower, endInteger: r.upper });
    } else {
      const [b] = await sql<{ lower: Date; upper: Date }[]>`
        select ${r.lower}::timestamptz as lower, ${r.upper}::timestamptz as upper`;
      parsed.push({ ...base, startTime: b!.lower, endTime: b!.upper });
    }
  }
  return parsed;
}
