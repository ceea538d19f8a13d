import { describe, expect, it } from 'vitest';
import { securityWarnings } from '../src/index.js';

describe('securityWarnings', () => {
  it('names a missing event secret and a missing API token, and says nothing when both are set', () => {
    expect(securityWarnings({ eventSecret: undefined })).toEqual([
      expect.stringContaining('ARCHIVER_EVENT_SECRET is not set'),
    ]);
    expect(securityWarnings({ eventSecret: 'x', apiToken: undefined })).toEqual([
      expect.stringContaining('mutating routes answer only callers on loopback'),
    ]);
    expect(securityWarnings({ eventSecret: 'x', apiToken: undefined, allowUnauthenticated: true })).toEqual([
      expect.stringContaining('anyone who reaches the port'),
    ]);
    expect(securityWarnings({ eventSecret: 'x', apiToken: 't' })).toEqual([]);
  });
});
