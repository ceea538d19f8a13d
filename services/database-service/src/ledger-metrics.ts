import type { Bus } from '@chunk-archiver/bus';
import { withDeadline } from '@chunk-archiver/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { CHUNK_STATES } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import { DEAD_LETTER_TOPICS } from './operations/dead-letters.js';
import { ledgerExists, stateCounts, tableAges } from './sql/ledger.js';

/** A scrape never waits longer than this for one database; one that does not answer is skipped. */
const SCRAPE_TIMEOUT_MS = 2_000;

interface LedgerFigures {
  counts: Awaited<ReturnType<typeof stateCounts>>;
  ages: Awaited<ReturnType<typeof tableAges>>;
}

async function figures(db: ManagedDatabase): Promise<LedgerFigures | undefined> {
  try {
    return await withDeadline(
      (async () => {
        if (!(await ledgerExists(db.sql))) return { counts: [], ages: [] };
        return { counts: await stateCounts(db.sql), ages: await tableAges(db.sql) };
      })(),
      SCRAPE_TIMEOUT_MS,
      `database ${db.name}: metrics`,
    );
  } catch {
    return undefined;
  }
}

/**
 * What operators alert on, read from the ledger at scrape time: chunks by state per table, how
 * long the oldest pending chunk and the oldest request have waited, whether each database
 * answers, scans (and failed scans), and the dead letters per topic.
 */
/** One read of every ledger per scrape, shared by the gauges that each collect from it. */
function sharedReads(databases: Map<string, ManagedDatabase>) {
  let at = 0;
  let reading: Promise<Map<string, LedgerFigures | undefined>> | undefined;
  return (): Promise<Map<string, LedgerFigures | undefined>> => {
    if (!reading || Date.now() - at > 1_000) {
      at = Date.now();
      reading = Promise.all(
        [...databases.values()].map(async (db) => [db.name, await figures(db)] as const),
      ).then((entries) => new Map(entries));
    }
    return reading;
  };
}

/**
 * What operators alert on, read from the ledger at scrape time: chunks by state per table, how
 * long the oldest pending chunk and the oldest request have waited, whether each database
 * answers, scans (and failed scans), and the dead letters per topic.
 */
export function registerLedgerMetrics(
  registry: Registry,
  databases: Map<string, ManagedDatabase>,
  bus?: Bus,
): void {
  const read = sharedReads(databases);
  new Gauge({
    name: 'retention_chunks',
    help: 'Chunks in the ledger, by table and state',
    labelNames: ['database', 'table', 'state'],
    registers: [registry],
    async collect() {
      const all = await read();
      this.reset();
      for (const db of databases.values()) {
        const f = all.get(db.name);
        if (!f) continue;
        for (const table of db.config.tables)
          for (const state of CHUNK_STATES)
            this.set({ database: db.name, table: `${table.schema}.${table.name}`, state }, 0);
        for (const c of f.counts)
          this.set(
            { database: db.name, table: `${c.table_schema}.${c.table_name}`, state: c.state },
            c.chunks,
          );
      }
    },
  });
  for (const [name, help, key] of [
    [
      'retention_oldest_pending_age_seconds',
      'How long the longest-waiting pending chunk of the table has waited',
      'pending_age_s',
    ],
    [
      'retention_oldest_requested_age_seconds',
      'How long the oldest unanswered archival request of the table has waited',
      'requested_age_s',
    ],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ['database', 'table'],
      registers: [registry],
      async collect() {
        const all = await read();
        this.reset();
        for (const [database, f] of all)
          for (const a of f?.ages ?? [])
            this.set({ database, table: `${a.table_schema}.${a.table_name}` }, a[key] ?? 0);
      },
    });
  }
  new Gauge({
    name: 'retention_database_up',
    help: 'Whether the database answered this scrape (1) or not (0)',
    labelNames: ['database'],
    registers: [registry],
    async collect() {
      const all = await read();
      this.reset();
      for (const [database, f] of all) this.set({ database }, f ? 1 : 0);
    },
  });
  for (const [name, help, value] of [
    ['retention_scans_total', 'Scans of the database since start', (db: ManagedDatabase) => db.stats.scans],
    [
      'retention_scans_failed_total',
      'Scans of the database that failed since start',
      (db: ManagedDatabase) => db.stats.scans_failed,
    ],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ['database'],
      registers: [registry],
      collect() {
        this.reset();
        for (const db of databases.values()) this.inc({ database: db.name }, value(db));
      },
    });
  }
  if (!bus) return;
  new Gauge({
    name: 'retention_dead_letters',
    help: 'Messages in the dead-letter stream of each topic',
    labelNames: ['topic'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const topic of DEAD_LETTER_TOPICS) {
        const count = await withDeadline(bus.deadLetterCount(topic), SCRAPE_TIMEOUT_MS, 'dead letters').catch(
          () => undefined,
        );
        if (count !== undefined) this.set({ topic }, count);
      }
    },
  });
}
