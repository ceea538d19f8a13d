import postgres from 'postgres';
import { testDatabaseUrl, uniqueName } from './env.js';

export type Sql = postgres.Sql;

/**
 * A schema owned by one test file on the real PostgreSQL, with a connection whose search_path
 * points at it. `cleanup()` drops the schema and closes the pool.
 */
export async function pgSchema(
  name: string,
  url = testDatabaseUrl(),
): Promise<{ schema: string; sql: Sql; url: string; cleanup(): Promise<void> }> {
  const schema = uniqueName(name);
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin`create schema ${admin(schema)}`;
  await admin.end();
  const sql = postgres(url, { max: 4, onnotice: () => {}, connection: { search_path: schema } });
  return {
    schema,
    sql,
    url,
    async cleanup() {
      try {
        await sql`drop schema if exists ${sql(schema)} cascade`;
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}

/** A whole database owned by one test, for code that creates its own schemas (the ledger). */
export async function pgDatabase(
  name: string,
  url = testDatabaseUrl(),
): Promise<{ database: string; url: string; cleanup(): Promise<void> }> {
  const database = uniqueName(name);
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(database)}`;
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${database}`;
  return {
    database,
    url: target.toString(),
    async cleanup() {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await sql`drop database if exists ${sql(database)} with (force)`;
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
