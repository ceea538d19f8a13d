import { backoffDelay, coerceError, failpoint, type Logger } from '@chunk-archiver/common';
import type { ArchivalConfirmation } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import type { RetentionConfig } from './config.js';
import { dropOptions, dropVerifiedChunk } from './drop-verified.js';
import { NotLeaderError } from './errors.js';
import type { ManagedDatabase } from './managed-database.js';
import { findChunk, markArchived, markFailed, recordEvent } from './sql/ledger.js';
import { verifyArchive } from './verify-archive.js';

export interface ConfirmationDeps {
  databases: Map<string, ManagedDatabase>;
  store: BlobStore;
  config: RetentionConfig;
  logger: Logger;
  /** Called after each verified drop, for metrics. */
  onDropped?: (database: string, rows: number) => void;
}

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
    // Only the leader touches a database; a standby leaves the message for redelivery to it.
    if (!(await db.leader.ensure())) throw new NotLeaderError(data.database);
    await db.ensureLedger();
    const row = await findChunk(db.sql, data.chunk_schema, data.chunk_name);
    if (!row) {
      log.warn('confirmation for a chunk not in the ledger; ignored');
      return;
    }
    if (row.request_event_id !== data.request_event_id) {
      log.info(
        { state: row.state },
        'confirmation does not answer the current request (duplicate, replay or stale); ignored',
      );
      return;
    }
    if (data.status === 'FAILED') {
      const dead = !data.error.retryable || row.attempts >= deps.config.defaults.max_attempts;
      const updated = await markFailed(db.sql, row.id, data.request_event_id, {
        code: data.error.code,
        message: data.error.message,
        dead,
        retryInSeconds: retryDelaySeconds(deps.config, row.attempts),
      });
      if (updated) {
        await recordEvent(
          db.sql,
          row.id,
          'requested',
          updated.state,
          `${data.error.code}: ${data.error.message}`,
        );
        log.warn(
          { code: data.error.code, state: updated.state, attempts: row.attempts },
          dead ? 'archival failed for good; chunk is dead' : 'archival failed; will retry',
        );
      }
      return;
    }

    if (row.state === 'requested') {
      const verified = await verifyArchive(deps.store, deps.config.storage.prefix, data);
      if (!verified.ok) {
        const dead = row.attempts >= deps.config.defaults.max_attempts;
        const updated = await markFailed(db.sql, row.id, data.request_event_id, {
          code: verified.code,
          message: verified.message,
          dead,
          retryInSeconds: retryDelaySeconds(deps.config, row.attempts),
        });
        if (updated)
          await recordEvent(
            db.sql,
            row.id,
            'requested',
            updated.state,
            `${verified.code}: ${verified.message}`,
          );
        log.warn(
          { code: verified.code, reason: verified.message },
          'confirmed archive failed verification; not dropping',
        );
        return;
      }
      const archived = await markArchived(db.sql, row.id, data.request_event_id, {
        backend: data.object.backend,
        container: data.object.container,
        key: data.object.key,
        manifestKey: data.object.manifest_key,
        rowCount: data.manifest.row_count,
        bytes: data.manifest.bytes,
        sha256: data.manifest.sha256,
        contentChecksum: data.manifest.content_checksum,
      });
      if (!archived) return;
      await recordEvent(
        db.sql,
        row.id,
        'requested',
        'archived',
        `object ${data.object.key} verified (${data.manifest.bytes} bytes)`,
      );
    } else if (row.state !== 'archived') {
      log.info({ state: row.state }, 'chunk already handled; duplicate confirmation ignored');
      return;
    }
    if (deps.config.dry_run) return;
    await failpoint('drop.before', {
      database: data.database,
      chunk: `${data.chunk_schema}.${data.chunk_name}`,
    });
    try {
      const outcome = await dropVerifiedChunk(db, row.id, dropOptions(deps.config, db));
      if (outcome === 'dropped') {
        db.stats.chunks_dropped++;
        db.stats.rows_archived += data.manifest.row_count;
        deps.onDropped?.(data.database, data.manifest.row_count);
      }
    } catch (error) {
      // The chunk stays `archived`; the next scan retries the verified drop.
      log.warn({ err: coerceError(error) }, 'verified drop did not complete; will retry on the next scan');
    }
  };
}
