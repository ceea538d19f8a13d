import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchivalRequestData } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';

/** Copies an archived object to a temp file so DuckDB can read it, whatever the backend. */
export async function downloadToTemp(
  store: BlobStore,
  key: string,
): Promise<{ path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'parquet-'));
  const path = join(dir, 'object.parquet');
  await writeFile(path, await store.read(key));
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function partitionRequest(
  database: string,
  schema: string,
  table: string,
  partition: string,
  start: string,
  end: string,
  timeColumn = 'ts',
): ArchivalRequestData {
  return {
    database,
    source_kind: 'partition',
    table_schema: schema,
    table_name: table,
    chunk_schema: schema,
    chunk_name: partition,
    time_column: timeColumn,
    dimension_type: 'timestamp',
    chunk_start_time: start,
    chunk_end_time: end,
    attempt: 1,
    requested_at: new Date().toISOString(),
  };
}

export const newEventId = () => randomUUID();
