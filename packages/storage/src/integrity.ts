import type { BlobStore } from './blob-store.js';
import { MANIFEST_SUFFIX } from './keys.js';
import { CHECKSUM_DEFINITION, MANIFEST_VERSION, type Manifest, readManifest } from './manifest.js';

/**
 * Every way an archived object can fail to be what its manifest says, with what each means. One
 * table for the worker's read-back, the drop's verification, `verify` and restore, so a code
 * means the same wherever it is reported.
 */
export const INTEGRITY_CODES = {
  OBJECT_MISSING: 'the data object does not exist',
  MANIFEST_MISSING: 'no manifest beside the data object',
  MANIFEST_INVALID: 'the manifest is not a readable manifest',
  MANIFEST_KEY_MISMATCH: 'the manifest describes another object than the one beside it',
  SIZE_MISMATCH: 'the object is not the size its manifest records',
  SHA256_MISMATCH: "the object's bytes do not hash to its manifest's sha256",
  STORED_SHA256_MISMATCH: 'the sha256 stored with the object at upload no longer matches (changed in place)',
  READ_FAILED: 'the object could not be read',
} as const;

export type IntegrityCode = keyof typeof INTEGRITY_CODES;

export interface IntegrityProblem {
  code: IntegrityCode;
  /** The object or manifest at fault. */
  key: string;
  message: string;
}

const problem = (code: IntegrityCode, key: string, message: string): IntegrityProblem => ({
  code,
  key,
  message,
});

/** What an archived object is expected to be: from a manifest, or from what the writer wrote. */
export interface ExpectedObject {
  object_key: string;
  bytes: number;
  sha256: string;
}

/**
 * The object as storage describes it (no download): it exists, with the size and the sha256 that
 * were recorded with it at upload. What the worker reads back after writing, and what the drop
 * checks before trusting a confirmation.
 */
export async function checkStoredObject(
  store: BlobStore,
  expected: ExpectedObject,
): Promise<IntegrityProblem | undefined> {
  const key = expected.object_key;
  const info = await store.stat(key);
  if (!info) return problem('OBJECT_MISSING', key, `object ${key} does not exist`);
  if (info.bytes !== expected.bytes)
    return problem('SIZE_MISMATCH', key, `object ${key} has ${info.bytes} bytes; expected ${expected.bytes}`);
  if (info.sha256 !== expected.sha256) {
    return problem(
      'SHA256_MISMATCH',
      key,
      `object ${key} is stored with sha256 ${info.sha256 ?? 'unknown'}; expected ${expected.sha256}`,
    );
  }
  return undefined;
}

/**
 * The object's bytes as just downloaded and hashed, against its manifest and against the sha256
 * stored with it: what `verify` and restore check before they read a single row.
 */
export function checkFetchedBytes(
  fetched: { bytes: number; sha256: string },
  expected: ExpectedObject,
  storedSha256?: string | undefined,
): IntegrityProblem[] {
  const key = expected.object_key;
  const found: IntegrityProblem[] = [];
  if (fetched.bytes !== expected.bytes)
    found.push(problem('SIZE_MISMATCH', key, `${fetched.bytes} bytes; the manifest says ${expected.bytes}`));
  if (fetched.sha256 !== expected.sha256)
    found.push(
      problem('SHA256_MISMATCH', key, `sha256 ${fetched.sha256}; the manifest says ${expected.sha256}`),
    );
  if (storedSha256 && storedSha256 !== fetched.sha256) {
    found.push(
      problem(
        'STORED_SHA256_MISMATCH',
        key,
        `the sha256 stored with the object is ${storedSha256}; its bytes hash to ${fetched.sha256}`,
      ),
    );
  }
  return found;
}

/**
 * The manifest at `manifestKey`, checked to describe the object beside it; or why there is none to
 * trust (missing, unreadable), or why it is not to be trusted as is (about another object).
 */
export async function readManifestAt(
  store: BlobStore,
  manifestKey: string,
): Promise<
  { manifest: Manifest; problem?: IntegrityProblem } | { manifest?: undefined; problem: IntegrityProblem }
> {
  const dataKey = manifestKey.slice(0, -MANIFEST_SUFFIX.length);
  let manifest: Manifest;
  try {
    if (!(await store.stat(manifestKey)))
      return { problem: problem('MANIFEST_MISSING', dataKey, `manifest ${manifestKey} does not exist`) };
    manifest = await readManifest(store, manifestKey);
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return {
      problem: problem('MANIFEST_INVALID', manifestKey, `manifest ${manifestKey} is unreadable: ${message}`),
    };
  }
  if (manifest.object_key !== dataKey) {
    return {
      manifest,
      problem: problem(
        'MANIFEST_KEY_MISMATCH',
        manifestKey,
        `manifest ${manifestKey} describes ${manifest.object_key}, not the object beside it`,
      ),
    };
  }
  return { manifest };
}

/** Everything a manifest records that the writer knows; the rest is fixed here. */
export type ManifestInput = Omit<Manifest, 'manifest_version' | 'checksum_definition' | 'created_at'>;

/** The manifest for a written object, in the one shape every reader expects. */
export function buildManifest(input: ManifestInput, now = new Date()): Manifest {
  return {
    manifest_version: MANIFEST_VERSION,
    ...input,
    checksum_definition: CHECKSUM_DEFINITION,
    created_at: now.toISOString(),
  };
}
