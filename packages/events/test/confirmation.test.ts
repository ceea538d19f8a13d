import { describe, expect, it } from 'vitest';
import { buildArchivalConfirmation, parseArchivalConfirmation } from '../src/index.js';
import { successData } from './fixtures.js';

describe('parseArchivalConfirmation', () => {
  it('accepts a SUCCESS with object location and manifest summary', () => {
    const event = buildArchivalConfirmation(successData(), { producer: 'archival-service' });
    const result = parseArchivalConfirmation(JSON.stringify(event));
    expect(result.ok).toBe(true);
    if (result.ok && result.value.data.status === 'SUCCESS')
      expect(result.value.data.manifest.row_count).toBe(10);
  });

  it('requires the manifest on SUCCESS and names its bad fields', () => {
    const { manifest: _m, ...noManifest } = successData();
    const r1 = parseArchivalConfirmation(buildArchivalConfirmation(noManifest as never, { producer: 'p' }));
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.error.issues.map((i) => i.field)).toEqual(['data.manifest']);
    const badSha = successData({ manifest: { ...successData().manifest, sha256: 'xyz', row_count: -1 } });
    const r2 = parseArchivalConfirmation(buildArchivalConfirmation(badSha, { producer: 'p' }));
    expect(r2.ok).toBe(false);
    if (!r2.ok)
      expect(r2.error.issues.map((i) => i.field).sort()).toEqual([
        'data.manifest.row_count',
        'data.manifest.sha256',
      ]);
  });

  it('accepts a FAILED with error details and no manifest', () => {
    const { manifest: _m, object: _o, ...base } = successData();
    const data = {
      ...base,
      status: 'FAILED' as const,
      error: { code: 'CHUNK_NOT_FOUND', message: 'gone', retryable: false },
    };
    const result = parseArchivalConfirmation(buildArchivalConfirmation(data, { producer: 'p' }));
    expect(result.ok).toBe(true);
  });

  it('refuses an unknown status with one clear issue', () => {
    const result = parseArchivalConfirmation(
      buildArchivalConfirmation(successData({ status: 'MAYBE' }) as never, { producer: 'p' }),
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.error.issues).toEqual([{ field: 'data.status', message: 'must be SUCCESS or FAILED' }]);
  });
});
