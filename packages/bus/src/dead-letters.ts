import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';
import { entryField, type StreamEntry } from './stream-entry.js';
import type { DeadLetter, PayloadParser } from './types.js';

/**
 * A dead letter keeps at most this much of its payload: enough to read what went wrong, never a
 * copy of a megabyte message. Its size and sha256 say what the whole was.
 */
export const DEAD_LETTER_PAYLOAD_BYTES = 16 * 1024;

/** The fields a dead-lettered entry is stored with (XADD field/value pairs). */
export function deadLetterFields(
  payload: string,
  meta: { reason: string; sourceId: string; group: string; deliveries: number },
): string[] {
  const bytes = Buffer.from(payload, 'utf8');
  const truncated = bytes.length > DEAD_LETTER_PAYLOAD_BYTES;
  const kept = truncated
    ? bytes
        .subarray(0, DEAD_LETTER_PAYLOAD_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, '')
    : payload;
  return [
    'payload',
    kept,
    'payload_bytes',
    String(bytes.length),
    'payload_sha256',
    createHash('sha256').update(bytes).digest('hex'),
    'truncated',
    truncated ? '1' : '0',
    'reason',
    meta.reason.slice(0, 4000),
    'source_id',
    meta.sourceId,
    'group',
    meta.group,
    'deliveries',
    String(meta.deliveries),
  ];
}

export function toDeadLetter([id, fields]: StreamEntry): DeadLetter {
  const payload = entryField(fields, 'payload') ?? '';
  return {
    id,
    payload,
    payloadBytes: Number(entryField(fields, 'payload_bytes') ?? Buffer.byteLength(payload)),
    payloadSha256: entryField(fields, 'payload_sha256') ?? createHash('sha256').update(payload).digest('hex'),
    truncated: entryField(fields, 'truncated') === '1',
    reason: entryField(fields, 'reason') ?? '',
    sourceId: entryField(fields, 'source_id') ?? '',
    group: entryField(fields, 'group') ?? '',
    deliveries: Number(entryField(fields, 'deliveries') ?? 0),
  };
}

export type ReplayResult<T> = { ok: true; id: string; event: T } | { ok: false; reason: string };

/** One dead letter by its id, or undefined. */
export async function readDeadLetter(
  c: RedisClient,
  deadKey: string,
  id: string,
): Promise<DeadLetter | undefined> {
  const entries = (await c.xrange(deadKey, id, id)) as StreamEntry[];
  return entries[0] ? toDeadLetter(entries[0]) : undefined;
}

/**
 * Validates a dead letter's payload again and, when it passes, appends it to its topic and
 * removes it from the dead-letter stream. A payload that was truncated, or fails validation, is
 * left where it is with the reason.
 */
export function replayable<T>(letter: DeadLetter, parse: PayloadParser<T>): ReplayResult<T> {
  if (letter.truncated)
    return {
      ok: false,
      reason: `only the first ${DEAD_LETTER_PAYLOAD_BYTES} of its ${letter.payloadBytes} bytes were kept`,
    };
  const parsed = parse(letter.payload);
  if (!parsed.ok) return { ok: false, reason: `still invalid: ${parsed.error.message}` };
  return { ok: true, id: letter.id, event: parsed.value };
}
