import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

export type RestoreState = 'restored' | 'failed' | 'released';

/** One archived object restored (or not) into one table: a row of archiver.restores. */
export interface RestoreRecord {
  state: RestoreState;
  source_schema: string;
  source_table: string;
  target_schema: string;
  target_table: string;
  object_key: string;
  manifest_key: string;
  chunk_schema: string;
  chunk_name: string;
  time_column: string;
  dimension_type: 'timestamp' | 'integer';
  range_start: string;
  range_end: string;
  columns: string[];
  archived_rows: number;
  restored_rows: number;
  skipped_rows: number;
  content_checksum: string;
  /** Rows restored into the managed table itself: retention leaves the range alone until released. */
  held: boolean;
  created_partition: boolean;
  error_code: string | null;
  error: string | null;
  requested_by: string | null;
  started_at: Date;
}

export interface StoredRestore extends RestoreRecord {
  id: string;
  finished_at: Date;
  released_at: Date | null;
}

const COLUMNS = [
  'state',
  'source_schema',
  'source_table',
  'target_schema',
  'target_table',
  'object_key',
  'manifest_key',
  'chunk_schema',
  'chunk_name',
  'time_column',
  'dimension_type',
  'range_start',
  'range_end',
  'columns',
  'archived_rows',
  'restored_rows',
  'skipped_rows',
  'content_checksum',
  'held',
  'created_partition',
  'error_code',
  'error',
  'requested_by',
  'started_at',
] as const;

export async function insertRestore(sql: Db, record: RestoreRecord): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into archiver.restores ${sql(record, ...COLUMNS)} returning id::text as id`;
  return row!.id;
}

/** Ranges of a managed table that hold restored rows: retention must not archive them again. */
export async function activeHolds(
  sql: Db,
  schema: string,
  table: string,
): Promise<Array<Pick<StoredRestore, 'id' | 'dimension_type' | 'range_start' | 'range_end'>>> {
  // A dry run scans before any ledger exists: then nothing can be held.
  const [ledger] = await sql<
    { present: boolean }[]
  >`select to_regclass('archiver.restores') is not null as present`;
  if (!ledger?.present) return [];
  return sql`
    select id::text as id, dimension_type, range_start, range_end from archiver.restores
    where source_schema = ${schema} and source_table = ${table} and held and state = 'restored'`;
}

export async function lockRestore(sql: Db, id: string): Promise<StoredRestore | undefined> {
  const [row] = await sql<StoredRestore[]>`
    select *, id::text as id from archiver.restores where id = ${id}::bigint for update`;
  return row;
}

/** Releases the restore and every other held restore of the same range into the same table. */
export async function markReleased(sql: Db, restore: StoredRestore): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    update archiver.restores set state = 'released', held = false, released_at = now()
    where state = 'restored' and held and target_schema = ${restore.target_schema}
      and target_table = ${restore.target_table} and range_start = ${restore.range_start}
      and range_end = ${restore.range_end}
    returning id::text as id`;
  return rows.map((r) => r.id);
}

export async function recentRestores(sql: Db, limit: number): Promise<StoredRestore[]> {
  return sql<StoredRestore[]>`
    select *, id::text as id from archiver.restores order by id desc limit ${limit}`;
}
