import { partitionsOf } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { DiscoveredChunk } from '../ledger/types.js';

type Db = postgres.Sql | postgres.TransactionSql;

export interface TableTarget {
  schema: string;
  name: string;
  retentionDays: number;
  retentionInteger?: number | undefined;
}

/** The database's clock, so a skewed host clock cannot move the cutoff. */
export async function databaseNow(sql: Db): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`select now() as now`;
  return row!.now;
}

/**
 * Hypertable chunks whose whole range ends at or before now − retention (time dimensions), or
 * before max(column) − retention_integer (integer dimensions). Compressed chunks are included:
 * the worker reports them rather than the manager hiding them.
 */
export async function expiredHypertableChunks(sql: Db, table: TableTarget): Promise<DiscoveredChunk[]> {
  const rows = await sql<
    {
      chunk_schema: string;
      chunk_name: string;
      primary_dimension: string;
      range_start: Date | null;
      range_end: Date | null;
      range_start_integer: string | null;
      range_end_integer: string | null;
    }[]
  >`
    select chunk_schema, chunk_name, primary_dimension, range_start, range_end,
           range_start_integer::text as range_start_integer, range_end_integer::text as range_end_integer
    from timescaledb_information.chunks
    where hypertable_schema = ${table.schema} and hypertable_name = ${table.name}
      and range_end <= now() - make_interval(days => ${table.retentionDays})
    union all
    select chunk_schema, chunk_name, primary_dimension, range_start, range_end,
           range_start_integer::text, range_end_integer::text
    from timescaledb_information.chunks
    where hypertable_schema = ${table.schema} and hypertable_name = ${table.name}
      and range_end_integer is not null and ${table.retentionInteger ?? null}::bigint is not null
      and range_end_integer <= (
        select max(range_end_integer) from timescaledb_information.chunks
        where hypertable_schema = ${table.schema} and hypertable_name = ${table.name}
      ) - ${table.retentionInteger ?? 0}::bigint
    order by 4, 6`;
  return rows.map((r) => ({
    source_kind: 'timescaledb',
    table_schema: table.schema,
    table_name: table.name,
    chunk_schema: r.chunk_schema,
    chunk_name: r.chunk_name,
    time_column: r.primary_dimension,
    dimension_type: r.range_start ? 'timestamp' : 'integer',
    range_start: r.range_start ? r.range_start.toISOString() : r.range_start_integer!,
    range_end: r.range_end ? r.range_end.toISOString() : r.range_end_integer!,
  }));
}

/** Range partitions whose upper bound is at or before the cutoff; the default partition never is. */
export async function expiredPartitions(sql: Db, table: TableTarget, now: Date): Promise<DiscoveredChunk[]> {
  const cutoff = now.getTime() - table.retentionDays * 86_400_000;
  const partitions = await partitionsOf(sql, table.schema, table.name);
  const integerEnds = partitions.flatMap((p) => (p.endInteger !== undefined ? [BigInt(p.endInteger)] : []));
  // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigint
  const maxEnd = integerEnds.reduce((a, b) => (b > a ? b : a), -(2n ** 63n));
  const expired = (
    p: (typeof partitions)[number],
    dimension: DiscoveredChunk['dimension_type'],
    start: string,
    end: string,
  ): DiscoveredChunk => ({
    source_kind: 'partition',
    table_schema: table.schema,
    table_name: table.name,
    chunk_schema: p.partitionSchema,
    chunk_name: p.partitionName,
    time_column: p.keyColumn,
    dimension_type: dimension,
    range_start: start,
    range_end: end,
  });
  const out: DiscoveredChunk[] = [];
  for (const p of partitions) {
    if (p.isDefault) continue;
    if (p.startTime && p.endTime && p.endTime.getTime() <= cutoff) {
      out.push(expired(p, 'timestamp', p.startTime.toISOString(), p.endTime.toISOString()));
    } else if (
      p.startInteger !== undefined &&
      p.endInteger !== undefined &&
      table.retentionInteger !== undefined
    ) {
      if (BigInt(p.endInteger) <= maxEnd - BigInt(table.retentionInteger)) {
        out.push(expired(p, 'integer', p.startInteger, p.endInteger));
      }
    }
  }
  return out.sort((a, b) => (a.range_start < b.range_start ? -1 : 1));
}
