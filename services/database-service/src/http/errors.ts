import type { Logger } from '@chunk-archiver/common';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { OperatorError, RestoreError, UnknownTableError } from '../errors.js';

/** How a refused restore answers: the request's fault, the state of the data, or nothing there. */
const RESTORE_STATUS: Record<string, number> = {
  NOTHING_ARCHIVED: 404,
  UNKNOWN_DATABASE: 404,
  UNKNOWN_RESTORE: 404,
  UNKNOWN_TARGET: 404,
  ROWS_EXIST: 409,
  NOT_HELD: 409,
  RESTORE_RUNNING: 409,
  RANGE_CHANGED: 409,
  ARCHIVE_OVERLAP: 409,
  MANIFEST_INVALID: 409,
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
};

/** An error body never grows past this: a message quoting a huge input is cut. */
const MAX_MESSAGE = 1_000;
const bounded = (message: string) =>
  message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}… (${message.length} characters)` : message;

function send(reply: FastifyReply, status: number, message: string) {
  return reply
    .code(status)
    .send({ statusCode: status, error: STATUS_TEXT[status] ?? 'Bad Request', message: bounded(message) });
}

/** Route patterns (`/a/:id/b`) as regular expressions, to tell an unknown path from a wrong method. */
function patternOf(url: string): RegExp {
  const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`);
}

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
    const routes: Array<{ methods: string[]; pattern: RegExp }> = [];
    app.addHook('onRoute', (route) => {
      const methods = ([] as string[]).concat(route.method);
      routes.push({ methods, pattern: patternOf(route.url) });
    });
    app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
      if (error instanceof UnknownTableError) return send(reply, 404, error.message);
      if (error instanceof OperatorError) return send(reply, error.status, error.message);
      if (error instanceof RestoreError) {
        const code = RESTORE_STATUS[error.code] ?? (error.field ? 400 : 500);
        if (code !== 500) return send(reply, code, error.message);
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
      return send(reply, status, error.message);
    });
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      const allowed = [
        ...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods)),
      ].filter((m) => m !== 'HEAD');
      if (allowed.length) {
        void reply.header('allow', allowed.join(', '));
        return send(reply, 405, `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
      }
      return send(reply, 404, `no route ${request.method} ${path}`);
    });
  },
  { name: 'chunk-archiver-errors' },
);
