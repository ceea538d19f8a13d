import type { Logger, ReadinessReport } from '@chunk-archiver/common';
import { healthPlugin } from '@chunk-archiver/http';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { tokenGuard } from './http/auth.js';
import { errorsPlugin } from './http/errors.js';
import { type OperatorRoutesOptions, operatorRoutes } from './http/operator-routes.js';
import { type RestoreRoutesOptions, restoreRoutes } from './http/restore-routes.js';
import { type RetentionRoutesOptions, retentionRoutes } from './http/retention-routes.js';
import { statusPage } from './http/status-page.js';

export { isLoopback } from './http/auth.js';

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
  trigger: RetentionRoutesOptions['trigger'];
  restore: RestoreRoutesOptions['restore'];
  release: RestoreRoutesOptions['release'];
  retry: OperatorRoutesOptions['retry'];
  deadLetters: OperatorRoutesOptions['deadLetters'];
}

/**
 * Builds the HTTP app from injected dependencies (the composition root wires the real ones):
 * OpenAPI, the error handler, health/ready/metrics, then the retention and restore routes, each a
 * plugin of its own under src/http/.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
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
  await app.register(errorsPlugin, { logger: deps.logger });
  await app.register(healthPlugin, {
    service: 'database-service',
    readiness: deps.readiness,
    registry: deps.registry,
    ...(deps.warnings ? { warnings: deps.warnings } : {}),
  });
  const guard = tokenGuard(deps);
  await app.register(retentionRoutes, { status: deps.status, trigger: deps.trigger, guard });
  await app.register(restoreRoutes, { restore: deps.restore, release: deps.release, guard });
  await app.register(operatorRoutes, { retry: deps.retry, deadLetters: deps.deadLetters, guard });
  await app.register(statusPage);
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
