import type { ArchivalSuccess, ChunkIdentity } from '@chunk-archiver/events';
import {
  type ArchiveLayout,
  archiveKeys,
  type BlobStore,
  checkStoredObject,
  type IntegrityCode,
  type Manifest,
  readManifestAt,
} from '@chunk-archiver/storage';
import { describeMismatches, manifestMismatches } from './ledger/identity.js';

/** Codes of its own beside the archive-integrity ones: the confirmation or the manifest's subject is wrong. */
export type VerifyCode =
  | IntegrityCode
  | 'OBJECT_ELSEWHERE'
  | 'KEY_MISMATCH'
  | 'MANIFEST_SOURCE_MISMATCH'
  | 'MANIFEST_MISMATCH';

export type VerifyOutcome =
  | { ok: true; manifest: Manifest; key: string; manifestKey: string }
  | { ok: false; code: VerifyCode; message: string };

const refuse = (code: VerifyCode, message: string): VerifyOutcome => ({ ok: false, code, message });

/**
 * Before anything is dropped: the archive must be where this manager's own ledger row says it
 * belongs (the key is derived from the row, never from the message), its stored manifest must
 * name this very chunk, and the object must have the size and sha256 that manifest records. The
 * confirmation only says where to look: what it claims must match what is stored, and what the
 * ledger keeps is what was read from storage.
 */
export async function verifyArchive(
  store: BlobStore,
  prefix: string,
  expected: ChunkIdentity,
  confirmation: ArchivalSuccess['data'],
  layout: ArchiveLayout = { format: 'parquet' },
): Promise<VerifyOutcome> {
  const { object, manifest: claimed } = confirmation;
  if (object.backend !== store.backend || object.container !== store.container) {
    return refuse(
      'OBJECT_ELSEWHERE',
      `confirmed object is in ${object.backend}:${object.container}, this manager verifies ${store.backend}:${store.container}`,
    );
  }
  const keys = archiveKeys(prefix, expected, layout);
  if (object.key !== keys.dataKey || object.manifest_key !== keys.manifestKey) {
    return refuse('KEY_MISMATCH', `confirmed key ${object.key} is not the chunk's key ${keys.dataKey}`);
  }
  if (!(await store.stat(keys.dataKey)))
    return refuse('OBJECT_MISSING', `object ${keys.dataKey} does not exist`);
  const read = await readManifestAt(store, keys.manifestKey);
  if (read.problem || !read.manifest) return refuse(read.problem!.code, read.problem!.message);
  const stored = read.manifest;
  const source = manifestMismatches(expected, stored);
  if (source.length) {
    return refuse(
      'MANIFEST_SOURCE_MISMATCH',
      `manifest ${keys.manifestKey} describes another chunk: ${describeMismatches(source)}`,
    );
  }
  const problem = await checkStoredObject(store, stored);
  if (problem) return refuse(problem.code, problem.message);
  if (
    claimed.sha256 !== stored.sha256 ||
    claimed.bytes !== stored.bytes ||
    claimed.row_count !== stored.row_count ||
    claimed.content_checksum !== stored.content_checksum
  ) {
    return refuse('MANIFEST_MISMATCH', `manifest ${keys.manifestKey} does not match the confirmation`);
  }
  return { ok: true, manifest: stored, key: keys.dataKey, manifestKey: keys.manifestKey };
}
