export { type AzureBlobStoreOptions, createAzureBlobStore } from './azure-blob-store.js';
export type { BlobStore, ObjectInfo, UploadOptions, UploadResult } from './blob-store.js';
export {
  applyStorageEnvironment,
  createBlobStore,
  STORAGE_ENV_OVERRIDES,
  type StorageConfig,
  storageConfigSchema,
} from './config.js';
export { isRetryableStorageFailure, StorageError, storageFailure } from './errors.js';
export { hashing, rechunk, sha256Of } from './hashing.js';
export {
  buildManifest,
  checkFetchedBytes,
  checkStoredObject,
  type ExpectedObject,
  INTEGRITY_CODES,
  type IntegrityCode,
  type IntegrityProblem,
  type ManifestInput,
  readManifestAt,
} from './integrity.js';
export {
  type ArchiveKeys,
  type ArchiveLayout,
  archiveKeys,
  MANIFEST_SUFFIX,
  tableArchivePrefix,
} from './keys.js';
export { createLocalBlobStore, type LocalBlobStoreOptions } from './local-blob-store.js';
export {
  CHECKSUM_DEFINITION,
  MANIFEST_VERSION,
  type Manifest,
  manifestIdentity,
  manifestPlace,
  manifestSchema,
  readManifest,
} from './manifest.js';
export { createS3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';
