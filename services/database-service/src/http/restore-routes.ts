import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { ReleaseReport } from '../restore/release.js';
import type { RestoreReport, RestoreRequest } from '../restore/restore.js';
import { errorBody } from './errors.js';

export interface RestoreRoutesOptions {
  /** Restores archived chunks; throws RestoreError for a request it refuses. */
  restore: (input: RestoreRequest & { database?: string | undefined }) => Promise<RestoreReport>;
  release: (input: { database?: string | undefined; id: string }) => Promise<ReleaseReport>;
  guard: onRequestHookHandler;
}

/** POST /database/retention/restore and POST /database/retention/restores/{id}/release. */
export async function restoreRoutes(app: FastifyInstance, deps: RestoreRoutesOptions): Promise<void> {
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
      onRequest: deps.guard,
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
        response: {
          200: restoreReport,
          400: errorBody,
          401: errorBody,
          404: errorBody,
          409: errorBody,
          500: restoreReport,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const report = await deps.restore({
        table: body.table,
        from: body.from,
        to: body.to,
        database: body.database,
        into: body.into,
        dryRun: body.dry_run ?? false,
        skipExisting: body.skip_existing ?? false,
        requestedBy: 'http',
      });
      // Some chunk could not be restored (each says why in objects[]): not a success.
      if (!report.ok) return reply.code(500).send(report);
      return report;
    },
  );

  app.post<{ Params: { id: string }; Querystring: { database?: string } }>(
    '/database/retention/restores/:id/release',
    {
      onRequest: deps.guard,
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
}
