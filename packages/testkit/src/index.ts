export { testDatabaseUrl, testRedisUrl, uniqueName } from './env.js';
export { freePort } from './free-port.js';
export { pgDatabase, pgSchema, type Sql } from './postgres.js';
export { redisNamespace } from './redis.js';
export { type RedisServerHandle, startRedisServer } from './redis-server.js';
export { embeddedTimescaleOptions, startTimescale, type TimescaleHandle } from './timescale.js';
