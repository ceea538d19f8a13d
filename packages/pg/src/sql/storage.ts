import type postgres from 'postgres';
import { type RowRange, rangePredicate } from './window.js';

type Db = postgres.Sql | postgres.TransactionSql;

/**
 * How a chunk's rows are stored: all in its heap, all in TimescaleDB's compressed companion, or
 * both (a compressed chunk that took inserts or updates afterwards).
 */
export type StorageForm = 'heap' | 'compressed' | 'partial';

export interface ChunkStorage {
  form: StorageForm;
  /** Rows in the chunk's own heap (`FROM ONLY`). */
  heapRows: number;
  /** Rows in its compressed batches, from each batch's own count (`_ts_meta_count`). */
  compressedRows: number;
  /** The compressed companion table, when there is one. */
  compressed?: { schema: string; name: string };
}

/** Bit 1 of `_timescaledb_catalog.chunk.status`: the chunk has compressed data. */
const STATUS_COMPRESSED = 1;

/**
 * Counts a chunk's rows per storage form straight from where they are stored, without the
 * planner: the heap with `FROM ONLY`, compressed batches by their own row counts. It is the
 * cross-check for every read that decides anything (extraction, the drop's recount): those read
 * through TimescaleDB's decompression, which a setting can switch off silently
 * (`timescaledb.enable_columnarscan = off` makes a compressed chunk read as empty).
 */
export async function chunkStorage(
  sql: Db,
  kind: 'timescaledb' | 'partition' | 'table',
  schema: string,
  name: string,
  window?: RowRange,
): Promise<ChunkStorage> {
  const heapRows = await heapRowCount(sql, schema, name, window);
  if (kind !== 'timescaledb') return { form: 'heap', heapRows, compressedRows: 0 };
  const compressed = await compressedCompanion(sql, schema, name);
  if (!compressed) return { form: 'heap', heapRows, compressedRows: 0 };
  const compressedRows = await compressedRowCount(sql, compressed.schema, compressed.name);
  return { form: heapRows > 0 ? 'partial' : 'compressed', heapRows, compressedRows, compressed };
}

async function heapRowCount(sql: Db, schema: string, name: string, window?: RowRange): Promise<number> {
  const where = window ? sql`where ${rangePredicate(sql, window)}` : sql``;
  const [row] = await sql<
    { n: string }[]
  >`select count(*)::text as n from only ${sql(schema)}.${sql(name)} ${where}`;
  return Number(row!.n);
}

/** The compressed companion of a hypertable chunk, when the chunk is compressed. */
async function compressedCompanion(
  sql: Db,
  schema: string,
  name: string,
): Promise<{ schema: string; name: string } | undefined> {
  const [row] = await sql<{ schema: string; name: string }[]>`
    select cc.schema_name as schema, cc.table_name as name
    from _timescaledb_catalog.chunk c
    join _timescaledb_catalog.chunk cc on cc.id = c.compressed_chunk_id
    where c.schema_name = ${schema} and c.table_name = ${name}
      and (c.status & ${STATUS_COMPRESSED}) <> 0`;
  return row;
}

async function compressedRowCount(sql: Db, schema: string, name: string): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
    select coalesce(sum(_ts_meta_count), 0)::text as n from ${sql(schema)}.${sql(name)}`;
  return Number(row!.n);
}

/** Every row of the chunk, whichever form it is stored in. */
export function storedRows(storage: ChunkStorage): number {
  return storage.heapRows + storage.compressedRows;
}

/**
 * Locks a chunk for a consistent read: ACCESS SHARE lets other readers and writers on, but
 * `compress_chunk` and `decompress_chunk` need ACCESS EXCLUSIVE to truncate or drop what they
 * replaced, so they wait until this transaction ends. Must be the transaction's first statement
 * under REPEATABLE READ: the snapshot is taken by the first query after it, so a compression that
 * committed while this waited is seen whole, never as its truncated heap.
 */
export async function lockChunkForRead(
  tx: postgres.TransactionSql,
  schema: string,
  name: string,
  lockTimeoutMs: number,
): Promise<void> {
  // SET LOCAL, not set_config(): a SELECT would take the snapshot before the lock is held.
  await tx.unsafe(`set local lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
  await tx`lock table ${tx(schema)}.${tx(name)} in access share mode`;
}

/**
 * Locks a chunk for its verified drop: nothing reads, writes, compresses or decompresses it until
 * the drop transaction ends, so the recount sees exactly what is dropped. Gives up after
 * `lockTimeoutMs` instead of queueing behind long readers.
 */
export async function lockChunkForDrop(
  tx: postgres.TransactionSql,
  schema: string,
  name: string,
  lockTimeoutMs: number,
): Promise<void> {
  await tx`select set_config('lock_timeout', ${`${Math.max(1, Math.floor(lockTimeoutMs))}ms`}, true)`;
  await tx`lock table ${tx(schema)}.${tx(name)} in access exclusive mode`;
}

/** The OID a qualified name resolves to now; undefined when no such relation exists. */
export async function relationOid(sql: Db, schema: string, name: string): Promise<string | undefined> {
  const [row] = await sql<{ oid: string | null }[]>`
    select to_regclass(format('%I.%I', ${schema}::text, ${name}::text))::oid::text as oid`;
  return row?.oid ?? undefined;
}
