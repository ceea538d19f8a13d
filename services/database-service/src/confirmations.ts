import { backoffDelay, coerceError, failpoint, type Logger } from '@chunk-archiver/common';
import type { ArchivalConfirmation } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import type { RetentionConfig } from './config.js';
import { dropOptions, dropVerifiedChunk } from './drop-verified.js';
import { NotLeaderError } from './errors.js';
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
  /** Called after each verified drop, for metrics. */
  onDropped?: (database: string, rows: number) => void;
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

/**
 * Handles confirmations from the workers. A SUCCESS is believed only after the object and its
 * manifest are found in storage as confirmed; the drop itself re-verifies the chunk's content.
 * Confirmations that do not match the ledger's current request (duplicates, replays, stale
 * answers) change nothing.
 */
export function createConfirmationHandler(deps: ConfirmationDeps) {
  return async function handle(event: ArchivalConfirmation): Promise<void> {
    const data = event.data;
    const chunk = `${data.chunk_schema}.${data.chunk_name}`;
    const db = deps.databases.get(data.database);
    const log = deps.logger.child({
      database: data.database,
      chunk,
      event_id: event.event_id,
      request_event_id: data.request_event_id,
    });
    if (!db) {
      log.warn('confirmation for a database this manager does not manage; ignored');
      return;
    }
    /** Refused: recorded on the chunk's history with its own code; the chunk's state is untouched. */
    async function refuse(row: LedgerChunk, code: string, reason: string): Promise<void> {
      await recordNote(
        db!.sql,
        row.id,
        row.state,
        `confirmation ${event.event_id} refused: ${code}: ${reason}`,
      );
      deps.onRefused?.(data.database, code);
      log.warn({ code, reason, state: row.state }, 'confirmation refused: it does not match the ledger');
    }
    // Only the leader touches a database; a standby leaves the message for redelivery to it.
    if (!(await db.leader.ensure())) throw new NotLeaderError(data.database);
    await db.ensureLedger();
    // Matched by the request it answers, never by the names it carries.
    const row = await findChunkByRequest(db.sql, data.request_event_id);
    if (!row) {
      log.info('confirmation answers no current request (duplicate, replay, stale or forged); ignored');
      return;
    }
    const expected = ledgerIdentity(data.database, row);
    const mismatches = confirmationMismatches(expected, row.attempts, data);
    if (mismatches.length) {
      await refuse(row, 'IDENTITY_MISMATCH', describeMismatches(mismatches));
      return;
    }
    if (data.status === 'FAILED') {
      if (row.state !== 'requested') {
        log.info({ state: row.state }, 'failure for a chunk no longer requested; ignored');
        return;
      }
      // Non-retryable or not, a failure counts against max_attempts: one message alone (a forged
      // one, without a secret) must not be able to give a chunk up for good.
      const dead = row.attempts >= deps.config.defaults.max_attempts;
      const updated = await markFailed(db.sql, row.id, data.request_event_id, {
        code: data.error.code,
        message: data.error.message,
        dead,
        retryInSeconds: retryDelaySeconds(deps.config, row.attempts),
      });
      if (updated) {
        log.warn(
          { code: data.error.code, state: updated.state, attempts: row.attempts },
          dead ? 'archival failed for good; chunk is dead' : 'archival failed; will retry',
        );
      }
      return;
    }

    if (row.state === 'requested') {
      const verified = await verifyArchive(deps.store, deps.config.storage.prefix, expected, data);
      if (!verified.ok) {
        if (CLAIM_MISMATCHES.has(verified.code)) {
          // The message's claims differ from what is stored: it may not come from the worker that
          // did the job, so it changes nothing and the real answer can still complete the request.
          await refuse(row, verified.code, verified.message);
          return;
        }
        const dead = row.attempts >= deps.config.defaults.max_attempts;
        const updated = await markFailed(db.sql, row.id, data.request_event_id, {
          code: verified.code,
          message: verified.message,
          dead,
          retryInSeconds: retryDelaySeconds(deps.config, row.attempts),
        });
        log.warn(
          { code: verified.code, reason: verified.message },
          'confirmed archive failed verification; not dropping',
        );
        return;
      }
      // What the ledger keeps is what this manager read from storage, not what the message said.
      const stored = verified.manifest;
      const archived = await markArchived(db.sql, row.id, data.request_event_id, {
        backend: deps.store.backend,
        container: deps.store.container,
        key: verified.key,
        manifestKey: verified.manifestKey,
        rowCount: stored.row_count,
        bytes: stored.bytes,
        sha256: stored.sha256,
        contentChecksum: stored.content_checksum,
        storageForm: stored.source.storage?.form ?? null,
      });
      if (!archived) return;
    } else if (row.state !== 'archived') {
      log.info({ state: row.state }, 'chunk already handled; duplicate confirmation ignored');
      return;
    }
    if (deps.config.dry_run) return;
    if (db.conflicts.has(`${row.table_schema}.${row.table_name}`)) {
      log.warn('archived, not dropped: the table has a conflict (see status); it stays archived');
      return;
    }
    await failpoint('drop.before', {
      database: data.database,
      chunk: `${data.chunk_schema}.${data.chunk_name}`,
    });
    try {
      const outcome = await dropVerifiedChunk(db, row.id, dropOptions(deps.config, db));
      if (outcome === 'dropped') {
        const rows = Number(row.row_count ?? data.manifest.row_count);
        db.stats.chunks_dropped++;
        db.stats.rows_archived += rows;
        deps.onDropped?.(data.database, rows);
      }
    } catch (error) {
      // The chunk stays `archived`; the next scan retries the verified drop.
      log.warn({ err: coerceError(error) }, 'verified drop did not complete; will retry on the next scan');
    }
  };
}
