import type { ChunkIdentity } from '@chunk-archiver/events';
import { hypertableChunks, partitionsOf } from '@chunk-archiver/pg';
import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

export interface TableTarget {
  /** The configured database name, which every chunk identity carries. */
  database: string;
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
 * before max(range end) − retention_integer (integer dimensions). Compressed chunks are included:
 * they are archived through decompression like any other.
 */
export async function expiredHypertableChunks(
  sql: Db,
  table: TableTarget,
  now: Date,
): Promise<ChunkIdentity[]> {
  const chunks = await hypertableChunks(sql, { tableSchema: table.schema, tableName: table.name });
  const cutoff = now.getTime() - table.retentionDays * 86_400_000;
  const integerEnds = chunks.flatMap((c) => (c.endInteger !== undefined ? [BigInt(c.endInteger)] : []));
  // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigint
  const maxEnd = integerEnds.reduce((a, b) => (b > a ? b : a), -(2n ** 63n));
  const out: ChunkIdentity[] = [];
  for (const c of chunks) {
    const base = {
      database: table.database,
      source_kind: 'timescaledb' as const,
      table_schema: table.schema,
      table_name: table.name,
      chunk_schema: c.chunkSchema,
      chunk_name: c.chunkName,
      chunk_oid: c.oid,
      dimension_slices: c.slices,
      time_column: c.timeColumn,
    };
    if (c.startTime && c.endTime && c.endTime.getTime() <= cutoff) {
      out.push({
        ...base,
        dimension_type: 'timestamp',
        chunk_start_time: c.startTime.toISOString(),
        chunk_end_time: c.endTime.toISOString(),
      });
    } else if (
      c.startInteger !== undefined &&
      c.endInteger !== undefined &&
      table.retentionInteger !== undefined &&
      BigInt(c.endInteger) <= maxEnd - BigInt(table.retentionInteger)
    ) {
      out.push({
        ...base,
        dimension_type: 'integer',
        chunk_start_time: c.startInteger,
        chunk_end_time: c.endInteger,
      });
    }
  }
  return out;
}

/** Range partitions whose upper bound is at or before the cutoff; the default partition never is. */
export async function expiredPartitions(sql: Db, table: TableTarget, now: Date): Promise<ChunkIdentity[]> {
  const cutoff = now.getTime() - table.retentionDays * 86_400_000;
  const partitions = await partitionsOf(sql, table.schema, table.name);
  const integerEnds = partitions.flatMap((p) => (p.endInteger !== undefined ? [BigInt(p.endInteger)] : []));
  // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigint
  const maxEnd = integerEnds.reduce((a, b) => (b > a ? b : a), -(2n ** 63n));
  const expired = (
    p: (typeof partitions)[number],
    dimension: ChunkIdentity['dimension_type'],
    start: string,
    end: string,
  ): ChunkIdentity => ({
    database: table.database,
    source_kind: 'partition',
    table_schema: table.schema,
    table_name: table.name,
    chunk_schema: p.partitionSchema,
    chunk_name: p.partitionName,
    chunk_oid: p.oid,
    dimension_slices: [],
    time_column: p.keyColumn,
    dimension_type: dimension,
    chunk_start_time: start,
    chunk_end_time: end,
  });
  const out: ChunkIdentity[] = [];
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
  return out.sort((a, b) => (a.chunk_start_time < b.chunk_start_time ? -1 : 1));
}
