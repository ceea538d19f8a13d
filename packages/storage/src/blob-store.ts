import type { Readable } from 'node:stream';
import type { StorageBackendKind } from '@chunk-archiver/events';

export interface ObjectInfo {
  key: string;
  bytes: number;
  /** Hex sha256 of the content as recorded when it was written (computed on read for local disk). */
  sha256: string | undefined;
  metadata: Record<string, string>;
}

export interface UploadResult {
  bytes: number;
  sha256: string;
}

export interface UploadOptions {
  contentType?: string;
  metadata?: Record<string, string>;
}

/**
 * One object store. Every adapter makes the same promise: an object appears under its key only
 * once it is complete (a failed upload leaves the previous object, or nothing), and its size and
 * sha256 can be read back without downloading it.
 */
export interface BlobStore {
  readonly backend: StorageBackendKind;
  /** Container (Azure), bucket (S3) or directory (local). */
  readonly container: string;
  /** Creates the container/bucket/directory when missing. */
  ensureContainer(): Promise<void>;
  /** Streams the source to `key`, hashing as it goes, and records the sha256 with the object. */
  upload(key: string, source: AsyncIterable<Uint8Array>, options?: UploadOptions): Promise<UploadResult>;
  /**
   * Writes a small object only if nothing exists under `key` (S3 and Azure conditional put,
   * exclusive link on local disk): false, and nothing written, when the key is taken. What
   * optimistic commits (Iceberg metadata) are built on.
   */
  createExclusive(key: string, body: Buffer, options?: UploadOptions): Promise<boolean>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Whole object into memory: for manifests and small objects only. */
  read(key: string): Promise<Buffer>;
  readStream(key: string): Promise<Readable>;
  remove(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<{ key: string; bytes: number }>;
  /** Cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  close?(): Promise<void>;
}
