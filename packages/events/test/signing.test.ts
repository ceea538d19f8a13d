import { describe, expect, it } from 'vitest';
import {
  buildArchivalConfirmation,
  buildArchivalRequest,
  canonicalJson,
  parseArchivalConfirmation,
  parseArchivalRequest,
} from '../src/index.js';
import { requestData, successData } from './fixtures.js';

const SECRET = 'test-secret-value';

describe('HMAC signing', () => {
  it('accepts a correctly signed request when a secret is configured', () => {
    const event = buildArchivalRequest(requestData(), { producer: 'p', secret: SECRET });
    expect(event.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(parseArchivalRequest(JSON.stringify(event), { secret: SECRET }).ok).toBe(true);
  });

  it('refuses a missing signature when a secret is configured', () => {
    const event = buildArchivalRequest(requestData(), { producer: 'p' });
    const result = parseArchivalRequest(event, { secret: SECRET });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('SIGNATURE_MISSING');
  });

  it('refuses a tampered event and a signature made with another secret', () => {
    const event = buildArchivalConfirmation(successData(), { producer: 'p', secret: SECRET });
    const tampered = { ...event, data: { ...event.data, chunk_name: '_hyper_1_2_chunk' } };
    const r1 = parseArchivalConfirmation(tampered, { secret: SECRET });
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.error.code).toBe('SIGNATURE_INVALID');
    const forged = buildArchivalConfirmation(successData(), { producer: 'p', secret: 'attacker' });
    const r2 = parseArchivalConfirmation(forged, { secret: SECRET });
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.error.code).toBe('SIGNATURE_INVALID');
  });

  it('does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 1 }),
    );
    const event = buildArchivalRequest(requestData(), { producer: 'p', secret: SECRET });
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    expect(parseArchivalRequest(reordered, { secret: SECRET }).ok).toBe(true);
  });

  it('ignores signatures when no secret is configured', () => {
    const event = buildArchivalRequest(requestData(), { producer: 'p', secret: 'whatever' });
    expect(parseArchivalRequest(event).ok).toBe(true);
  });
});
