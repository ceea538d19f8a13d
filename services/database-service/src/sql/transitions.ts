import type { Manifest } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import type { ChunkState, LedgerChunk } from '../ledger/types.js';

type Db = postgres.Sql | postgres.TransactionSql;
type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * The only way a chunk's state changes. One statement: lock the row if it is in one of `from`
 * (and, when given, matches `match`), set `to` and the columns of `set`, and append the event row
 * with the state it left and why. A duplicate message or a racing replica finds the row moved on,
 * changes nothing and gets nothing back.
 */
export async function transition(
  sql: Db,
  id: string,
  change: { from: ChunkState[]; to: ChunkState; set?: Fragment; match?: Fragment; detail: string },
): Promise<LedgerChunk | undefined> {
  const [row] = await sql<LedgerChunk[]>`
    with before as (
      select id, state from archiver.chunks
      where id = ${id} and state = any(${change.from}) and ${change.match ?? sql`true`}
      for update
    ), changed as (
      update archiver.chunks c
      set state = ${change.to}, ${change.set ?? sql`last_error_code = last_error_code`}, updated_at = now()
      from before where c.id = before.id
      returning c.*, before.state as left_state
    ), event as (
      insert into archiver.chunk_events (chunk_id, from_state, to_state, detail)
      select id, left_state, state, ${change.detail} from changed
    )
    select * from changed`;
  return row;
}

/** A note on the chunk's history that changes nothing (a refused confirmation, say). */
export async function recordNote(sql: Db, id: string, state: ChunkState, detail: string): Promise<void> {
  await sql`insert into archiver.chunk_events (chunk_id, from_state, to_state, detail) values (${id}, ${state}, ${state}, ${detail})`;
}

/** pending|failed (back-off over) → requested, with the event id that will carry the request. */
export function markRequested(sql: Db, id: string, eventId: string): Promise<LedgerChunk | undefined> {
  return transition(sql, id, {
    from: ['pending', 'failed'],
    to: 'requested',
    match: sql`(state = 'pending' or next_attempt_at <= now())`,
    set: sql`request_event_id = ${eventId}, requested_at = now(), attempts = attempts + 1, next_attempt_at = null`,
    detail: `event ${eventId}`,
  });
}

/** requested → pending when the request could not be published, so the next scan sends it. */
export async function unmarkRequested(sql: Db, id: string, eventId: string, error: string): Promise<void> {
  await transition(sql, id, {
    from: ['requested'],
    to: 'pending',
    match: sql`request_event_id = ${eventId}`,
    set: sql`attempts = greatest(attempts - 1, 0), last_error_code = 'PUBLISH_FAILED', last_error = ${error}`,
    detail: `PUBLISH_FAILED: ${error}`,
  });
}

/** requested → pending for every request unanswered past the timeout (lost message, dead worker). */
export async function expireRequests(sql: Db, timeoutSeconds: number): Promise<LedgerChunk[]> {
  return sql<LedgerChunk[]>`
    with changed as (
      update archiver.chunks
      set state = 'pending', last_error_code = 'REQUEST_TIMEOUT',
          last_error = 'no confirmation within ' || ${timeoutSeconds}::int || ' s; requesting again', updated_at = now()
      where state = 'requested' and requested_at < now() - make_interval(secs => ${timeoutSeconds})
      returning *
    ), event as (
      insert into archiver.chunk_events (chunk_id, from_state, to_state, detail)
      select id, 'requested', 'pending', 'request timed out' from changed
    )
    select * from changed`;
}

/** requested → archived, with what this manager read from storage: the stored manifest, where it lies. */
export function markArchived(
  sql: Db,
  id: string,
  eventId: string,
  stored: { backend: string; container: string; manifestKey: string; manifest: Manifest },
): Promise<LedgerChunk | undefined> {
  const m = stored.manifest;
  return transition(sql, id, {
    from: ['requested'],
    to: 'archived',
    match: sql`request_event_id = ${eventId}`,
    set: sql`object_backend = ${stored.backend}, object_container = ${stored.container},
        object_key = ${m.object_key}, manifest_key = ${stored.manifestKey}, row_count = ${m.row_count},
        bytes = ${m.bytes}, sha256 = ${m.sha256}, content_checksum = ${m.content_checksum},
        storage_form = ${m.source.storage?.form ?? null}, archived_at = now(), last_error_code = null, last_error = null`,
    detail: `object ${m.object_key} verified (${m.bytes} bytes, ${m.row_count} rows)`,
  });
}

/** requested → failed (retry at next_attempt_at) or dead (a person must look). */
export function markFailed(
  sql: Db,
  id: string,
  eventId: string,
  failure: { code: string; message: string; dead: boolean; retryInSeconds: number },
): Promise<LedgerChunk | undefined> {
  return transition(sql, id, {
    from: ['requested'],
    to: failure.dead ? 'dead' : 'failed',
    match: sql`request_event_id = ${eventId}`,
    set: sql`last_error_code = ${failure.code}, last_error = ${failure.message},
        next_attempt_at = case when ${failure.dead} then null else now() + make_interval(secs => ${failure.retryInSeconds}) end`,
    detail: `${failure.code}: ${failure.message}`,
  });
}

/** archived → dropped, inside the drop transaction. */
export async function markDropped(sql: Db, id: string, detail: string, removalMs?: number): Promise<boolean> {
  return (
    (await transition(sql, id, {
      from: ['archived'],
      to: 'dropped',
      set: sql`dropped_at = now(), removal_ms = ${removalMs ?? null}`,
      detail,
    })) !== undefined
  );
}

/** Back to pending for a fresh archive (rows changed after extraction, compression in between). */
export async function markForReArchive(
  sql: Db,
  id: string,
  from: ChunkState[],
  code: string,
  message: string,
): Promise<boolean> {
  const row = await transition(sql, id, {
    from,
    to: 'pending',
    set: sql`last_error_code = ${code}, last_error = ${message}`,
    detail: `${code}: ${message}`,
  });
  return row !== undefined;
}

/** archived → dead: something outside this manager interfered; a person must look. */
export async function markDeadFromArchived(
  sql: Db,
  id: string,
  code: string,
  message: string,
): Promise<void> {
  await transition(sql, id, {
    from: ['archived'],
    to: 'dead',
    set: sql`last_error_code = ${code}, last_error = ${message}`,
    detail: message,
  });
}

/** failed|dead → pending by a person's decision, with their reason; the next scan requests it. */
export function markRetried(sql: Db, id: string, reason: string): Promise<LedgerChunk | undefined> {
  return transition(sql, id, {
    from: ['failed', 'dead'],
    to: 'pending',
    set: sql`attempts = 0, next_attempt_at = null, last_error_code = 'RETRY_REQUESTED', last_error = ${reason}`,
    detail: `retry requested: ${reason}`,
  });
}
