export {
  connectDatabase,
  type DatabaseConnectionConfig,
  databaseConnectionSchema,
  poolSchema,
  resolveUrl,
} from './connection.js';
export { PINNED_SETTINGS, pinSession } from './session.js';
export {
  type ChunkRange,
  findHypertableChunk,
  findPartition,
  hasTimescaleDb,
  type HypertableChunk,
  type Partition,
  partitionsOf,
} from './sql/catalog.js';
export { chunkContentChecksum, type ContentChecksum, createChecksumAccumulator } from './sql/checksum.js';
export { type ColumnInfo, listColumns } from './sql/columns.js';
