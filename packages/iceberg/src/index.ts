export { decodeFile, encodeManifest, encodeManifestList } from './avro.js';
export {
  type ChunkFile,
  type CommitResult,
  commitChunkFile,
  committedProblem,
  PREVIOUS_VERSIONS_MAX,
} from './commit.js';
export { ICEBERG_CODES, type IcebergCode, IcebergError } from './errors.js';
export { type ExpireResult, expireSnapshots } from './expire.js';
export {
  chunkPartition,
  type PartitionSettings,
  partitionSpecs,
  type TimeTransform,
} from './partition.js';
export { currentSchema, evolveSchema, fieldsFor, icebergType, type SourceColumn } from './schema.js';
export { currentSnapshot, liveEntries, snapshotFiles } from './snapshot.js';
export {
  type CurrentMetadata,
  DATA_DIR,
  keyOf,
  METADATA_DIR,
  openTable,
  readCurrent,
  type TableRef,
  tableLocation,
  uriOf,
} from './table-io.js';
export type {
  DataFile,
  IcebergField,
  IcebergSchema,
  ManifestEntry,
  ManifestFile,
  TableMetadata,
} from './types.js';
