import { z } from 'zod';
import { createAzureBlobStore } from './azure-blob-store.js';
import type { BlobStore } from './blob-store.js';
import { createLocalBlobStore } from './local-blob-store.js';
import { createS3BlobStore } from './s3-blob-store.js';

/** Secrets are named by environment variable, never written in the config file. */
export const storageConfigSchema = z
  .object({
    backend: z.enum(['azure', 's3', 'local']).default('azure'),
    /** Leading path of every key, e.g. `archive`. */
    prefix: z.string().default('archive'),
    azure: z
      .object({
        container: z.string().min(3).max(63).default('archive'),
        connection_string_env: z.string().default('AZURE_STORAGE_CONNECTION_STRING'),
        account_url: z.string().url().optional(),
        account_key_env: z.string().optional(),
        block_size_mb: z.coerce.number().int().min(1).max(100).default(8),
      })
      .strict()
      .default({
        container: 'archive',
        connection_string_env: 'AZURE_STORAGE_CONNECTION_STRING',
        block_size_mb: 8,
      }),
    s3: z
      .object({
        bucket: z.string().min(3).max(63).default('archive'),
        region: z.string().default('us-east-1'),
        endpoint: z.string().url().optional(),
        force_path_style: z.boolean().optional(),
        access_key_id_env: z.string().default('AWS_ACCESS_KEY_ID'),
        secret_access_key_env: z.string().default('AWS_SECRET_ACCESS_KEY'),
        part_size_mb: z.coerce.number().int().min(5).max(512).default(8),
      })
      .strict()
      .default({
        bucket: 'archive',
        region: 'us-east-1',
        access_key_id_env: 'AWS_ACCESS_KEY_ID',
        secret_access_key_env: 'AWS_SECRET_ACCESS_KEY',
        part_size_mb: 8,
      }),
    local: z
      .object({ path: z.string().default('./.data/archive'), container: z.string().default('archive') })
      .strict()
      .default({ path: './.data/archive', container: 'archive' }),
  })
  .strict();

export type StorageConfig = z.infer<typeof storageConfigSchema>;

/** Environment variables that override single storage keys, in either service's config. */
export const STORAGE_ENV_OVERRIDES: Record<string, string> = {
  STORAGE_BACKEND: 'storage.backend',
  STORAGE_PREFIX: 'storage.prefix',
  AZURE_STORAGE_CONTAINER: 'storage.azure.container',
  S3_BUCKET: 'storage.s3.bucket',
  S3_ENDPOINT: 'storage.s3.endpoint',
  S3_REGION: 'storage.s3.region',
  LOCAL_STORAGE_PATH: 'storage.local.path',
};

/** Applies S3_FORCE_PATH_STYLE, a boolean the generic overrides cannot express. */
export function applyStorageEnvironment(storage: StorageConfig, env: NodeJS.ProcessEnv): void {
  const value = env.S3_FORCE_PATH_STYLE;
  if (value !== undefined && value !== '') storage.s3.force_path_style = /^(true|1|yes|on)$/i.test(value);
}

export async function createBlobStore(
  config: StorageConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BlobStore> {
  const MB = 1024 * 1024;
  switch (config.backend) {
    case 'azure': {
      const connectionString = env[config.azure.connection_string_env];
      const accountKey = config.azure.account_key_env ? env[config.azure.account_key_env] : undefined;
      if (!connectionString && !config.azure.account_url) {
        throw new Error(
          `storage.azure: set ${config.azure.connection_string_env} (storage.azure.connection_string_env) or storage.azure.account_url`,
        );
      }
      return createAzureBlobStore({
        container: config.azure.container,
        blockSize: config.azure.block_size_mb * MB,
        ...(connectionString ? { connectionString } : {}),
        ...(config.azure.account_url ? { accountUrl: config.azure.account_url } : {}),
        ...(accountKey ? { accountKey } : {}),
      });
    }
    case 's3': {
      const accessKeyId = env[config.s3.access_key_id_env];
      const secretAccessKey = env[config.s3.secret_access_key_env];
      return await createS3BlobStore({
        bucket: config.s3.bucket,
        region: config.s3.region,
        partSize: config.s3.part_size_mb * MB,
        ...(config.s3.endpoint ? { endpoint: config.s3.endpoint } : {}),
        ...(config.s3.force_path_style !== undefined ? { forcePathStyle: config.s3.force_path_style } : {}),
        ...(accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : {}),
      });
    }
    case 'local':
      return createLocalBlobStore({ root: config.local.path, container: config.local.container });
  }
}
