import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pgDatabase, uniqueName } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';

const SCRIPT = new URL('../scripts/start-local.mjs', import.meta.url).pathname;

describe('./dev start', () => {
  it('never drops a database it did not create: it stops and names the variable to change', async () => {
    // A database of someone else's under the name the demo is told to use.
    const db = await pgDatabase('foreign');
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`create table precious (id int)`;
      await sql`insert into precious values (1), (2)`;
      const name = new URL(db.url).pathname.slice(1);
      const result = await promisify(execFile)(process.execPath, [SCRIPT], {
        env: {
          PATH: process.env.PATH ?? '',
          DEMO_DATABASE: name,
          DEMO_TIMESCALE_DATABASE: uniqueName('unused'),
          STORAGE_BACKEND: 'local',
        },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `database ${name} exists and was not created by ./dev start; it is left alone. Choose another name: DEMO_DATABASE=<name> ./dev start`,
      );
      expect(await sql`select count(*)::int as n from precious`).toEqual([{ n: 2 }]);
    } finally {
      await sql.end({ timeout: 5 });
      await db.cleanup();
    }
  });
});
