#!/usr/bin/env node
import { coerceError, exitOnConfigError } from '@chunk-archiver/common';
import { requireEnvironment } from '@chunk-archiver/pg';
import { loadArchivalConfig } from './config.js';
import { createArchivalService } from './service.js';

// A bad key or an unset variable it names: one line each, exit 2, before anything connects.
const config = await exitOnConfigError(() => {
  const loaded = loadArchivalConfig();
  requireEnvironment(loaded.databases, process.env);
  return loaded;
});
const service = await createArchivalService(config);
await service.start();

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  service.logger.info({ signal }, 'shutting down: no new work, finishing in-flight chunks');
  await service
    .stop()
    .catch((error: unknown) => service.logger.warn({ err: coerceError(error) }, 'stop failed'));
  service.logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
