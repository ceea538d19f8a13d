import type { ReadinessReport } from '@chunk-archiver/common';
import type { FastifyInstance, FastifySchema } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';

export interface HealthOptions {
  /** Named by GET /health. */
  service: string;
  /** Checks every dependency; never throws (see runChecks). */
  readiness: () => Promise<ReadinessReport>;
  /** What runs without the protection it should have; said by /ready, which stays 200 for them. */
  warnings?: string[];
  /** Served as Prometheus text on GET /metrics. */
  registry: Registry;
}

/** Left out of the OpenAPI document (a key @fastify/swagger reads, where it is registered). */
const hidden = { hide: true } as FastifySchema;

/**
 * GET /health (the process answers), GET /ready (200 when every dependency answers, 503 naming
 * the ones that do not) and GET /metrics, the same for both services.
 */
export const healthPlugin = fp(
  async (app: FastifyInstance, options: HealthOptions) => {
    app.get('/health', { schema: hidden }, async () => ({ status: 'ok', service: options.service }));
    app.get('/ready', { schema: hidden }, async (_request, reply) => {
      const checks = await options.readiness();
      const ready = Object.values(checks).every((c) => c.ok);
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not ready', checks, warnings: options.warnings ?? [] });
    });
    app.get('/metrics', { schema: hidden }, async (_request, reply) =>
      reply.type(options.registry.contentType).send(await options.registry.metrics()),
    );
  },
  { name: 'chunk-archiver-health', fastify: '5.x' },
);
