import { randomInt, randomUUID } from 'node:crypto';
import { failpoint, sleep } from '@chunk-archiver/common';
import type { ChunkIdentity } from '@chunk-archiver/events';
import { encodeManifest, encodeManifestList } from './avro.js';
import { IcebergError } from './errors.js';
import { chunkPartition, type PartitionSettings, partitionSpecs, timeBounds } from './partition.js';
import { evolveSchema } from './schema.js';
import { currentSnapshot, snapshotFiles } from './snapshot.js';
import {
  type CurrentMetadata,
  createVersion,
  METADATA_DIR,
  readCurrent,
  type TableRef,
  tableLocation,
  uriOf,
  writeHint,
  writeSmall,
} from './table-io.js';
import type {
  DataFile,
  IcebergField,
  IcebergSchema,
  ManifestEntry,
  ManifestFile,
  TableMetadata,
} from './types.js';

/** One chunk's verified data file, as the manager's ledger and the stored manifest record it. */
export interface ChunkFile {
  chunk: ChunkIdentity;
  key: string;
  /** The key without its attempt: every file ever written for this chunk starts with it. */
  stem: string;
  rows: number;
  bytes: number;
  sha256: string;
  contentChecksum: string;
  fields: IcebergField[];
}

export interface CommitResult {
  outcome: 'committed' | 'already-committed';
  version: number;
  snapshotId: number;
  /** Files of earlier attempts at the chunk that this commit took out of the table. */
  replaced: string[];
  attempts: number;
}

type LiveEntry = ManifestEntry & { specId: number };

/** Snapshot ids stay below 2^53: metadata is JSON, and JavaScript readers parse it as doubles. */
const newSnapshotId = () => randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);

function initialMetadata(table: TableRef, file: ChunkFile, partition: PartitionSettings): TableMetadata {
  const schema: IcebergSchema = { type: 'struct', 'schema-id': 0, fields: file.fields };
  const time = file.fields.find((f) => f.name === file.chunk.time_column);
  if (!time)
    throw new IcebergError(
      'ICEBERG_SCHEMA_CONFLICT',
      `the time column ${file.chunk.time_column} is not among the file's columns`,
    );
  const specs = partitionSpecs(time, partition);
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: tableLocation(table),
    'last-sequence-number': 0,
    'last-updated-ms': Date.now(),
    'last-column-id': Math.max(0, ...file.fields.map((f) => f.id)),
    'current-schema-id': 0,
    schemas: [schema],
    'default-spec-id': 0,
    'partition-specs': specs,
    'last-partition-id': Math.max(999, ...specs.flatMap((s) => s.fields.map((f) => f['field-id']))),
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: { 'write.format.default': 'parquet', 'created-by': 'chunk-archiver' },
    'current-snapshot-id': -1,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    refs: {},
  };
}

function dataFileOf(table: TableRef, file: ChunkFile, metadata: TableMetadata, schema: IcebergSchema) {
  const { specId, values } = chunkPartition(metadata['partition-specs'], file.chunk);
  const time = schema.fields.find((f) => f.name === file.chunk.time_column);
  const bounds = time ? timeBounds(time, file.chunk) : undefined;
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === specId)!;
  const partition: DataFile['partition'] = {};
  for (const field of spec.fields) {
    const value = values[field.name];
    partition[field.name] =
      value === undefined
        ? null
        : field.transform.startsWith('truncate') && time?.type === 'long'
          ? value
          : Number(value);
  }
  const dataFile: DataFile = {
    content: 0,
    file_path: uriOf(table, file.key),
    file_format: 'PARQUET',
    partition,
    record_count: BigInt(file.rows),
    file_size_in_bytes: BigInt(file.bytes),
    lower_bounds: bounds && time ? [{ key: time.id, value: bounds.lower }] : null,
    upper_bounds: bounds && time ? [{ key: time.id, value: bounds.upper }] : null,
  };
  return { specId, dataFile };
}

/** The least data sequence number of the live entries (bigints: Math.min does not take them). */
function minSequence(live: ManifestEntry[], sequence: bigint): bigint {
  let least = sequence;
  for (const e of live)
    if (e.sequence_number !== null && e.sequence_number < least) least = e.sequence_number;
  return least;
}

/** The manifest-list record of one manifest, its counts from its entries. */
function manifestRecord(
  path: string,
  length: number,
  specId: number,
  entries: ManifestEntry[],
  snapshotId: bigint,
  sequence: bigint,
): ManifestFile {
  const count = (status: number) => entries.filter((e) => e.status === status);
  const rows = (list: ManifestEntry[]) => list.reduce((n, e) => n + e.data_file.record_count, 0n);
  const live = entries.filter((e) => e.status !== 2);
  const values = live
    .map((e) => Object.values(e.data_file.partition)[0])
    .filter((v) => v !== undefined && v !== null);
  const partitions = Object.keys(entries[0]?.data_file.partition ?? {}).length
    ? [
        {
          contains_null: values.length < live.length,
          contains_nan: false,
          lower_bound: null,
          upper_bound: null,
        },
      ]
    : [];
  return {
    manifest_path: path,
    manifest_length: BigInt(length),
    partition_spec_id: specId,
    content: 0,
    sequence_number: sequence,
    min_sequence_number: minSequence(live, sequence),
    added_snapshot_id: snapshotId,
    added_files_count: count(1).length,
    existing_files_count: count(0).length,
    deleted_files_count: count(2).length,
    added_rows_count: rows(count(1)),
    existing_rows_count: rows(count(0)),
    deleted_rows_count: rows(count(2)),
    partitions,
  };
}

/** Writes the snapshot's manifests (one per partition spec) and its manifest list; returns their keys. */
async function writeSnapshotFiles(
  table: TableRef,
  metadata: TableMetadata,
  schema: IcebergSchema,
  entries: LiveEntry[],
  snapshot: { id: bigint; parentId: bigint | undefined; sequence: bigint },
): Promise<{ manifestList: string; written: string[] }> {
  const written: string[] = [];
  const records: ManifestFile[] = [];
  for (const spec of metadata['partition-specs']) {
    const own = entries.filter((e) => e.specId === spec['spec-id']).map(({ specId: _s, ...e }) => e);
    if (own.length === 0) continue;
    const key = `${table.key}${METADATA_DIR}${randomUUID()}-m${spec['spec-id']}.avro`;
    const body = await encodeManifest(own, spec, schema);
    await writeSmall(table, key, body);
    written.push(key);
    records.push(
      manifestRecord(uriOf(table, key), body.length, spec['spec-id'], own, snapshot.id, snapshot.sequence),
    );
  }
  const listKey = `${table.key}${METADATA_DIR}snap-${snapshot.id}-1-${randomUUID()}.avro`;
  await writeSmall(
    table,
    listKey,
    await encodeManifestList(records, { ...snapshot, sequenceNumber: snapshot.sequence }),
  );
  written.push(listKey);
  return { manifestList: uriOf(table, listKey), written };
}

function summaryOf(file: ChunkFile, added: LiveEntry, replaced: LiveEntry[], live: LiveEntry[]) {
  const sum = (list: LiveEntry[], f: (e: LiveEntry) => bigint) => String(list.reduce((n, e) => n + f(e), 0n));
  const rows = (e: LiveEntry) => e.data_file.record_count;
  const size = (e: LiveEntry) => e.data_file.file_size_in_bytes;
  const chunk = file.chunk;
  return {
    operation: replaced.length ? ('overwrite' as const) : ('append' as const),
    'added-data-files': '1',
    'added-records': sum([added], rows),
    'added-files-size': sum([added], size),
    'deleted-data-files': String(replaced.length),
    'deleted-records': sum(replaced, rows),
    'removed-files-size': sum(replaced, size),
    'total-data-files': String(live.length),
    'total-records': sum(live, rows),
    'total-files-size': sum(live, size),
    'total-delete-files': '0',
    'total-position-deletes': '0',
    'total-equality-deletes': '0',
    'chunk-archiver.chunk': `${chunk.chunk_schema}.${chunk.chunk_name}${chunk.chunk_oid ? ` (oid ${chunk.chunk_oid})` : ''} [${chunk.chunk_start_time}, ${chunk.chunk_end_time})`,
    'chunk-archiver.data-file': file.key,
    'chunk-archiver.row-count': String(file.rows),
    'chunk-archiver.content-checksum': file.contentChecksum,
    'chunk-archiver.sha256': file.sha256,
  };
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
  const schemas = evolved.added.length ? [...base.schemas, evolved.schema] : base.schemas;
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
            'metadata-file': uriOf(table, `${table.key}${METADATA_DIR}v${current.version}.metadata.json`),
            'timestamp-ms': base['last-updated-ms'],
          },
        ]
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
      };
    const prepared = await prepare(table, current, file, live, settings.partition);
    const version = (current?.version ?? 0) + 1;
    await failpoint('iceberg.mid-commit', { table: table.key, version: String(version) });
    if (await createVersion(table, version, prepared.next)) {
      await writeHint(table, version).catch(() => undefined);
      return {
        outcome: 'committed',
        version,
        snapshotId: prepared.snapshotId,
        replaced: prepared.replaced,
        attempts: attempt,
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
