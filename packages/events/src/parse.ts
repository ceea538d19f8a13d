import { ArchiverError } from '@chunk-archiver/common';
import type { z } from 'zod';
import { type ArchivalConfirmation, archivalFailureSchema, archivalSuccessSchema } from './confirmation.js';
import { type ArchivalRequest, archivalRequestSchema } from './request.js';
import { checkSignature } from './signing.js';
import { MAX_EVENT_BYTES } from './topics.js';

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `data.chunk_start_time`; `(root)` for the whole event. */
  field: string;
  message: string;
}

export type EventErrorCode =
  | 'EVENT_NOT_JSON'
  | 'EVENT_TOO_LARGE'
  | 'EVENT_INVALID'
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_INVALID';

/** Why an event was refused, naming every bad field. Never retryable: the same bytes fail again. */
export class EventValidationError extends ArchiverError {
  override name = 'EventValidationError';
  readonly issues: FieldIssue[];

  constructor(code: EventErrorCode, issues: FieldIssue[]) {
    super(code, `${code}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { retryable: false });
    this.issues = issues;
  }
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: EventValidationError };

export interface ParseOptions {
  /** When set, the event must carry a valid HMAC signature made with this secret. */
  secret?: string | undefined;
}

function fail<T>(code: EventErrorCode, field: string, message: string): ParseResult<T> {
  return { ok: false, error: new EventValidationError(code, [{ field, message }]) };
}

/** Accepts an object, a JSON string or a Buffer; refuses oversized input before parsing it. */
function decode(input: unknown): ParseResult<unknown> {
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
    if (bytes > MAX_EVENT_BYTES)
      return fail('EVENT_TOO_LARGE', '(root)', `event is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES}`);
    try {
      return { ok: true, value: JSON.parse(input.toString()) };
    } catch (error) {
      return fail('EVENT_NOT_JSON', '(root)', `not valid JSON (${(error as Error).message})`);
    }
  }
  const size = Buffer.byteLength(JSON.stringify(input) ?? '');
  if (size > MAX_EVENT_BYTES)
    return fail('EVENT_TOO_LARGE', '(root)', `event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`);
  return { ok: true, value: input };
}

function toIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message:
      issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message,
  }));
}

/**
 * An object with neither `schema_version` nor `event_id` is no event of this contract at all
 * (another producer's, such as the archiver this product replaces): say so, with the fields it
 * has, rather than list every field of ours it lacks.
 */
function foreign<T>(value: unknown): ParseResult<T> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if ('schema_version' in value || 'event_id' in value) return undefined;
  const fields = Object.keys(value).slice(0, 12).join(', ') || 'none';
  return fail(
    'EVENT_INVALID',
    '(root)',
    `not an event of this contract (no schema_version, no event_id; its fields: ${fields}): ` +
      'another producer, such as the earlier archiver? see docs/migration.md',
  );
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown, options: ParseOptions): ParseResult<T> {
  const decoded = decode(input);
  if (!decoded.ok) return decoded as ParseResult<T>;
  const other = foreign<T>(decoded.value);
  if (other) return other;
  const result = schema.safeParse(decoded.value);
  if (!result.success)
    return { ok: false, error: new EventValidationError('EVENT_INVALID', toIssues(result.error)) };
  if (options.secret) {
    // The signature covers the event as sent, so verify the decoded input, not the parsed copy
    // (which gains defaults).
    const check = checkSignature(decoded.value as Record<string, unknown>, options.secret);
    if (check === 'missing')
      return fail('SIGNATURE_MISSING', 'signature', 'a signature is required because a secret is configured');
    if (check === 'invalid')
      return fail('SIGNATURE_INVALID', 'signature', 'does not match the event content');
  }
  return { ok: true, value: result.data };
}

export function parseArchivalRequest(
  input: unknown,
  options: ParseOptions = {},
): ParseResult<ArchivalRequest> {
  return parseWith(archivalRequestSchema, input, options);
}

export function parseArchivalConfirmation(
  input: unknown,
  options: ParseOptions = {},
): ParseResult<ArchivalConfirmation> {
  // Choose the branch by status first: a plain union would report the errors of both branches.
  const decoded = decode(input);
  if (!decoded.ok) return decoded as ParseResult<ArchivalConfirmation>;
  const other = foreign<ArchivalConfirmation>(decoded.value);
  if (other) return other;
  const status = (decoded.value as { data?: { status?: unknown } } | null)?.data?.status;
  const schema = status === 'FAILED' ? archivalFailureSchema : archivalSuccessSchema;
  if (status !== 'SUCCESS' && status !== 'FAILED') {
    return fail('EVENT_INVALID', 'data.status', 'must be SUCCESS or FAILED');
  }
  return parseWith(schema as z.ZodType<ArchivalConfirmation>, decoded.value, options);
}
