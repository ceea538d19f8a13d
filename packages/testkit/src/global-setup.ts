import { Redis } from 'ioredis';
import postgres from 'postgres';
import { testDatabaseUrl, testRedisUrl } from './env.js';

/**
 * Runs once before the integration suite: fails early, with the fix, when the real services the
 * tests need are not there, instead of letting every test time out.
 */
export default async function setup(): Promise<void> {
  const sql = postgres(testDatabaseUrl(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${redactUrl(testDatabaseUrl())} (${(error as Error).message}). ` +
        'Start it (pg_ctlcluster ... main start) or set TEST_DATABASE_URL.',
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
  const redis = new Redis(testRedisUrl(), {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${redactUrl(testRedisUrl())} (${(error as Error).message}). Start redis-server or set TEST_REDIS_URL.`,
    );
  } finally {
    redis.disconnect();
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}
