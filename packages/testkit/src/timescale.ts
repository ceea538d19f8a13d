import { freePort } from './free-port.js';

export interface TimescaleHandle {
  /** postgres:// URL of the server. Use `max: 1` with the in-process server: it has one session. */
  url: string;
  /** True when this is the in-process PGlite build, false for a real server from TEST_TIMESCALEDB_URL. */
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * A TimescaleDB to test against. A real server when TEST_TIMESCALEDB_URL is set; otherwise a PGlite
 * build (PostgreSQL 17 + TimescaleDB compiled to WebAssembly) served over the PostgreSQL wire
 * protocol on a loopback port, because Debian has no TimescaleDB package and there is no Docker
 * engine here.
 */
export async function startTimescale(
  options: { port?: number; dataDir?: string } = {},
): Promise<TimescaleHandle> {
  const external = process.env.TEST_TIMESCALEDB_URL;
  if (external) return { url: external, embedded: false, stop: async () => {} };

  const { PGlite } = await import('@electric-sql/pglite');
  const { timescaledb } = await import('@electric-sql/pglite/timescaledb');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { timescaledb } });
  await db.exec('create extension if not exists timescaledb');
  const port = options.port ?? (await freePort());
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
  await server.start();
  let stopped = false;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    embedded: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.stop();
      } finally {
        await db.close();
      }
    },
  };
}

/** postgres.js options the in-process server needs: one session, and silence for its debug notices. */
export const embeddedTimescaleOptions = { max: 1, onnotice: () => {} } as const;
