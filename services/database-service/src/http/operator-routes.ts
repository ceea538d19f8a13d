import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { DeadLetters } from '../operations/dead-letters.js';
import type { RetriedChunk, RetryInput } from '../operations/retry.js';
import { errorBody } from './errors.js';

export interface OperatorRoutesOptions {
  retry: (input: RetryInput) => Promise<RetriedChunk[]>;
  deadLetters: DeadLetters;
  guard: onRequestHookHandler;
}

const reason = {
  type: 'string',
  minLength: 1,
  maxLength: 500,
  description: 'why: kept on the chunk history',
};
const database = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' };
const topic = { type: 'string', minLength: 1, maxLength: 100 };
const streamId = { type: 'string', pattern: '^\\d{1,20}-\\d{1,20}$', description: 'the dead letter id' };
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const retriedList = {
  type: 'object',
  properties: { retried: { type: 'array', items: { type: 'object', additionalProperties: true } } },
};

/** Retry failed/dead chunks and work the dead-letter streams, without SQL or redis-cli. */
export async function operatorRoutes(app: FastifyInstance, deps: OperatorRoutesOptions): Promise<void> {
  app.post<{ Params: { id: string }; Querystring: { database?: string }; Body: { reason: string } }>(
    '/database/retention/chunks/:id/retry',
    {
      onRequest: deps.guard,
      schema: {
        summary: 'Re-queue one failed or dead chunk (its id is in status failures[])',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^\\d{1,18}$' } } },
        querystring: { type: 'object', additionalProperties: false, properties: { database } },
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason } },
        response: { 200: retriedList, ...errors },
      },
    },
    async (request) => ({
      retried: await deps.retry({
        id: request.params.id,
        database: request.query.database,
        reason: request.body.reason,
      }),
    }),
  );

  app.post<{ Body: Omit<RetryInput, 'id'> }>(
    '/database/retention/retry',
    {
      onRequest: deps.guard,
      schema: {
        summary: 'Re-queue the failed and/or dead chunks of a table (or of all tables)',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: {
            table: { type: 'string', minLength: 1, maxLength: 130 },
            all: { type: 'boolean' },
            state: { type: 'string', enum: ['failed', 'dead'] },
            database,
            reason,
          },
        },
        response: { 200: retriedList, ...errors },
      },
    },
    async (request) => ({ retried: await deps.retry(request.body) }),
  );

  app.get<{ Querystring: { topic?: string; limit?: number } }>(
    '/database/retention/dead-letters',
    {
      schema: {
        summary: 'Dead letters per topic: counts, and the newest with their reason',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { topic, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request) => deps.deadLetters.list(request.query.topic, request.query.limit),
  );

  app.get<{ Params: { topic: string; id: string } }>(
    '/database/retention/dead-letters/:topic/:id',
    {
      schema: {
        summary: 'One dead letter, with all of its payload that was kept',
        params: { type: 'object', properties: { topic, id: streamId } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request) => deps.deadLetters.show(request.params.topic, request.params.id),
  );

  app.post<{ Params: { topic: string; id: string } }>(
    '/database/retention/dead-letters/:topic/:id/replay',
    {
      onRequest: deps.guard,
      schema: {
        summary: 'Validate a dead letter again and, if it passes, publish it to its topic',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { topic, id: streamId } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request) => deps.deadLetters.replay(request.params.topic, request.params.id),
  );

  app.delete<{ Params: { topic: string }; Querystring: { id?: string } }>(
    '/database/retention/dead-letters/:topic',
    {
      onRequest: deps.guard,
      schema: {
        summary: "Purge a topic's dead letters (or one, with ?id=)",
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { topic } },
        querystring: { type: 'object', additionalProperties: false, properties: { id: streamId } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request) => deps.deadLetters.purge(request.params.topic, request.query.id),
  );
}
