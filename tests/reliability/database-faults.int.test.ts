import { describe, it } from 'vitest';
import type { Cluster } from './cluster.js';
import { FAILPOINT_LOG, runFault } from './run-fault.js';

const RUNS = 3;

/** Ends every server process of one service's sessions, from the test's own connection. */
async function terminateSessions(cluster: Cluster, application: string): Promise<number> {
  const db = cluster.databases[0]!;
  const rows = await db.sql<{ pid: number }[]>`
    select pid from pg_stat_activity
    where datname = current_database() and application_name like ${`%${application}%`} and pid <> pg_backend_pid()`;
  for (const { pid } of rows) await db.sql`select pg_terminate_backend(${pid})`;
  return rows.length;
}

describe('reliability: PostgreSQL sessions terminated, rows changed under the archiver', () => {
  it('PostgreSQL connections terminated during extraction', async () => {
    await runFault('PostgreSQL connections terminated during extraction', { runs: RUNS }, async (cluster) => {
      await cluster.startManager();
      const worker = await cluster.startWorker({ ARCHIVER_FAILPOINTS: 'archive.mid-extraction=sleep:1500' });
      await worker.waitForLog(FAILPOINT_LOG('archive.mid-extraction'));
      if ((await terminateSessions(cluster, 'archival-service')) === 0)
        throw new Error('no archival session to end');
    });
  }, 120_000);

  it('PostgreSQL connections terminated during the drop transaction', async () => {
    await runFault(
      'PostgreSQL connections terminated during the drop transaction',
      { runs: RUNS },
      async (cluster) => {
        await cluster.startWorker();
        const manager = await cluster.startManager({ ARCHIVER_FAILPOINTS: 'drop.in-transaction=sleep:1500' });
        await manager.waitForLog(FAILPOINT_LOG('drop.in-transaction'));
        if ((await terminateSessions(cluster, 'database-service')) === 0)
          throw new Error('no manager session to end');
      },
    );
  }, 120_000);

  it('rows inserted and updated in a chunk between its extraction and its drop', async () => {
    await runFault(
      'rows inserted and updated between extraction and drop',
      { runs: RUNS },
      async (cluster) => {
        await cluster.startManager();
        const worker = await cluster.startWorker({
          ARCHIVER_FAILPOINTS: 'archive.before-confirm=sleep:1500',
        });
        const line = await worker.waitForLog(FAILPOINT_LOG('archive.before-confirm'));
        // The chunk whose archive is written but not yet confirmed: change it now.
        const chunk = (JSON.parse(line) as { chunk: string }).chunk.split('.')[1]!;
        const sql = cluster.databases[0]!.sql;
        const [bounds] = await sql<{ lo: Date }[]>`select min(at) as lo from ${sql(chunk)}`;
        await sql`insert into events select 900000 + g, ${bounds!.lo}::timestamptz + g * interval '1 second', 7, g, '{"late": true}', 'late'
                from generate_series(1, 25) g`;
        await sql`update ${sql(chunk)} set reading = -1, note = 'updated' where id in (select id from ${sql(chunk)} order by id limit 3)`;
        await cluster.snapshot(chunk);
      },
    );
  }, 120_000);
});
