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

export interface DimensionSlice {
  column: string;
  start: string;
  end: string;
}

export interface HypertableChunk extends ChunkRange {
  chunkSchema: string;
  chunkName: string;
  /** The chunk table's OID: a re-created chunk under a reused name has another. */
  oid: string;
  timeColumn: string;
  isCompressed: boolean;
  /** Slices of the secondary dimensions (space partitions), in dimension order. */
  slices: DimensionSlice[];
}

export async function hasTimescaleDb(sql: Db): Promise<boolean> {
  const rows = await sql`select 1 from pg_extension where extname = 'timescaledb'`;
  return rows.length > 0;
}

interface HypertableChunkRow {
  chunk_schema: string;
  chunk_name: string;
  oid: string;
  primary_dimension: string;
  range_start: Date | null;
  range_end: Date | null;
  range_start_integer: string | null;
  range_end_integer: string | null;
  is_compressed: boolean;
  slices: DimensionSlice[];
}

/**
 * The chunks of one hypertable (or just the named one), oldest first, each with its OID, its
 * primary-dimension range and its slices of every other dimension.
 */
export async function hypertableChunks(
  sql: Db,
  id: { tableSchema: string; tableName: string; chunkSchema?: string; chunkName?: string },
): Promise<HypertableChunk[]> {
  const rows = await sql<HypertableChunkRow[]>`
    select c.chunk_schema, c.chunk_name, pc.oid::text as oid, c.primary_dimension,
           c.range_start, c.range_end,
           c.range_start_integer::text as range_start_integer, c.range_end_integer::text as range_end_integer,
           c.is_compressed,
           (select coalesce(json_agg(json_build_object('column', d.column_name, 'start', s.range_start::text,
                                                       'end', s.range_end::text) order by d.id), '[]'::json)
            from _timescaledb_catalog.chunk ch
            join _timescaledb_catalog.chunk_constraint cc on cc.chunk_id = ch.id
            join _timescaledb_catalog.dimension_slice s on s.id = cc.dimension_slice_id
            join _timescaledb_catalog.dimension d on d.id = s.dimension_id
            where ch.schema_name = c.chunk_schema and ch.table_name = c.chunk_name
              and d.column_name <> c.primary_dimension) as slices
    from timescaledb_information.chunks c
    join pg_namespace pn on pn.nspname = c.chunk_schema
    join pg_class pc on pc.relnamespace = pn.oid and pc.relname = c.chunk_name
    where c.hypertable_schema = ${id.tableSchema} and c.hypertable_name = ${id.tableName}
      and (${id.chunkSchema ?? null}::text is null or c.chunk_schema = ${id.chunkSchema ?? null})
      and (${id.chunkName ?? null}::text is null or c.chunk_name = ${id.chunkName ?? null})
    order by c.range_start nulls last, c.range_start_integer, c.chunk_name`;
  return rows.map((row) => ({
    chunkSchema: row.chunk_schema,
    chunkName: row.chunk_name,
    oid: row.oid,
    timeColumn: row.primary_dimension,
    isCompressed: row.is_compressed,
    slices: row.slices,
    ...(row.range_start ? { startTime: row.range_start, endTime: row.range_end ?? undefined } : {}),
    ...(row.range_start_integer !== null
      ? { startInteger: row.range_start_integer, endInteger: row.range_end_integer ?? undefined }
      : {}),
  }));
}

/** One chunk of one hypertable, by name; undefined when absent. */
export async function findHypertableChunk(
  sql: Db,
  id: { tableSchema: string; tableName: string; chunkSchema: string; chunkName: string },
): Promise<HypertableChunk | undefined> {
  const [chunk] = await hypertableChunks(sql, id);
  return chunk;
}

export interface Partition extends ChunkRange {
  partitionSchema: string;
  partitionName: string;
  /** The partition table's OID: a re-created partition under a reused name has another. */
  oid: string;
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
      oid: string;
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
      select n.nspname as partition_schema, c.relname as partition_name, c.oid::text as oid,
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
    select partition_schema, partition_name, oid, key_column, key_type,
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
      oid: r.oid,
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
