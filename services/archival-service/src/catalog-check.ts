import type { ArchivalRequestData } from '@chunk-archiver/events';
import {
  type ChunkRange,
  type DimensionSlice,
  findHypertableChunk,
  findPartition,
  hasTimescaleDb,
  notPlainReason,
  plainTableFacts,
} from '@chunk-archiver/pg';
import type postgres from 'postgres';
import { ArchiveError } from './errors.js';

const SYSTEM_SCHEMAS = /^(pg_catalog|information_schema|pg_toast|archiver)$|^pg_temp|^pg_toast_temp/;

export interface CheckOptions {
  /** `schema.table` names this worker may archive; empty or undefined: any table of the right kind. */
  allowedTables?: string[] | undefined;
}

function sameRange(request: ArchivalRequestData, found: ChunkRange): boolean {
  if (request.dimension_type === 'integer') {
    return found.startInteger === request.chunk_start_time && found.endInteger === request.chunk_end_time;
  }
  return (
    found.startTime?.getTime() === Date.parse(request.chunk_start_time) &&
    found.endTime?.getTime() === Date.parse(request.chunk_end_time)
  );
}

function sameSlices(request: ArchivalRequestData, found: DimensionSlice[]): boolean {
  if (request.dimension_slices === undefined) return true;
  const canonical = (slices: DimensionSlice[]) =>
    JSON.stringify(slices.map((x) => [x.column, x.start, x.end]));
  return canonical(request.dimension_slices) === canonical(found);
}

/** A request names the OID it was discovered with; a chunk under that name with another is not it. */
function checkOid(request: ArchivalRequestData, oid: string): void {
  if (request.chunk_oid !== undefined && request.chunk_oid !== oid) {
    throw new ArchiveError(
      'CHUNK_REPLACED',
      `${request.chunk_schema}.${request.chunk_name} was dropped and re-created (OID ${oid}, requested ${request.chunk_oid}); the requested chunk no longer exists`,
    );
  }
}

/**
 * Before a single row is read: the request must name a chunk that exists now, under the named
 * hypertable or range-partitioned parent, with the requested range. A forged request (a system
 * catalog, a table that is not configured), a stale one (the chunk was dropped) or a mismatched
 * one is refused with a stable code.
 */
export async function checkChunk(
  sql: postgres.Sql,
  request: ArchivalRequestData,
  options: CheckOptions = {},
): Promise<void> {
  const table = `${request.table_schema}.${request.table_name}`;
  const chunk = `${request.chunk_schema}.${request.chunk_name}`;
  if (SYSTEM_SCHEMAS.test(request.table_schema) || SYSTEM_SCHEMAS.test(request.chunk_schema)) {
    throw new ArchiveError('SYSTEM_SCHEMA', `refusing to archive from a system schema: ${chunk} of ${table}`);
  }
  if (options.allowedTables?.length && !options.allowedTables.includes(table)) {
    throw new ArchiveError(
      'TABLE_NOT_ALLOWED',
      `table ${table} is not configured for database ${request.database}`,
    );
  }
  if (request.source_kind === 'table') return checkWindowTable(sql, request);
  if (request.source_kind === 'timescaledb') {
    if (!(await hasTimescaleDb(sql))) {
      throw new ArchiveError(
        'TIMESCALEDB_MISSING',
        `database ${request.database} has no timescaledb extension`,
      );
    }
    const found = await findHypertableChunk(sql, {
      tableSchema: request.table_schema,
      tableName: request.table_name,
      chunkSchema: request.chunk_schema,
      chunkName: request.chunk_name,
    });
    if (!found) throw new ArchiveError('CHUNK_NOT_FOUND', `no chunk ${chunk} of hypertable ${table}`);
    checkOid(request, found.oid);
    if (!sameRange(request, found) || !sameSlices(request, found.slices)) {
      throw new ArchiveError('RANGE_MISMATCH', `chunk ${chunk} does not cover the requested range`);
    }
    return;
  }
  const found = await findPartition(sql, {
    tableSchema: request.table_schema,
    tableName: request.table_name,
    chunkSchema: request.chunk_schema,
    chunkName: request.chunk_name,
  });
  if (!found)
    throw new ArchiveError('CHUNK_NOT_FOUND', `no partition ${chunk} of range-partitioned table ${table}`);
  checkOid(request, found.oid);
  if (found.isDefault || !sameRange(request, found)) {
    throw new ArchiveError('RANGE_MISMATCH', `partition ${chunk} does not cover the requested range`);
  }
}

/**
 * A window names its table twice (as table and as chunk, which the event schema holds equal): the
 * table must exist now as an ordinary table with that OID and a time column of a window type.
 */
async function checkWindowTable(sql: postgres.Sql, request: ArchivalRequestData): Promise<void> {
  const table = `${request.table_schema}.${request.table_name}`;
  const facts = await plainTableFacts(sql, request.table_schema, request.table_name, request.time_column);
  if (!facts) throw new ArchiveError('CHUNK_NOT_FOUND', `no table ${table}`);
  checkOid(request, facts.oid);
  const reason = notPlainReason(facts, table, request.time_column);
  if (reason) throw new ArchiveError('NOT_A_PLAIN_TABLE', reason);
}
