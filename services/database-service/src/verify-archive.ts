import type { ArchivalSuccess, ChunkIdentity } from '@chunk-archiver/events';
import { archiveKeys, type BlobStore, type Manifest, readManifest } from '@chunk-archiver/storage';
import { describeMismatches, manifestMismatches } from './ledger/identity.js';

export type VerifyOutcome =
  | { ok: true; manifest: Manifest; key: string; manifestKey: string }
  | { ok: false; code: string; message: string };

const refuse = (code: string, message: string): VerifyOutcome => ({ ok: false, code, message });

/**
 * Before anything is dropped: the archive must be where this manager's own ledger row says it
 * belongs (the key is derived from the row, never from the message), exist with the size and
 * sha256 its stored manifest records, and that manifest must name this very chunk. The
 * confirmation only says where to look: what it claims must match what is stored, and what the
 * ledger keeps is what was read from storage.
 */
export async function verifyArchive(
  store: BlobStore,
  prefix: string,
  expected: ChunkIdentity,
  confirmation: ArchivalSuccess['data'],
): Promise<VerifyOutcome> {
  const { object, manifest: claimed } = confirmation;
  if (object.backend !== store.backend || object.container !== store.container) {
    return refuse(
      'OBJECT_ELSEWHERE',
      `confirmed object is in ${object.backend}:${object.container}, this manager verifies ${store.backend}:${store.container}`,
    );
  }
  const keys = archiveKeys(prefix, expected);
  if (object.key !== keys.dataKey || object.manifest_key !== keys.manifestKey) {
    return refuse('KEY_MISMATCH', `confirmed key ${object.key} is not the chunk's key ${keys.dataKey}`);
  }
  const info = await store.stat(keys.dataKey);
  if (!info) return refuse('OBJECT_MISSING', `object ${keys.dataKey} does not exist`);
  let stored: Manifest;
  try {
    if (!(await store.stat(keys.manifestKey)))
      return refuse('MANIFEST_MISSING', `manifest ${keys.manifestKey} does not exist`);
    stored = await readManifest(store, keys.manifestKey);
  } catch (error) {
    return refuse(
      'MANIFEST_INVALID',
      `manifest ${keys.manifestKey} is unreadable: ${(error as Error).message}`,
    );
  }
  const source = manifestMismatches(expected, stored);
  if (source.length) {
    return refuse(
      'MANIFEST_SOURCE_MISMATCH',
      `manifest ${keys.manifestKey} describes another chunk: ${describeMismatches(source)}`,
    );
  }
  if (stored.object_key !== keys.dataKey)
    return refuse('MANIFEST_INVALID', `manifest ${keys.manifestKey} names object ${stored.object_key}`);
  if (info.bytes !== stored.bytes)
    return refuse(
      'SIZE_MISMATCH',
      `object ${keys.dataKey} has ${info.bytes} bytes, its manifest ${stored.bytes}`,
    );
  if (info.sha256 !== stored.sha256) {
    return refuse(
      'SHA256_MISMATCH',
      `object ${keys.dataKey} sha256 ${info.sha256 ?? 'unknown'} ≠ its manifest's ${stored.sha256}`,
    );
  }
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
