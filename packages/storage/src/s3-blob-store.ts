import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStore, ObjectInfo, UploadOptions, UploadResult } from './blob-store.js';
import { storageFailure } from './errors.js';
import { collect, hashing } from './hashing.js';

export interface S3BlobStoreOptions {
  bucket: string;
  region?: string;
  /** For S3-compatible stores (MinIO, s3rver, R2...). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Omit both to use the SDK's default chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  partSize?: number;
}

const isNotFound = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Amazon S3 and compatible stores. Multipart uploads are invisible until completed and are
 * aborted on failure. The sha256 is known only at the end, so it is attached by copying the object
 * onto itself with replaced metadata (objects up to 5 GiB, far above a chunk's usual size).
 */
export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<BlobStore> {
  // Loaded when an S3 store is created: a process using another backend never pays for the SDK.
  const {
    CopyObjectCommand,
    CreateBucketCommand,
    DeleteObjectCommand,
    GetObjectCommand,
    HeadBucketCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
  } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
    // s3rver and some compatible stores reject the newer default checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = options.bucket;

  async function upload(
    key: string,
    source: AsyncIterable<Uint8Array>,
    opts: UploadOptions = {},
  ): Promise<UploadResult> {
    const hashed = hashing(source);
    const contentType = opts.contentType ?? 'application/octet-stream';
    try {
      const transfer = new Upload({
        client,
        params: { Bucket, Key: key, Body: Readable.from(hashed.stream), ContentType: contentType },
        partSize: Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024),
        queueSize: 2,
        leavePartsOnError: false,
      });
      await transfer.done();
      const { bytes, sha256 } = hashed.result();
      await client.send(
        new CopyObjectCommand({
          Bucket,
          Key: key,
          // encodeURI keeps `/` and `=` (Hive paths) as they are and escapes `%`; S3 and
          // s3rver (which decodes with decodeURI) both read it back to the same key.
          CopySource: encodeURI(`${Bucket}/${key}`),
          MetadataDirective: 'REPLACE',
          ContentType: contentType,
          Metadata: { ...opts.metadata, sha256 },
        }),
      );
      return { bytes, sha256 };
    } catch (error) {
      throw hashed.sourceError() ?? storageFailure('upload', key, error);
    }
  }

  /** `If-None-Match: *` on PUT: S3 answers 412 (or 409 while a racing put is in flight). */
  async function createExclusive(key: string, body: Buffer, opts: UploadOptions = {}): Promise<boolean> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    try {
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key: key,
          Body: body,
          IfNoneMatch: '*',
          ContentType: opts.contentType ?? 'application/octet-stream',
          Metadata: { ...opts.metadata, sha256 },
        }),
      );
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw storageFailure('exclusive create', key, error);
    }
  }

  async function stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: key }));
      const metadata = head.Metadata ?? {};
      return { key, bytes: head.ContentLength ?? 0, sha256: metadata.sha256, metadata };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageFailure('stat', key, error);
    }
  }

  async function readStream(key: string): Promise<Readable> {
    try {
      const response = await client.send(new GetObjectCommand({ Bucket, Key: key }));
      return response.Body as Readable;
    } catch (error) {
      throw storageFailure('read', key, error);
    }
  }

  return {
    backend: 's3',
    container: Bucket,
    async ensureContainer() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (error) {
        if (!isNotFound(error)) throw storageFailure('head bucket', Bucket, error);
        await client.send(new CreateBucketCommand({ Bucket })).catch((e: unknown) => {
          throw storageFailure('create bucket', Bucket, e);
        });
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
        await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
      } catch (error) {
        throw storageFailure('delete', key, error);
      }
    },
    async *list(prefix) {
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const item of page.Contents ?? []) yield { key: item.Key ?? '', bytes: item.Size ?? 0 };
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async ping() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (error) {
        throw storageFailure('ping', Bucket, error);
      }
    },
    async close() {
      client.destroy();
    },
  };
}
