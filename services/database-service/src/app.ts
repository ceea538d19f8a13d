import type { Logger } from '@chunk-archiver/common';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';

export interface AppDeps {
  logger: Logger;
}

/** Builds the HTTP app from injected dependencies; main.ts wires the real ones. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, disableRequestLogging: true });
  app.get('/health', async () => ({ status: 'ok', service: 'database-service' }));
  return app;
}
