import { timingSafeEqual } from 'node:crypto';
import type { Logger, ReadinessReport } from '@chunk-archiver/common';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Registry } from 'prom-client';
import { RestoreError, UnknownTableError } from './errors.js';
import type { ReleaseReport } from './restore/release.js';
import type { RestoreReport, RestoreRequest } from './restore/restore.js';
import type { QueuedChunk } from './scanner.js';

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  /**
   * Bearer token for mutating routes. Without one they answer only callers on loopback, unless
   * `allowUnauthenticated` says an operator accepts anyone who reaches the port.
   */
  apiToken?: string | undefined;
  allowUnauthenticated?: boolean;
  /** Said by /ready (which stays 200 for them): what runs without the protection it should have. */
  warnings?: string[];
  readiness: () => Promise<ReadinessReport>;
  status: () => Promise<unknown>;
  /** Queues a table's expired chunks now; throws UnknownTableError for a table not configured. */
  trigger: (input: {
    table: string;
    database?: string | undefined;
    dryRun: boolean;
  }) => Promise<QueuedChunk[]>;
  /** Restores archived chunks; throws RestoreError for a request it refuses. */
  restore: (input: RestoreRequest & { database?: string | undefined }) => Promise<RestoreReport>;
  release: (input: { database?: string | undefined; id: string }) => Promise<ReleaseReport>;
}

/** How a refused restore answers: the request's fault, the state of the data, or nothing there. */
const RESTORE_STATUS: Record<string, number> = {
  NOTHING_ARCHIVED: 404,
  UNKNOWN_DATABASE: 404,
  UNKNOWN_RESTORE: 404,
  UNKNOWN_TARGET: 404,
  ROWS_EXIST: 409,
  NOT_HELD: 409,
  RANGE_CHANGED: 409,
  ARCHIVE_OVERLAP: 409,
  MANIFEST_INVALID: 409,
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  415: 'Unsupported Media Type',
};

const errorBody = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Builds the HTTP app from injected dependencies; main.ts wires the real ones. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: 16 * 1024,
    // Unknown parameters are refused, not silently dropped: a typo should not look like success.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: true },
    },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'chunk-archiver database-service',
        version: '0.1.0',
        description: 'Retention manager: status and manual triggers',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  // 4xx with a message that names the problem; never a stack trace, never a 500 for bad input.
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
    if (error instanceof UnknownTableError)
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: error.message });
    if (error instanceof RestoreError) {
      const code = RESTORE_STATUS[error.code] ?? (error.field ? 400 : 500);
      if (code !== 500)
        return reply.code(code).send({ statusCode: code, error: STATUS_TEXT[code], message: error.message });
    }
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      deps.logger.error({ err: error }, 'request failed');
      return reply.code(500).send({
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'internal error; see the service log',
      });
    }
    return reply.code(status).send({
      statusCode: status,
      // Other 4xx (401, 413, ...) have always answered 'Bad Request' here.
      error: status === 415 ? STATUS_TEXT[415] : STATUS_TEXT[400],
      message: error.message,
    });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );

  function requireToken(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (!deps.apiToken) {
      if (deps.allowUnauthenticated || isLoopback(request.socket.remoteAddress ?? request.ip)) {
        done();
        return;
      }
      void reply.code(403).send({
        statusCode: 403,
        error: 'Forbidden',
        message:
          'without API_TOKEN, mutating routes answer only on loopback; set API_TOKEN (or service.allow_unauthenticated: true)',
      });
      return;
    }
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    const expected = Buffer.from(deps.apiToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' });
      return;
    }
    done();
  }

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok', service: 'database-service' }));

  app.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((c) => c.ok);
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', checks, warnings: deps.warnings ?? [] });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );

  app.get(
    '/database/retention/status',
    {
      schema: {
        summary: 'Chunks by state per database and table, scans, failures',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => deps.status(),
  );

  app.post<{ Querystring: { table_name: string; database?: string; dry_run?: boolean } }>(
    '/database/retention/trigger-archival',
    {
      onRequest: requireToken,
      schema: {
        summary: "Queue a table's expired chunks for archival now",
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          required: ['table_name'],
          additionalProperties: false,
          properties: {
            table_name: {
              type: 'string',
              minLength: 1,
              maxLength: 130,
              pattern: '^[^\\u0000-\\u001f]+$',
              description: 'table or schema.table',
            },
            database: {
              type: 'string',
              minLength: 1,
              maxLength: 63,
              pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$',
            },
            dry_run: { type: 'boolean', default: false },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              table: { type: 'string' },
              dry_run: { type: 'boolean' },
              queued: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    database: { type: 'string' },
                    table: { type: 'string' },
                    chunk: { type: 'string' },
                    range_start: { type: 'string' },
                    range_end: { type: 'string' },
                    event_id: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          400: errorBody,
          401: errorBody,
          404: errorBody,
        },
      },
    },
    async (request) => {
      const { table_name, database, dry_run } = request.query;
      const queued = await deps.trigger({ table: table_name, database, dryRun: dry_run ?? false });
      return { table: table_name, dry_run: dry_run ?? false, queued };
    },
  );

  const restoreReport = { type: 'object', additionalProperties: true } as const;

  app.post<{
    Body: {
      table: string;
      from: string;
      to: string;
      database?: string;
      into?: string;
      dry_run?: boolean;
      skip_existing?: boolean;
    };
  }>(
    '/database/retention/restore',
    {
      onRequest: requireToken,
      schema: {
        summary: 'Load archived chunks overlapping [from, to) back into the table (or into another)',
        description:
          'Works in whole chunks. Each chunk is checked against its manifest (sha256, row count, content checksum) in its own transaction. Rows already in the range are refused unless skip_existing.',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['table', 'from', 'to'],
          additionalProperties: false,
          properties: {
            table: { type: 'string', minLength: 1, maxLength: 130, pattern: '^[^\\u0000-\\u001f]+$' },
            from: {
              type: 'string',
              minLength: 1,
              maxLength: 40,
              description: 'ISO 8601 time, or an integer',
            },
            to: { type: 'string', minLength: 1, maxLength: 40, description: 'exclusive' },
            database: {
              type: 'string',
              minLength: 1,
              maxLength: 63,
              pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$',
            },
            into: { type: 'string', minLength: 1, maxLength: 130, pattern: '^[^\\u0000-\\u001f]+$' },
            dry_run: { type: 'boolean', default: false },
            skip_existing: { type: 'boolean', default: false },
          },
        },
        response: { 200: restoreReport, 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => {
      const body = request.body;
      return deps.restore({
        table: body.table,
        from: body.from,
        to: body.to,
        database: body.database,
        into: body.into,
        dryRun: body.dry_run ?? false,
        skipExisting: body.skip_existing ?? false,
        requestedBy: 'http',
      });
    },
  );

  app.post<{ Params: { id: string }; Querystring: { database?: string } }>(
    '/database/retention/restores/:id/release',
    {
      onRequest: requireToken,
      schema: {
        summary: 'Delete the rows of a restore into a managed table again, once they still match the archive',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,18}$' } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            database: {
              type: 'string',
              minLength: 1,
              maxLength: 63,
              pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$',
            },
          },
        },
        response: { 200: restoreReport, 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => deps.release({ id: request.params.id, database: request.query.database }),
  );

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
