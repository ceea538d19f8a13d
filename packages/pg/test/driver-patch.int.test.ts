import { pgSchema, startFakePostgres, testDatabaseUrl } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The project patches postgres.js 3.4.9 (patches/postgres@3.4.9.patch). These pin the fixes
 * down: without them a terminated session crashes the process, a transaction callback that
 * outlives its connection runs its remaining statements outside any transaction, or a server that
 * closes the connection right after the handshake crashes the process (an unhandled rejection).
 */
describe('postgres.js, as patched', () => {
  let schema: Awaited<ReturnType<typeof pgSchema>>;
  const admin = postgres(testDatabaseUrl(), { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    schema = await pgSchema('driver');
    await schema.sql`create table guard (x int)`;
  });
  afterAll(async () => {
    await schema?.cleanup();
    await admin.end({ timeout: 5 });
  });

  it('rejects the rest of a transaction whose session was terminated, even after the connection is reused', async () => {
    // One connection, so the pool reconnects the very connection the transaction was on.
    const sql = postgres(testDatabaseUrl(), {
      max: 1,
      onnotice: () => {},
      connection: { search_path: schema.schema },
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let backend = 0;
    let late: unknown;
    let lateSettled!: () => void;
    const settled = new Promise<void>((resolve) => {
      lateSettled = resolve;
    });
    const transaction = sql
      .begin(async (tx) => {
        backend = (await tx<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
        await gate;
        try {
          await tx`insert into guard values (1)`;
        } catch (error) {
          late = error;
        } finally {
          lateSettled();
        }
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    while (!backend) await new Promise((r) => setTimeout(r, 10));
    await admin`select pg_terminate_backend(${backend})`;
    expect(await transaction).toMatchObject({ code: expect.stringMatching(/CONNECTION|57P01/) });
    // The pool reconnects the same connection object for an unrelated query...
    expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    // ...and the orphaned callback's next statement must fail, not run there in autocommit.
    release();
    await settled;
    expect(late).toBeInstanceOf(Error);
    expect(await admin`select count(*)::int as n from ${admin(schema.schema)}.guard`).toEqual([{ n: 0 }]);
    await sql.end({ timeout: 5 });
  });

  it('crashes nothing when the server closes the connection right after the handshake (the query waits; ending the pool fails it)', async () => {
    const target = new URL(testDatabaseUrl());
    const server = await startFakePostgres('closes-mid-query', {
      host: target.hostname,
      port: Number(target.port || 5432),
    });
    const port = server.port;
    const sql = postgres({
      host: '127.0.0.1',
      port,
      database: target.pathname.slice(1),
      user: target.username,
      max: 1,
      onnotice: () => {},
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // postgres.js reconnects again and again, so the query neither succeeds nor fails by itself:
      // the services bound it with a client-side deadline and throw the pool away.
      const outcome = sql`select 1`.then(
        () => 'answered',
        (e: unknown) => (e as { code?: string }).code,
      );
      const early = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('waiting'), 1_500))]);
      expect(early).toBe('waiting');
      await sql.end({ timeout: 0 });
      expect(await outcome).toMatch(/^CONNECTION_(CLOSED|ENDED|DESTROYED)$/);
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await server.stop();
    }
  });

  it('finishes a COPY TO STDOUT of rows larger than the stream buffer, and the transaction commits', async () => {
    // Every CopyData of a 100 kB row fills the stream and pauses the socket; unpatched, the socket
    // stayed paused once the stream ended, and the transaction never heard ReadyForQuery.
    const sql = postgres(testDatabaseUrl(), { max: 1, onnotice: () => {} });
    try {
      const copied = await Promise.race([
        sql.begin(async (tx) => {
          const stream =
            await tx`copy (select repeat(md5(g::text), 3200) from generate_series(1, 50) g) to stdout`.readable();
          let bytes = 0;
          for await (const piece of stream) bytes += (piece as Buffer).length;
          return bytes;
        }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the transaction hung after COPY')), 10_000),
        ),
      ]);
      expect(copied).toBe(50 * (32 * 3200 + 1));
      expect(await sql`select 1 as ok`).toEqual([{ ok: 1 }]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
