import { namesTable, type TableConfig } from '../config.js';
import { OperatorError, UnknownTableError } from '../errors.js';
import { ledgerIdentity } from '../ledger/identity.js';
import type { ChunkState, LedgerChunk } from '../ledger/types.js';
import type { ManagedDatabase } from '../managed-database.js';
import { chunkLabel } from '../scan-steps.js';
import { chunkById, chunksInStates } from '../sql/ledger.js';
import { markRetried } from '../sql/transitions.js';

export type RetryState = 'failed' | 'dead';

export interface RetryInput {
  /** One chunk by its ledger id (needs `database` when several are configured)... */
  id?: string | undefined;
  /** ...or every failed/dead chunk of a table (or of every table, with `all`). */
  table?: string | undefined;
  all?: boolean | undefined;
  /** Only chunks in this state (default: both failed and dead). */
  state?: RetryState | undefined;
  database?: string | undefined;
  /** Why: recorded on each chunk's history. */
  reason: string;
}

export interface RetriedChunk {
  database: string;
  id: string;
  table: string;
  chunk: string;
  from_state: ChunkState;
}

function pick(databases: Map<string, ManagedDatabase>, name: string | undefined, needOne: boolean) {
  if (name !== undefined) {
    const db = databases.get(name);
    if (!db) throw new OperatorError('UNKNOWN_DATABASE', `database ${name} is not configured`, 'database');
    return [db];
  }
  if (needOne && databases.size > 1)
    throw new OperatorError(
      'DATABASE_REQUIRED',
      `chunk ids are per database: name one of ${[...databases.keys()].join(', ')}`,
      'database',
    );
  return [...databases.values()];
}

function tableOf(db: ManagedDatabase, name: string): TableConfig | undefined {
  return db.config.tables.find((t) => namesTable(t, name));
}

const retried = (db: ManagedDatabase, row: LedgerChunk, from: ChunkState): RetriedChunk => ({
  database: db.name,
  id: String(row.id),
  table: `${row.table_schema}.${row.table_name}`,
  chunk: chunkLabel(ledgerIdentity(db.name, row)),
  from_state: from,
});

async function retryOne(db: ManagedDatabase, id: string, reason: string): Promise<RetriedChunk> {
  if (!/^\d{1,18}$/.test(id))
    throw new OperatorError('UNKNOWN_CHUNK', `chunk id must be a number, got ${JSON.stringify(id)}`, 'id');
  const row = await chunkById(db.sql, id);
  if (!row) throw new OperatorError('UNKNOWN_CHUNK', `database ${db.name} has no chunk ${id}`, 'id');
  if (row.state !== 'failed' && row.state !== 'dead')
    throw new OperatorError(
      'NOT_RETRYABLE',
      `chunk ${id} (${row.chunk_schema}.${row.chunk_name}) is ${row.state}; only failed or dead chunks are retried`,
      'id',
    );
  const moved = await markRetried(db.sql, id, reason);
  if (!moved)
    throw new OperatorError(
      'NOT_RETRYABLE',
      `chunk ${id} changed state while being retried; look again`,
      'id',
    );
  return retried(db, moved, row.state);
}

/**
 * Re-queues failed or dead chunks a person decided to try again: each goes back to pending with
 * its attempts reset and the reason on its history, and its database's scanner is woken so the
 * request goes out now rather than at the next interval.
 */
export async function retryChunks(
  databases: Map<string, ManagedDatabase>,
  input: RetryInput,
): Promise<RetriedChunk[]> {
  if (input.id === undefined && input.table === undefined && !input.all)
    throw new OperatorError('SELECTOR_REQUIRED', 'say which chunks: an id, a table, or all', 'table');
  const targets = pick(databases, input.database, input.id !== undefined);
  const out: RetriedChunk[] = [];
  if (input.id !== undefined) out.push(await retryOne(targets[0]!, input.id, input.reason));
  else {
    const states: ChunkState[] = input.state ? [input.state] : ['failed', 'dead'];
    let matched = input.table === undefined;
    for (const db of targets) {
      const table = input.table === undefined ? undefined : tableOf(db, input.table);
      if (input.table !== undefined && !table) continue;
      matched = true;
      for (const row of await chunksInStates(db.sql, states, table)) {
        const moved = await markRetried(db.sql, String(row.id), input.reason);
        if (moved) out.push(retried(db, moved, row.state));
      }
    }
    if (!matched) throw new UnknownTableError(input.table!, input.database);
  }
  for (const name of new Set(out.map((c) => c.database))) databases.get(name)?.wake();
  return out;
}
