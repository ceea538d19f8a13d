import { randomInt, randomUUID } from 'node:crypto';
import { encodeManifest, encodeManifestList } from './avro.js';
import { IcebergError } from './errors.js';
import { chunkPartition, type PartitionSettings, partitionSpecs, timeBounds } from './partition.js';
import { METADATA_DIR, type TableRef, tableLocation, uriOf, writeSmall } from './table-io.js';
import type {
  ChunkFile,
  DataFile,
  IcebergSchema,
  LiveEntry,
  ManifestEntry,
  ManifestFile,
  TableMetadata,
} from './types.js';

/** The pieces of one commit: the table's first metadata, a data file's entry, the snapshot's files. */

/** Metadata versions kept behind the current one (Iceberg's write.metadata.previous-versions-max). */
export const PREVIOUS_VERSIONS_MAX = 100;
/** Snapshot ids stay below 2^53: metadata is JSON, and JavaScript readers parse it as doubles. */
export const newSnapshotId = () => randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);

export function initialMetadata(
  table: TableRef,
  file: ChunkFile,
  partition: PartitionSettings,
): TableMetadata {
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
    properties: {
      'write.format.default': 'parquet',
      'created-by': 'chunk-archiver',
      'write.metadata.delete-after-commit.enabled': 'true',
      'write.metadata.previous-versions-max': String(PREVIOUS_VERSIONS_MAX),
    },
    'current-snapshot-id': -1,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    refs: {},
  };
}

export function dataFileOf(table: TableRef, file: ChunkFile, metadata: TableMetadata, schema: IcebergSchema) {
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
export async function writeSnapshotFiles(
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

export function summaryOf(file: ChunkFile, added: LiveEntry, replaced: LiveEntry[], live: LiveEntry[]) {
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
