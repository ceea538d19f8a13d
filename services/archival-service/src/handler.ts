import {
  type BackoffOptions,
  backoffDelay,
  coerceError,
  failpoint,
  type Logger,
  sleep,
  withDeadline,
} from '@chunk-archiver/common';
import {
  type ArchivalFailure,
  type ArchivalRequest,
  type ArchivalSuccess,
  buildArchivalConfirmation,
  TOPICS,
} from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { type ArchiveSettings, archiveChunk } from './archive-chunk.js';
import { checkChunk } from './catalog-check.js';
import type { ChunkLocks } from './chunk-lock.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { type Classified, classifyFailure } from './classify.js';
import { ArchiveError } from './errors.js';
import type { ArchivalMetrics } from './metrics.js';

export interface SourceDatabase {
  /** Pool used for extraction (the read replica when configured). */
  sql: postgres.Sql;
  allowedTables: string[];
  breaker: CircuitBreaker;
}

export interface HandlerDeps {
  databases: Map<string, SourceDatabase>;
  store: BlobStore;
  storageBreaker: CircuitBreaker;
  settings: ArchiveSettings;
  publish: (topic: string, event: unknown) => Promise<unknown>;
  locks: ChunkLocks;
  retry: BackoffOptions & { attempts: number };
  metrics: ArchivalMetrics;
  logger: Logger;
  producer: string;
  secret?: string | undefined;
  /** Aborted at shutdown: work in retry back-off stops, and its message is left for redelivery. */
  signal: AbortSignal;
}

/** The catalog check is a few small queries: a database that cannot answer them in this long is not well. */
const CATALOG_CHECK_TIMEOUT_MS = 15_000;

/** One request being handled: what it asks, where from, and how to answer. */
interface Job {
  deps: HandlerDeps;
  event: ArchivalRequest;
  database: SourceDatabase;
  log: Logger;
}

/** What a confirmation echoes: the request's chunk identity, which request, which attempt. */
function answering(event: ArchivalRequest) {
  const { attempt, requested_at: _requestedAt, archive_format: _format, ...identity } = event.data;
  return { ...identity, request_event_id: event.event_id, attempt };
}

async function confirm(
  deps: HandlerDeps,
  data: ArchivalSuccess['data'] | ArchivalFailure['data'],
): Promise<void> {
  await deps.publish(
    TOPICS.archivalConfirmation,
    buildArchivalConfirmation(data, { producer: deps.producer, secret: deps.secret }),
  );
}

async function confirmFailure(deps: HandlerDeps, event: ArchivalRequest, log: Logger, failure: Classified) {
  await confirm(deps, {
    ...answering(event),
    completed_at: new Date().toISOString(),
    status: 'FAILED',
    error: { code: failure.code, message: failure.message.slice(0, 4000), retryable: failure.retryable },
  });
  deps.metrics.failed(event.data.database, failure.code);
  log.warn(
    { code: failure.code, retryable: failure.retryable, err_message: failure.message },
    'archival failed',
  );
}

/** A dependency that failed again and again is not tried until its breaker lets it. */
function openCircuit(job: Job): Classified | undefined {
  const { deps, database, event } = job;
  const retryIn = (ms: number) => Math.ceil(ms / 1000);
  if (!database.breaker.allow()) {
    return {
      code: 'CIRCUIT_OPEN',
      message: `database ${event.data.database} failed repeatedly; retry in ${retryIn(database.breaker.retryInMs())} s`,
      retryable: true,
      blame: 'none',
    };
  }
  if (!deps.storageBreaker.allow()) {
    database.breaker.abandon();
    return {
      code: 'CIRCUIT_OPEN',
      message: `storage ${deps.store.backend} failed repeatedly; retry in ${retryIn(deps.storageBreaker.retryInMs())} s`,
      retryable: true,
      blame: 'none',
    };
  }
  return undefined;
}

/** A failure counts against the dependency it is blamed on, and releases the other breaker's probe. */
function blame(job: Job, failure: Classified): void {
  const { database, deps } = job;
  if (failure.blame === 'database') {
    database.breaker.failure();
    deps.storageBreaker.abandon();
  } else if (failure.blame === 'storage') {
    deps.storageBreaker.failure();
    database.breaker.success();
  } else {
    database.breaker.abandon();
    deps.storageBreaker.abandon();
  }
}

/** One attempt: the catalog check, the archive, and the SUCCESS confirmation. */
async function archiveOnce(job: Job, started: number): Promise<void> {
  const { deps, database, event, log } = job;
  const request = event.data;
  await withDeadline(
    checkChunk(database.sql, request, { allowedTables: database.allowedTables }),
    CATALOG_CHECK_TIMEOUT_MS,
    `database ${request.database}: catalog check`,
  );
  const result = await archiveChunk(
    { sql: database.sql, store: deps.store, settings: deps.settings },
    request,
    event.event_id,
  );
  database.breaker.success();
  deps.storageBreaker.success();
  await failpoint('archive.before-confirm', {
    database: request.database,
    chunk: `${request.chunk_schema}.${request.chunk_name}`,
  });
  await confirm(deps, {
    ...answering(event),
    completed_at: new Date().toISOString(),
    status: 'SUCCESS',
    object: result.object,
    manifest: result.manifest,
  });
  const seconds = (performance.now() - started) / 1000;
  deps.metrics.archived(request.database, result.manifest.row_count, result.manifest.bytes, seconds);
  log.info(
    {
      rows: result.manifest.row_count,
      bytes: result.manifest.bytes,
      key: result.object.key,
      seconds,
      timings: result.timings,
    },
    'chunk archived and verified',
  );
}

/** Attempts with back-off until one succeeds, a failure is final, or the attempts run out. */
async function archiveWithRetries(job: Job): Promise<void> {
  const { deps, event, log } = job;
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    if (deps.signal.aborted)
      throw new ArchiveError('SHUTTING_DOWN', 'shutting down; leaving the request for redelivery');
    const open = openCircuit(job);
    if (open) return confirmFailure(deps, event, log, open);
    try {
      return await archiveOnce(job, started);
    } catch (error) {
      const failure = classifyFailure(error);
      blame(job, failure);
      if (!failure.retryable || attempt >= deps.retry.attempts)
        return confirmFailure(deps, event, log, failure);
      const delay = backoffDelay(attempt, deps.retry);
      log.warn(
        { code: failure.code, err: coerceError(error), attempt, retry_in_ms: delay },
        'archival attempt failed; retrying',
      );
      if (!(await sleep(delay, deps.signal))) {
        throw new ArchiveError(
          'SHUTTING_DOWN',
          'shutting down during retry back-off; leaving the request for redelivery',
        );
      }
    }
  }
}

/**
 * Handles one archival request end to end and publishes its confirmation. Returning means "ack":
 * it returns only once a confirmation is published. Throwing (the chunk locked elsewhere, a
 * shutdown) leaves the message pending for redelivery.
 */
export function createRequestHandler(deps: HandlerDeps) {
  return async function handle(event: ArchivalRequest): Promise<void> {
    const request = event.data;
    const chunk = `${request.chunk_schema}.${request.chunk_name}`;
    const log = deps.logger.child({ database: request.database, chunk, event_id: event.event_id });
    const database = deps.databases.get(request.database);
    if (!database) {
      return confirmFailure(deps, event, log, {
        code: 'DATABASE_NOT_CONFIGURED',
        message: `database ${request.database} is not configured in this archival-service`,
        retryable: false,
        blame: 'none',
      });
    }
    const lock = await deps.locks.acquire(`${request.database}:${chunk}`);
    if (!lock) {
      // Another worker holds the chunk, or held it and died (its lock outlives it by up to the
      // TTL). Not acked: the request comes back after the visibility timeout, by when the lock is
      // free or its holder has confirmed. Acking it here lost the request when the holder had died.
      log.info('chunk is locked by another worker; leaving the request for redelivery');
      throw new ArchiveError('CHUNK_BUSY', `chunk ${chunk} is locked by another worker`);
    }
    deps.metrics.started();
    try {
      await archiveWithRetries({ deps, event, database, log });
    } finally {
      deps.metrics.finished();
      await lock.release();
    }
  };
}
