import { failpoint, sleep } from '@chunk-archiver/common';
import { IcebergError } from './errors.js';
import type { PartitionSettings } from './partition.js';
import { evolveSchema } from './schema.js';
import { currentSnapshot, snapshotFiles } from './snapshot.js';
import {
  dataFileOf,
  initialMetadata,
  newSnapshotId,
  PREVIOUS_VERSIONS_MAX,
  summaryOf,
  writeSnapshotFiles,
} from './snapshot-files.js';
import {
  type CurrentMetadata,
  createVersion,
  metadataKey,
  readCurrent,
  type TableRef,
  uriOf,
  writeHint,
} from './table-io.js';
import type { ChunkFile, LiveEntry, TableMetadata } from './types.js';

export { PREVIOUS_VERSIONS_MAX } from './snapshot-files.js';
export type { ChunkFile } from './types.js';

export interface CommitResult {
  outcome: 'committed' | 'already-committed';
  version: number;
  snapshotId: number;
  /** Files of earlier attempts at the chunk that this commit took out of the table. */
  replaced: string[];
  attempts: number;
  /** Snapshots the table holds after this commit. */
  snapshots: number;
}

/** A file of this chunk: the same stem, any attempt. */
const ofChunk = (table: TableRef, file: ChunkFile) => (e: LiveEntry) =>
  e.data_file.file_path.startsWith(`${uriOf(table, file.stem)}.`);

interface Prepared {
  next: TableMetadata;
  written: string[];
  replaced: string[];
  snapshotId: number;
}

/** The next metadata version with the chunk's file committed, its snapshot files written. */
async function prepare(
  table: TableRef,
  current: CurrentMetadata | undefined,
  file: ChunkFile,
  previous: LiveEntry[],
  partition: PartitionSettings,
): Promise<Prepared> {
  const base = current?.metadata ?? initialMetadata(table, file, partition);
  const evolved = evolveSchema(base, file.fields);
  const sequence = BigInt(base['last-sequence-number'] + 1);
  const snapshotId = newSnapshotId();
  const id = BigInt(snapshotId);
  const { specId, dataFile } = dataFileOf(table, file, base, evolved.schema);
  const mine = previous.filter(ofChunk(table, file));
  const carried = previous.filter((e) => !mine.includes(e)).map((e) => ({ ...e, status: 0 as const }));
  const deleted = mine.map((e) => ({ ...e, status: 2 as const, snapshot_id: id }));
  const added: LiveEntry = {
    status: 1,
    snapshot_id: id,
    sequence_number: sequence,
    file_sequence_number: sequence,
    data_file: dataFile,
    specId,
  };
  const parent = base['current-snapshot-id'] >= 0 ? base['current-snapshot-id'] : undefined;
  const files = await writeSnapshotFiles(table, base, evolved.schema, [...carried, added, ...deleted], {
    id,
    parentId: parent === undefined ? undefined : BigInt(parent),
    sequence,
  });
  const now = Date.now();
  const isNew = !base.schemas.some((sc) => sc['schema-id'] === evolved.schema['schema-id']);
  const schemas = isNew ? [...base.schemas, evolved.schema] : base.schemas;
  const next: TableMetadata = {
    ...base,
    'last-sequence-number': Number(sequence),
    'last-updated-ms': now,
    'last-column-id': evolved.lastColumnId,
    'current-schema-id': evolved.schema['schema-id'],
    schemas,
    'current-snapshot-id': snapshotId,
    snapshots: [
      ...base.snapshots,
      {
        'snapshot-id': snapshotId,
        ...(parent === undefined ? {} : { 'parent-snapshot-id': parent }),
        'sequence-number': Number(sequence),
        'timestamp-ms': now,
        'manifest-list': files.manifestList,
        'schema-id': evolved.schema['schema-id'],
        summary: summaryOf(file, added, mine, [...carried, added]),
      },
    ],
    'snapshot-log': [...base['snapshot-log'], { 'snapshot-id': snapshotId, 'timestamp-ms': now }],
    'metadata-log': current
      ? [
          ...base['metadata-log'],
          {
            'metadata-file': uriOf(table, metadataKey(table, current.version)),
            'timestamp-ms': base['last-updated-ms'],
          },
        ].slice(-PREVIOUS_VERSIONS_MAX)
      : [],
    refs: { main: { 'snapshot-id': snapshotId, type: 'branch' } },
  };
  return { next, written: files.written, replaced: mine.map((e) => e.data_file.file_path), snapshotId };
}

/** The live entries of the current snapshot, with the spec each manifest was written for. */
async function liveOf(table: TableRef, current: CurrentMetadata | undefined): Promise<LiveEntry[]> {
  const snapshot = current && currentSnapshot(current.metadata);
  if (!snapshot) return [];
  return (await snapshotFiles(table, snapshot)).entries.filter((e) => e.status !== 2);
}

/**
 * Commits one chunk's data file to its table: an append, or an overwrite replacing the files of
 * the chunk's earlier attempts. Optimistic: the next metadata version is created only if no other
 * writer created it first; on a conflict the commit starts again from the newer metadata, so no
 * snapshot is lost. A file the current snapshot already lists is not committed twice.
 */
export async function commitChunkFile(
  table: TableRef,
  file: ChunkFile,
  settings: { partition: PartitionSettings; maxAttempts?: number },
): Promise<CommitResult> {
  const maxAttempts = settings.maxAttempts ?? 20;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const current = await readCurrent(table);
    const live = await liveOf(table, current);
    if (current && live.some((e) => e.data_file.file_path === uriOf(table, file.key)))
      return {
        outcome: 'already-committed',
        version: current.version,
        snapshotId: current.metadata['current-snapshot-id'],
        replaced: [],
        attempts: attempt,
        snapshots: current.metadata.snapshots.length,
      };
    const prepared = await prepare(table, current, file, live, settings.partition);
    const version = (current?.version ?? 0) + 1;
    await failpoint('iceberg.mid-commit', { table: table.key, version: String(version) });
    if (await createVersion(table, version, prepared.next)) {
      await writeHint(table, version).catch(() => undefined);
      // The version that just left the metadata log; best effort, like the hint.
      if (version > PREVIOUS_VERSIONS_MAX + 1)
        await table.store
          .remove(metadataKey(table, version - PREVIOUS_VERSIONS_MAX - 1))
          .catch(() => undefined);
      return {
        outcome: 'committed',
        version,
        snapshotId: prepared.snapshotId,
        replaced: prepared.replaced,
        attempts: attempt,
        snapshots: prepared.next.snapshots.length,
      };
    }
    // Another writer took this version: its snapshot stays, ours is rebuilt on top of it.
    await Promise.all(prepared.written.map((key) => table.store.remove(key).catch(() => undefined)));
    await sleep(Math.min(1000, 20 * 2 ** attempt) * Math.random());
  }
  throw new IcebergError(
    'ICEBERG_COMMIT_CONFLICT',
    `${file.key}: ${maxAttempts} commits lost to other writers in a row`,
    { retryable: true },
  );
}

/**
 * Reads the table back and checks its current snapshot lists the file with the expected record
 * count and size: what the drop waits for.
 */
export async function committedProblem(
  table: TableRef,
  file: { key: string; rows: number; bytes: number },
): Promise<string | undefined> {
  const current = await readCurrent(table);
  if (!current) return `no Iceberg table metadata under ${table.key}`;
  const live = await liveOf(table, current);
  const entry = live.find((e) => e.data_file.file_path === uriOf(table, file.key));
  if (!entry) return `the current snapshot (v${current.version}) does not list ${file.key}`;
  if (
    entry.data_file.record_count !== BigInt(file.rows) ||
    entry.data_file.file_size_in_bytes !== BigInt(file.bytes)
  )
    return `the current snapshot lists ${file.key} with ${entry.data_file.record_count} rows and ${entry.data_file.file_size_in_bytes} bytes, expected ${file.rows} and ${file.bytes}`;
  return undefined;
}
