import type { ChunkIdentity } from '@chunk-archiver/events';

/** Characters that are safe in every backend's keys and in Hive-style paths. */
function safe(part: string): string {
  return part.replace(
    /[^A-Za-z0-9_.=-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`,
  );
}

/** `20240101T000000.000000Z` from an ISO timestamp; integers are kept as they are. */
function compactBound(bound: string, integer: boolean): string {
  if (integer) return bound;
  const iso = new Date(bound).toISOString(); // 2024-01-01T00:00:00.000Z
  return iso.replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '.$1Z');
}

/** `<prefix>/<database>/<schema>.<table>/`: every archived chunk of one table is under it. */
export function tableArchivePrefix(prefix: string, database: string, schema: string, table: string): string {
  return `${[...prefix.split('/').filter(Boolean).map(safe), safe(database), `${safe(schema)}.${safe(table)}`].join('/')}/`;
}

export const MANIFEST_SUFFIX = '.manifest.json';

export interface ArchiveKeys {
  dataKey: string;
  manifestKey: string;
  /** The key without its attempt: every Iceberg data file of the chunk starts with it + `.`. */
  stem: string;
}

/** Parquet: one object per chunk, overwritten by a retry. Iceberg: a data file per attempt. */
export type ArchiveLayout = { format: 'parquet' } | { format: 'iceberg'; attempt: string };

/**
 * The deterministic location of a chunk's archive (an Iceberg data file: the same under
 * `<table>/data/`, with the attempt's request id before `.parquet`):
 * `<prefix>/<database>/<schema>.<table>/year=YYYY/month=MM/day=DD/<chunk>_oid<oid>_<start>_<end>.parquet`
 * (integer dimensions: `range_start=<n>/` in place of the date folders). The same chunk always
 * maps to the same key, so a retried archive overwrites instead of duplicating.
 */
export function archiveKeys(
  prefix: string,
  chunk: ChunkIdentity,
  layout: ArchiveLayout = { format: 'parquet' },
): ArchiveKeys {
  const integer = chunk.dimension_type === 'integer';
  const start = compactBound(chunk.chunk_start_time, integer);
  const end = compactBound(chunk.chunk_end_time, integer);
  let partition: string;
  if (integer) {
    partition = `range_start=${safe(chunk.chunk_start_time)}`;
  } else {
    const d = new Date(chunk.chunk_start_time);
    const pad = (n: number) => String(n).padStart(2, '0');
    partition = `year=${d.getUTCFullYear()}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(d.getUTCDate())}`;
  }
  // The OID keeps a re-created table's archive from overwriting its namesake's.
  const name = chunk.chunk_oid ? `${chunk.chunk_name}_oid${chunk.chunk_oid}` : chunk.chunk_name;
  const table = tableArchivePrefix(prefix, chunk.database, chunk.table_schema, chunk.table_name);
  if (layout.format === 'iceberg') {
    // A snapshot may still reference an earlier attempt's file: a new attempt never rewrites it.
    const stem = `${table}data/${partition}/${safe(name)}_${safe(start)}_${safe(end)}`;
    const dataKey = `${stem}.${safe(layout.attempt)}.parquet`;
    return { dataKey, manifestKey: `${dataKey}${MANIFEST_SUFFIX}`, stem };
  }
  const stem = `${table}${partition}/${safe(name)}_${safe(start)}_${safe(end)}`;
  const dataKey = `${stem}.parquet`;
  return { dataKey, manifestKey: `${dataKey}${MANIFEST_SUFFIX}`, stem };
}
