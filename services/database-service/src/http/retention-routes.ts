import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { QueuedChunk } from '../scanner.js';
import { errorBody } from './errors.js';

export interface RetentionRoutesOptions {
  status: () => Promise<unknown>;
  /** Queues a table's expired chunks now; throws UnknownTableError for a table not configured. */
  trigger: (input: {
    table: string;
    database?: string | undefined;
    dryRun: boolean;
  }) => Promise<QueuedChunk[]>;
  guard: onRequestHookHandler;
}

/** GET /database/retention/status and POST /database/retention/trigger-archival. */
export async function retentionRoutes(app: FastifyInstance, deps: RetentionRoutesOptions): Promise<void> {
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
      onRequest: deps.guard,
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
                    expected_rows: {
                      type: 'integer',
                      description: "a plain table's window: the rows it was cut for",
                    },
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
}
