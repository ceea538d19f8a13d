import type { ArchivalSuccess } from '@chunk-archiver/events';
import { archiveKeys, type BlobStore, type Manifest, readManifest } from '@chunk-archiver/storage';

export type VerifyOutcome = { ok: true } | { ok: false; code: string; message: string };

/**
 * Before anything is dropped: the confirmed object must be where this manager expects it, exist
 * with the confirmed size and sha256, and have a manifest beside it that says the same.
 */
export async function verifyArchive(
  store: BlobStore,
  prefix: string,
  confirmation: ArchivalSuccess['data'],
): Promise<VerifyOutcome> {
  const { object, manifest } = confirmation;
  if (object.backend !== store.backend || object.container !== store.container) {
    return {
      ok: false,
      code: 'OBJECT_ELSEWHERE',
      message: `confirmed object is in ${object.backend}:${object.container}, this manager verifies ${store.backend}:${store.container}`,
    };
  }
  const expected = archiveKeys(prefix, confirmation);
  if (object.key !== expected.dataKey || object.manifest_key !== expected.manifestKey) {
    return {
      ok: false,
      code: 'KEY_MISMATCH',
      message: `confirmed key ${object.key} is not the chunk's key ${expected.dataKey}`,
    };
  }
  const info = await store.stat(object.key);
  if (!info) return { ok: false, code: 'OBJECT_MISSING', message: `object ${object.key} does not exist` };
  if (info.bytes !== manifest.bytes) {
    return {
      ok: false,
      code: 'SIZE_MISMATCH',
      message: `object ${object.key} has ${info.bytes} bytes, confirmed ${manifest.bytes}`,
    };
  }
  if (info.sha256 !== manifest.sha256) {
    return {
      ok: false,
      code: 'SHA256_MISMATCH',
      message: `object ${object.key} sha256 ${info.sha256 ?? 'unknown'} ≠ confirmed ${manifest.sha256}`,
    };
  }
  let stored: Manifest;
  try {
    if (!(await store.stat(object.manifest_key))) {
      return {
        ok: false,
        code: 'MANIFEST_MISSING',
        message: `manifest ${object.manifest_key} does not exist`,
      };
    }
    stored = await readManifest(store, object.manifest_key);
  } catch (error) {
    return {
      ok: false,
      code: 'MANIFEST_INVALID',
      message: `manifest ${object.manifest_key} is unreadable: ${(error as Error).message}`,
    };
  }
  if (
    stored.sha256 !== manifest.sha256 ||
    stored.bytes !== manifest.bytes ||
    stored.row_count !== manifest.row_count ||
    stored.content_checksum !== manifest.content_checksum ||
    stored.object_key !== object.key
  ) {
    return {
      ok: false,
      code: 'MANIFEST_MISMATCH',
      message: `manifest ${object.manifest_key} does not match the confirmation`,
    };
  }
  return { ok: true };
}
