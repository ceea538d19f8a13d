import { backoffDelay, coerceError, type Logger } from '@chunk-archiver/common';
import type { ArchivalConfirmation, ArchivalSuccess } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import type { RetentionConfig } from './config.js';
import { commitAndDrop } from './drop-archived.js';
import { NotLeaderError } from './errors.js';
import { layoutOf } from './iceberg/format.js';
import { confirmationMismatches, describeMismatches, ledgerIdentity } from './ledger/identity.js';
import type { LedgerChunk } from './ledger/types.js';
import type { ManagedDatabase } from './managed-database.js';
import { findChunkByRequest } from './sql/ledger.js';
import { markArchived, markFailed, recordNote } from './sql/transitions.js';
import { verifyArchive } from './verify-archive.js';

export interface ConfirmationDeps {
  databases: Map<string, ManagedDatabase>;
  store: BlobStore;
  config: RetentionConfig;
  logger: Logger;
  /** Called for each confirmation refused for its identity, for metrics. */
  onRefused?: (database: string, reason: string) => void;
}

/** Verification failures that only show the message is wrong, not that the archive is bad. */
const CLAIM_MISMATCHES = new Set(['OBJECT_ELSEWHERE', 'KEY_MISMATCH', 'MANIFEST_MISMATCH']);

/** The retry delay for the n-th failed attempt, in seconds. */
export function retryDelaySeconds(config: RetentionConfig, attempts: number): number {
  return Math.ceil(
    backoffDelay(attempts, {
      initialMs: config.defaults.retry_initial_s * 1000,
      maxMs: config.defaults.retry_max_s * 1000,
      factor: 2,
      jitter: 0.2,
    }) / 1000,
  );
}

/** One confirmation being handled: where it goes, what it claims, and how to say what happened. */
interface Handling {
  deps: ConfirmationDeps;
  db: ManagedDatabase;
  event: ArchivalConfirmation;
  row: LedgerChunk;
  log: Logger;
}

/** Refused: recorded on the chunk's history with its own code; the chunk's state is untouched. */
async function refuse(h: Handling, code: string, reason: string): Promise<void> {
  await recordNote(
    h.db.sql,
    h.row.id,
    h.row.state,
    `confirmation ${h.event.event_id} refused: ${code}: ${reason}`,
  );
  h.deps.onRefused?.(h.db.name, code);
  h.log.warn({ code, reason, state: h.row.state }, 'confirmation refused: it does not match the ledger');
}

/**
 * requested → failed, or dead after max_attempts. Non-retryable or not, a failure counts as one
 * attempt: one message alone (a forged one, without a secret) must not give a chunk up for good.
 */
async function fail(h: Handling, code: string, message: string): Promise<void> {
  const { config } = h.deps;
  const dead = h.row.attempts >= config.defaults.max_attempts;
  const updated = await markFailed(h.db.sql, h.row.id, h.event.data.request_event_id, {
    code,
    message,
    dead,
    retryInSeconds: retryDelaySeconds(config, h.row.attempts),
  });
  if (updated) {
    h.log.warn(
      { code, reason: message, state: updated.state, attempts: h.row.attempts },
      dead ? 'archival failed for good; chunk is dead' : 'archival failed; will retry',
    );
  }
}

/**
 * A SUCCESS for a requested chunk: verified against storage (see verifyArchive), then requested →
 * archived with what was read there. Returns whether the chunk is archived now.
 */
async function verifyAndMarkArchived(h: Handling, data: ArchivalSuccess['data']): Promise<boolean> {
  const expected = ledgerIdentity(h.db.name, h.row);
  const layout = layoutOf(h.db.config, h.row);
  const verified = await verifyArchive(h.deps.store, h.deps.config.storage.prefix, expected, data, layout);
  if (!verified.ok) {
    // Claims that differ from what is stored may not come from the worker that did the job: they
    // change nothing, and the real answer can still complete the request.
    if (CLAIM_MISMATCHES.has(verified.code)) await refuse(h, verified.code, verified.message);
    else await fail(h, verified.code, verified.message);
    return false;
  }
  const archived = await markArchived(h.db.sql, h.row.id, data.request_event_id, {
    backend: h.deps.store.backend,
    container: h.deps.store.container,
    manifestKey: verified.manifestKey,
    manifest: verified.manifest,
  });
  return archived !== undefined;
}

/** An archived chunk's verified drop, unless a dry run or a conflict on its table holds it back. */
async function dropArchived(h: Handling): Promise<void> {
  const { deps, db, row, log } = h;
  if (deps.config.dry_run) return;
  if (db.conflicts.has(`${row.table_schema}.${row.table_name}`)) {
    log.warn('archived, not dropped: the table has a conflict (see status); it stays archived');
    return;
  }
  try {
    await commitAndDrop(deps, db, row.id, { failpoint: true });
  } catch (error) {
    // The chunk stays `archived`; the next scan retries the verified drop.
    log.warn({ err: coerceError(error) }, 'verified drop did not complete; will retry on the next scan');
  }
}

/** The ledger row a confirmation answers, matched by its request id, never by the names it carries. */
async function answeredRow(
  db: ManagedDatabase,
  event: ArchivalConfirmation,
): Promise<LedgerChunk | undefined> {
  // Only the leader touches a database; a standby leaves the message for redelivery to it.
  if (!(await db.leader.ensure())) throw new NotLeaderError(db.name);
  await db.ensureLedger();
  return findChunkByRequest(db.sql, event.data.request_event_id);
}

/**
 * Handles confirmations from the workers. Each is bound to the ledger row of the request it
 * answers and refused if any identity field differs; a SUCCESS is believed only once the object
 * and manifest are found in storage as this manager expects, and the drop then re-verifies the
 * chunk itself. Duplicates, replays and stale answers change nothing.
 */
export function createConfirmationHandler(deps: ConfirmationDeps) {
  return async function handle(event: ArchivalConfirmation): Promise<void> {
    const data = event.data;
    const log = deps.logger.child({
      database: data.database,
      chunk: `${data.chunk_schema}.${data.chunk_name}`,
      event_id: event.event_id,
      request_event_id: data.request_event_id,
    });
    const db = deps.databases.get(data.database);
    if (!db) return log.warn('confirmation for a database this manager does not manage; ignored');
    const row = await answeredRow(db, event);
    if (!row)
      return log.info(
        'confirmation answers no current request (duplicate, replay, stale or forged); ignored',
      );
    const h: Handling = { deps, db, event, row, log };
    const mismatches = confirmationMismatches(ledgerIdentity(db.name, row), row.attempts, data);
    if (mismatches.length) return refuse(h, 'IDENTITY_MISMATCH', describeMismatches(mismatches));
    if (data.status === 'FAILED') {
      if (row.state === 'requested') return fail(h, data.error.code, data.error.message);
      return log.info({ state: row.state }, 'failure for a chunk no longer requested; ignored');
    }
    if (row.state === 'requested') {
      if (!(await verifyAndMarkArchived(h, data))) return;
    } else if (row.state !== 'archived') {
      return log.info({ state: row.state }, 'chunk already handled; duplicate confirmation ignored');
    }
    await dropArchived(h);
  };
}
