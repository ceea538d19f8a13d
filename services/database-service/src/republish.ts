import { coerceError } from '@chunk-archiver/common';
import { TOPICS } from '@chunk-archiver/events';
import type { ManagedDatabase } from './managed-database.js';
import { requestEvent, type ScanContext } from './scan-steps.js';
import { requestedChunks } from './sql/ledger.js';
import { recordNote } from './sql/transitions.js';

/**
 * After the bus moved to another Redis endpoint, the requests (and confirmations) on the old one
 * may be lost. Every chunk still `requested` is sent again at once, under the event id the ledger
 * holds: a worker that already archived it writes the same deterministic key, and whichever
 * confirmation arrives first matches the ledger. Without this, each would wait out
 * `request_timeout_s`. Only a database this manager leads, so standbys stay silent.
 */
export async function republishRequested(
  ctx: ScanContext,
  db: ManagedDatabase,
  why: string,
): Promise<number> {
  if (!(await db.leader.ensure())) return 0;
  let sent = 0;
  for (const row of await requestedChunks(db.sql)) {
    if (!row.request_event_id) continue;
    const event = requestEvent(ctx, db.name, row, row.request_event_id, row.requested_at ?? new Date());
    await ctx.publish(TOPICS.archivalRequest, event);
    await recordNote(db.sql, row.id, 'requested', `request ${row.request_event_id} sent again: ${why}`);
    sent++;
  }
  return sent;
}

/** Every database at once, each bounded; one that fails is logged and the rest carry on. */
export async function republishEverywhere(
  ctx: ScanContext,
  databases: Iterable<ManagedDatabase>,
  why: string,
  timeoutMs: number,
): Promise<void> {
  await Promise.all(
    [...databases].map(async (db) => {
      try {
        const sent = await db.bounded('republish', timeoutMs, () => republishRequested(ctx, db, why));
        if (sent) db.logger.warn({ requests: sent, reason: why }, 'requests in flight sent again');
      } catch (error) {
        db.logger.error(
          { err: coerceError(error) },
          'could not send the requests in flight again; they wait for request_timeout_s',
        );
      }
    }),
  );
}
