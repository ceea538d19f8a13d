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
  type HypertableChunk,
  hasTimescaleDb,
  type Partition,
  partitionsOf,
} from './sql/catalog.js';
export { type ContentChecksum, chunkContentChecksum, createChecksumAccumulator } from './sql/checksum.js';
export { type ColumnInfo, listColumns } from './sql/columns.js';
