export {
  connectDatabase,
  type DatabaseConnectionConfig,
  databaseConnectionSchema,
  missingEnvironment,
  poolSchema,
  requireEnvironment,
  resolveUrl,
} from './connection.js';
export { PINNED_SETTINGS, pinSession, TIMESCALEDB_READ_SETTINGS } from './session.js';
export {
  type ChunkRange,
  type DimensionSlice,
  findHypertableChunk,
  findPartition,
  type HypertableChunk,
  hasTimescaleDb,
  hypertableChunks,
  type Partition,
  partitionsOf,
} from './sql/catalog.js';
export {
  type ContentChecksum,
  checksumSelect,
  chunkContentChecksum,
  chunkRows,
  createChecksumAccumulator,
  rowHash,
  toContentChecksum,
} from './sql/checksum.js';
export { type ColumnInfo, listColumns } from './sql/columns.js';
export {
  missingKeyReason,
  notPlainReason,
  type PlainTableFacts,
  plainTableFacts,
  primaryKeyColumns,
  windowDimension,
} from './sql/plain-table.js';
export {
  type ChunkStorage,
  chunkStorage,
  lockChunkForDrop,
  lockChunkForRead,
  relationOid,
  type StorageForm,
  storedRows,
} from './sql/storage.js';
export { beforeEnd, bindRangeSettings, type RowRange, rangePredicate } from './sql/window.js';
