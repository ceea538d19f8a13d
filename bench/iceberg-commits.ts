// The cost of an Iceberg commit per chunk, as the manager pays it before each drop: commit the
// chunk's data file (read the current metadata and manifests, write a manifest, a manifest list
// and the next metadata version) and read the table back to see it listed. Metadata only: the
// data files are not read by a commit, so none are written here. Snapshots past 110 are expired
// to 100, as the manager does by default, and that expiry's cost is in the figures.
import {
  type ChunkFile,
  commitChunkFile,
  committedProblem,
  expireSnapshots,
  type TableRef,
} from '@chunk-archiver/iceberg';
import type { BlobStore } from '@chunk-archiver/storage';

type ChunkIdentity = ChunkFile['chunk'];

const FIELDS: ChunkFile['fields'] = [
  { id: 1, name: 'id', required: true, type: 'long' },
  { id: 2, name: 'at', required: true, type: 'timestamptz' },
  { id: 3, name: 'actor', required: false, type: 'int' },
  { id: 4, name: 'action', required: false, type: 'string' },
  { id: 5, name: 'payload', required: false, type: 'string' },
];

function dailyChunk(table: string, day: number): ChunkFile {
  const start = new Date(Date.UTC(2020, 0, 1 + day));
  const end = new Date(Date.UTC(2020, 0, 2 + day));
  const chunk: ChunkIdentity = {
    database: 'bench',
    source_kind: 'partition',
    table_schema: 'public',
    table_name: 'audit',
    chunk_schema: 'public',
    chunk_name: `audit_${day}`,
    time_column: 'at',
    dimension_type: 'timestamp',
    chunk_start_time: start.toISOString(),
    chunk_end_time: end.toISOString(),
  };
  const stem = `${table}data/day=${day}/audit_${day}`;
  return {
    chunk,
    stem,
    key: `${stem}.a.parquet`,
    rows: 100_000,
    bytes: 12_000_000,
    sha256: '0'.repeat(64),
    contentChecksum: String(day),
    fields: FIELDS,
  };
}

const KEEP_SNAPSHOTS = 100;

export interface CommitCost {
  backend: string;
  /** Files the table held before the commits measured in this row. */
  from_files: number;
  to_files: number;
  ms_per_chunk: number;
  metadata_kb: number;
}

/** Commits `chunks` daily chunks one after another; the cost per chunk at the start and at the end. */
export async function benchIcebergCommits(store: BlobStore, chunks: number): Promise<CommitCost[]> {
  const table: TableRef = {
    store,
    key: `bench-iceberg/${Date.now()}/public.audit/`,
    locationBase: 'file:///bench',
  };
  const window = Math.max(1, Math.min(20, Math.floor(chunks / 5)));
  const costs: CommitCost[] = [];
  let started = performance.now();
  for (let day = 0; day < chunks; day++) {
    if (day % window === 0) started = performance.now();
    const file = dailyChunk(table.key, day);
    const committed = await commitChunkFile(table, file, {
      partition: { transform: 'day', truncateWidth: 1 },
    });
    // As the manager does with iceberg.keep_snapshots at its default (100).
    if (committed.snapshots > KEEP_SNAPSHOTS + 10) await expireSnapshots(table, KEEP_SNAPSHOTS);
    const problem = await committedProblem(table, file);
    if (problem) throw new Error(problem);
    const done = day + 1;
    if (
      done % window === 0 &&
      (done === window || done === chunks || done === Math.floor(chunks / 2 / window) * window)
    ) {
      let bytes = 0;
      for await (const item of store.list(`${table.key}metadata/`)) bytes += item.bytes;
      costs.push({
        backend: store.backend,
        from_files: done - window,
        to_files: done,
        ms_per_chunk: (performance.now() - started) / window,
        metadata_kb: bytes / 1024,
      });
    }
  }
  for await (const item of store.list(table.key)) await store.remove(item.key);
  return costs;
}
