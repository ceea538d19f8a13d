import type { Logger } from '@chunk-archiver/common';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { RestoreError, UnknownTableError } from '../errors.js';

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

export const errorBody = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

/**
 * 4xx with a message that names the problem; never a stack trace, never a 500 for bad input. An
 * unexpected failure is logged and answers a bare 500.
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance, deps: { logger: Logger }) => {
    app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
      if (error instanceof UnknownTableError)
        return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: error.message });
      if (error instanceof RestoreError) {
        const code = RESTORE_STATUS[error.code] ?? (error.field ? 400 : 500);
        if (code !== 500)
          return reply
            .code(code)
            .send({ statusCode: code, error: STATUS_TEXT[code], message: error.message });
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
  },
  { name: 'chunk-archiver-errors' },
);
