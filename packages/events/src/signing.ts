import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './canonical.js';

type Signable = { signature?: string | undefined } & Record<string, unknown>;

function digest(event: Signable, secret: string): string {
  const { signature: _ignored, ...unsigned } = event;
  return createHmac('sha256', secret).update(canonicalJson(unsigned)).digest('hex');
}

/** Returns a copy of the event carrying an HMAC-SHA256 signature of everything else in it. */
export function signEvent<T extends Signable>(event: T, secret: string): T {
  return { ...event, signature: digest(event, secret) };
}

export type SignatureCheck = 'valid' | 'missing' | 'invalid';

export function checkSignature(event: Signable, secret: string): SignatureCheck {
  if (typeof event.signature !== 'string' || event.signature.length === 0) return 'missing';
  const expected = Buffer.from(digest(event, secret), 'hex');
  const given = Buffer.from(event.signature, 'hex');
  if (given.length !== expected.length) return 'invalid';
  return timingSafeEqual(given, expected) ? 'valid' : 'invalid';
}
