import { freePort } from './free-port.js';

export interface TimescaleHandle {
  /** postgres:// URL of the server. Use `max: 1` with the in-process server: it has one session. */
  url: string;
  /** True when this is the in-process PGlite build, false for a real server from TEST_TIMESCALEDB_URL. */
  embedded: boolean;
  stop(): Promise<void>;
}

interface FramedHandler {
  handleData(data: Buffer): Promise<number>;
  socket: object | null;
  __framed?: true;
}

/** The first messages of a connection carry no type byte; SSL and GSS requests precede the startup. */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * pglite-socket 0.0.19 hands each TCP read straight to PGlite, so a protocol message split across
 * two reads (any statement or COPY over ~64 KiB) crashes the WebAssembly module. This makes it pass
 * whole messages only, holding back a partial one until the rest arrives.
 */
function frameMessages(handler: FramedHandler): void {
  if (handler.__framed) return;
  handler.__framed = true;
  const original = handler.handleData;
  const states = new WeakMap<object, { pending: Buffer; startup: boolean }>();
  handler.handleData = function (this: FramedHandler, data: Buffer): Promise<number> {
    const key = this.socket ?? this;
    let state = states.get(key);
    if (!state) {
      state = { pending: Buffer.alloc(0), startup: true };
      states.set(key, state);
    }
    const buffer = state.pending.length ? Buffer.concat([state.pending, data]) : data;
    let offset = 0;
    for (;;) {
      const rest = buffer.length - offset;
      if (state.startup) {
        if (rest < 8) break;
        const length = buffer.readInt32BE(offset);
        if (rest < length) break;
        const code = buffer.readInt32BE(offset + 4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) state.startup = false;
        offset += length;
      } else {
        if (rest < 5) break;
        const length = buffer.readInt32BE(offset + 1);
        if (rest < 1 + length) break;
        offset += 1 + length;
      }
    }
    state.pending = Buffer.from(buffer.subarray(offset));
    if (offset === 0) return Promise.resolve(0);
    return original.call(this, buffer.subarray(0, offset));
  };
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
  const { PGLiteSocketServer, PGLiteSocketHandler } = await import('@electric-sql/pglite-socket');
  frameMessages(PGLiteSocketHandler.prototype as unknown as FramedHandler);
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
