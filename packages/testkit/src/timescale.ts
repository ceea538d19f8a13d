import postgres from 'postgres';
import { testDatabaseUrl, uniqueName } from './env.js';

export interface TimescaleHandle {
  /** postgres:// URL of a fresh database with the timescaledb extension created. */
  url: string;
  /** The database's name, for tests that need to name it (a second connection, say). */
  database: string;
  /** TimescaleDB's version as installed in that database (e.g. `2.28.3`). */
  version: string;
  /** Drops the database. */
  stop(): Promise<void>;
}

/** Thrown when the server has no TimescaleDB to create: the fix is one command. */
export class TimescaleMissingError extends Error {
  override name = 'TimescaleMissingError';
}

const INSTALL_HINT =
  'run `bash ../shared/timescaledb/install.sh` (./dev and .ci/run do this for you), or set TEST_TIMESCALEDB_URL to a server that has it';

/**
 * A database of its own on a real TimescaleDB server, with the extension created. The server is
 * TEST_TIMESCALEDB_URL when set, else this machine's PostgreSQL (where
 * `../shared/timescaledb/install.sh` installs and preloads TimescaleDB). Each call gets a new
 * database, so tests never share chunks, jobs or catalog state; `stop()` drops it.
 */
export async function startTimescale(options: { name?: string } = {}): Promise<TimescaleHandle> {
  const server = process.env.TEST_TIMESCALEDB_URL ?? testDatabaseUrl();
  const database = uniqueName(options.name ?? 'tsdb');
  const admin = postgres(server, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [available] = await admin<{ version: string | null }[]>`
      select (select default_version from pg_available_extensions where name = 'timescaledb') as version`;
    if (!available?.version)
      throw new TimescaleMissingError(`TimescaleDB is not installed on ${redact(server)}: ${INSTALL_HINT}`);
    await admin`create database ${admin(database)}`;
  } finally {
    await admin.end({ timeout: 5 });
  }
  const target = new URL(server);
  target.pathname = `/${database}`;
  const url = target.toString();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let version: string;
  try {
    await sql`create extension if not exists timescaledb`;
    const [row] = await sql<
      { v: string }[]
    >`select extversion as v from pg_extension where extname = 'timescaledb'`;
    version = row!.v;
  } catch (error) {
    await dropDatabase(server, database);
    const message = (error as Error).message;
    if (/shared_preload_libraries/.test(message))
      throw new TimescaleMissingError(`TimescaleDB is not preloaded on ${redact(server)}: ${INSTALL_HINT}`);
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    database,
    version,
    stop() {
      stopped ??= dropDatabase(server, database);
      return stopped;
    },
  };
}

async function dropDatabase(server: string, database: string): Promise<void> {
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  try {
    await admin`drop database if exists ${admin(database)} with (force)`;
  } finally {
    await admin.end({ timeout: 5 });
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return `${parsed.host}`;
  } catch {
    return '(unparseable url)';
  }
}
