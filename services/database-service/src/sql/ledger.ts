import type { ChunkIdentity } from '@chunk-archiver/events';
import type postgres from 'postgres';
import { ledgerColumns } from '../ledger/identity.js';
import type { ChunkState, LedgerChunk } from '../ledger/types.js';

type Db = postgres.Sql | postgres.TransactionSql;

/**
 * Oldest range first. Bounds are stored as text: ISO timestamps sort as text, integer bounds must
 * sort as numbers ('10000' is not before '2000').
 */
const byRange = (sql: Db) =>
  sql`(case when dimension_type = 'integer' then range_start::numeric end) nulls last, range_start`;

/**
 * Ledger reads, and the two writes that are not transitions (new chunks, a deferred drop's
 * reason). Every state change is in transitions.ts.
 */

/**
 * Records newly expired chunks as pending; already known chunks are left as they are. A chunk is
 * known by name and OID, so a table re-created under an archived one's name is a new row.
 */
export async function insertDiscovered(
  sql: Db,
  chunks: Array<ChunkIdentity & { expected_rows?: number | undefined }>,
): Promise<number> {
  if (chunks.length === 0) return 0;
  const rows = chunks.map((c) => {
    const columns = ledgerColumns(c);
    return {
      ...columns,
      dimension_slices: sql.json(columns.dimension_slices as never),
      expected_rows: c.expected_rows ?? null,
    };
  });
  const inserted = await sql`
    insert into archiver.chunks ${sql(rows, 'source_kind', 'table_schema', 'table_name', 'chunk_schema', 'chunk_name', 'chunk_oid', 'dimension_slices', 'time_column', 'dimension_type', 'range_start', 'range_end', 'expected_rows')}
    on conflict (chunk_schema, chunk_name, coalesce(chunk_oid, 0), range_start, range_end) do nothing
    returning id`;
  return inserted.length;
}

/** Every ledger row of one table, for a dry run to compare what a scan would find against. */
export async function tableLedger(sql: Db, table: { schema: string; name: string }): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks where table_schema = ${table.schema} and table_name = ${table.name}
    order by ${byRange(sql)}, chunk_name`;
}

/** Chunks due for a request: pending, or failed with their back-off elapsed; oldest range first. */
export async function dueChunks(
  sql: Db,
  table: { schema: string; name: string },
  limit: number,
): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks
    where table_schema = ${table.schema} and table_name = ${table.name}
      and (state = 'pending' or (state = 'failed' and next_attempt_at <= now()))
    order by ${byRange(sql)}
    limit ${limit}`;
}

/** Chunks waiting for a confirmation, oldest request first. */
export async function requestedChunks(sql: Db): Promise<LedgerChunk[]> {
  return sql<
    LedgerChunk[]
  >`select * from archiver.chunks where state = 'requested' order by requested_at, id`;
}

/** One chunk by its ledger id, whatever its state. */
export async function chunkById(sql: Db, id: string): Promise<LedgerChunk | undefined> {
  const [row] = await sql<LedgerChunk[]>`select * from archiver.chunks where id = ${id}`;
  return row;
}

/** A table's chunks in any of `states` (every table when `table` is omitted), oldest first. */
export async function chunksInStates(
  sql: Db,
  states: ChunkState[],
  table?: { schema: string; name: string },
): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks
    where state = any(${states})
      and (${table?.schema ?? null}::text is null or (table_schema = ${table?.schema ?? null} and table_name = ${table?.name ?? null}))
    order by ${byRange(sql)}, id`;
}

/** The ledger row a request was published for: a confirmation is matched by this, never by name. */
export async function findChunkByRequest(sql: Db, requestEventId: string): Promise<LedgerChunk | undefined> {
  const [row] = await sql<LedgerChunk[]>`
    select * from archiver.chunks where request_event_id = ${requestEventId}`;
  return row;
}

/** Locks the ledger row for the drop transaction, so two confirmations cannot both drop. */
export async function lockChunkRow(sql: Db, id: string): Promise<LedgerChunk | undefined> {
  const [row] = await sql<LedgerChunk[]>`select * from archiver.chunks where id = ${id} for update`;
  return row;
}

/** The drop is deferred (the chunk stays archived): says why, for status. */
export async function noteDropWait(sql: Db, id: string, code: string, message: string): Promise<void> {
  await sql`
    update archiver.chunks set last_error_code = ${code}, last_error = ${message}, updated_at = now()
    where id = ${id} and state = 'archived'`;
}

export interface TableStateCounts {
  table_schema: string;
  table_name: string;
  state: ChunkState;
  chunks: number;
  rows: string | null;
  bytes: string | null;
  oldest_range_start: string | null;
}

/** Per table and state: how many chunks, rows and bytes, and the oldest range. */
export async function stateCounts(sql: Db): Promise<TableStateCounts[]> {
  return sql<TableStateCounts[]>`
    select table_schema, table_name, state, count(*)::int as chunks, sum(row_count)::text as rows,
           sum(bytes)::text as bytes,
           (array_agg(range_start order by ${byRange(sql)}))[1] as oldest_range_start
    from archiver.chunks group by table_schema, table_name, state order by table_schema, table_name, state`;
}

export interface TableAges {
  table_schema: string;
  table_name: string;
  /** Seconds since the longest-waiting pending chunk became pending (null: none pending). */
  pending_age_s: number | null;
  /** Seconds since the oldest outstanding request was sent (null: none requested). */
  requested_age_s: number | null;
}

/** How long the oldest pending chunk and the oldest request of each table have waited. */
export async function tableAges(sql: Db): Promise<TableAges[]> {
  return sql<TableAges[]>`
    select table_schema, table_name,
           extract(epoch from now() - min(updated_at) filter (where state = 'pending'))::float8 as pending_age_s,
           extract(epoch from now() - min(requested_at) filter (where state = 'requested'))::float8 as requested_age_s
    from archiver.chunks group by table_schema, table_name`;
}

/** The chunks the next scans will request, soonest first: pending, and failed whose back-off ends. */
export async function nextDue(sql: Db, limit = 10): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks
    where state = 'pending' or (state = 'failed' and next_attempt_at is not null)
    order by coalesce(next_attempt_at, updated_at), ${byRange(sql)}
    limit ${limit}`;
}

/** The chunks that need attention: failed and dead, with their last error. */
export async function troubledChunks(sql: Db, limit = 50): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks where state in ('failed', 'dead') order by updated_at desc limit ${limit}`;
}

/** Archived chunks whose drop was deferred, with why. */
export async function waitingDrops(sql: Db, limit = 50): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from archiver.chunks where state = 'archived' and last_error_code is not null
    order by ${byRange(sql)} limit ${limit}`;
}

/** Chunks whose archive was verified but whose drop did not finish (a crash, a lock timeout, a wait). */
export async function archivedChunkIds(sql: Db): Promise<Array<{ id: string; table: string }>> {
  return sql<{ id: string; table: string }[]>`
    select id, table_schema || '.' || table_name as table from archiver.chunks where state = 'archived' order by id`;
}

/** Whether the ledger exists yet (it is created at the first scan, never in a dry run). */
export async function ledgerExists(sql: Db): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`select to_regclass('archiver.chunks') is not null as ok`;
  return row!.ok;
}

/** Each plain table's latest removed windows, newest first, up to `perTable` each. */
export async function latestWindows(sql: Db, perTable: number): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    select * from (
      select c.*, row_number() over (partition by table_schema, table_name order by dropped_at desc) as n
      from archiver.chunks c where source_kind = 'table' and state = 'dropped'
    ) as w where n <= ${perTable} order by table_schema, table_name, n`;
}
