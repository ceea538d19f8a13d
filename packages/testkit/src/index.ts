export {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type AzuriteHandle,
  azuriteConnectionString,
  startAzurite,
} from './azurite.js';
export { duckdbLiteral, duckdbQuery } from './duckdb.js';
export { testDatabaseUrl, testRedisUrl, uniqueName } from './env.js';
export { type FakeKind, type FakePostgres, startFakePostgres } from './fake-postgres.js';
export { freePort } from './free-port.js';
export { pgDatabase, pgSchema, type Sql } from './postgres.js';
export { redisNamespace } from './redis.js';
export {
  type RedisSentinelHandle,
  type RedisServerHandle,
  startRedisSentinel,
  startRedisServer,
} from './redis-server.js';
export { type S3rverHandle, startS3rver } from './s3rver.js';
export { type DirectoryServer, serveDirectory } from './serve-directory.js';
export { startTimescale, type TimescaleHandle, TimescaleMissingError } from './timescale.js';
