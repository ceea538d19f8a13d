import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
// The SDK is loaded when an Azure store is created: a process using another backend never pays
// for it (about 25 MB resident).
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { BlobStore, ObjectInfo, UploadOptions, UploadResult } from './blob-store.js';
import { storageFailure } from './errors.js';
import { collect, hashing, rechunk } from './hashing.js';

export interface AzureBlobStoreOptions {
  container: string;
  /** One of: a connection string; an account URL with an account key; an account URL alone (DefaultAzureCredential). */
  connectionString?: string;
  accountUrl?: string;
  accountName?: string;
  accountKey?: string;
  /** Size of each staged block. Memory per upload is about one block. */
  blockSize?: number;
  /** Attempts per HTTP call inside the SDK (its own retry policy); the worker retries above this too. */
  maxTries?: number;
}

async function serviceClient(options: AzureBlobStoreOptions): Promise<BlobServiceClient> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const pipeline = { retryOptions: { maxTries: options.maxTries ?? 4 } };
  if (options.connectionString)
    return BlobServiceClient.fromConnectionString(options.connectionString, pipeline);
  if (!options.accountUrl) throw new Error('azure storage needs connection_string or account_url');
  if (options.accountKey) {
    const name = options.accountName ?? new URL(options.accountUrl).hostname.split('.')[0]!;
    return new BlobServiceClient(
      options.accountUrl,
      new StorageSharedKeyCredential(name, options.accountKey),
    );
  }
  // Managed identity, workload identity, az login...: loaded only when used.
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new BlobServiceClient(options.accountUrl, new DefaultAzureCredential(), pipeline);
}

const notFound = (error: unknown) => (error as { statusCode?: number } | null)?.statusCode === 404;

/** Block IDs must all have the same length within a blob. */
const blockId = (index: number) => Buffer.from(`block-${String(index).padStart(8, '0')}`).toString('base64');

/**
 * Azure Blob Storage. Uploads stage blocks and commit the list at the end: until the commit the
 * blob under the key is the old one (or none), and uncommitted blocks are discarded by Azure.
 */
export async function createAzureBlobStore(options: AzureBlobStoreOptions): Promise<BlobStore> {
  const service = await serviceClient(options);
  const container: ContainerClient = service.getContainerClient(options.container);
  const blockSize = options.blockSize ?? 8 * 1024 * 1024;

  async function upload(
    key: string,
    source: AsyncIterable<Uint8Array>,
    opts: UploadOptions = {},
  ): Promise<UploadResult> {
    const blob = container.getBlockBlobClient(key);
    const hashed = hashing(source);
    const ids: string[] = [];
    try {
      for await (const block of rechunk(hashed.stream, blockSize)) {
        const id = blockId(ids.length);
        await blob.stageBlock(id, block, block.length);
        ids.push(id);
      }
      const { bytes, sha256, md5 } = hashed.result();
      await blob.commitBlockList(ids, {
        blobHTTPHeaders: {
          blobContentType: opts.contentType ?? 'application/octet-stream',
          blobContentMD5: md5,
        },
        metadata: { ...opts.metadata, sha256 },
      });
      return { bytes, sha256 };
    } catch (error) {
      throw hashed.sourceError() ?? storageFailure('upload', key, error);
    }
  }

  /** `If-None-Match: *`: Azure answers 409 BlobAlreadyExists when the key is taken. */
  async function createExclusive(key: string, body: Buffer, opts: UploadOptions = {}): Promise<boolean> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    try {
      await container.getBlockBlobClient(key).upload(body, body.length, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: opts.contentType ?? 'application/octet-stream' },
        metadata: { ...opts.metadata, sha256 },
      });
      return true;
    } catch (error) {
      const status = (error as { statusCode?: number } | null)?.statusCode;
      if (status === 409 || status === 412) return false;
      throw storageFailure('exclusive create', key, error);
    }
  }

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const props = await container.getBlockBlobClient(key).getProperties();
      const metadata = props.metadata ?? {};
      return { key, bytes: props.contentLength ?? 0, sha256: metadata.sha256, metadata };
    } catch (error) {
      if (notFound(error)) return undefined;
      throw storageFailure('stat', key, error);
    }
  }

  async function readStream(key: string): Promise<Readable> {
    try {
      const response = await container.getBlockBlobClient(key).download();
      if (!response.readableStreamBody) throw new Error('no body');
      return response.readableStreamBody as Readable;
    } catch (error) {
      throw storageFailure('read', key, error);
    }
  }

  return {
    backend: 'azure',
    container: options.container,
    async ensureContainer() {
      try {
        await container.createIfNotExists();
      } catch (error) {
        throw storageFailure('create container', options.container, error);
      }
    },
    upload,
    createExclusive,
    stat,
    readStream,
    async read(key) {
      return collect(await readStream(key));
    },
    async remove(key) {
      try {
        await container.getBlockBlobClient(key).deleteIfExists();
      } catch (error) {
        throw storageFailure('delete', key, error);
      }
    },
    async *list(prefix) {
      for await (const item of container.listBlobsFlat({ prefix })) {
        yield { key: item.name, bytes: item.properties.contentLength ?? 0 };
      }
    },
    async ping() {
      try {
        await container.exists();
      } catch (error) {
        throw storageFailure('ping', options.container, error);
      }
    },
  };
}
