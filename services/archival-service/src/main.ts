#!/usr/bin/env node
import { createLogger } from '@chunk-archiver/common';
import { buildApp } from './app.js';

const logger = createLogger({ name: 'archival-service' });
const app = buildApp({ logger });
const port = Number(process.env.PORT ?? 3001);
await app.listen({ host: process.env.HOST ?? '0.0.0.0', port });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down');
    app.close().finally(() => process.exit(0));
  });
}
