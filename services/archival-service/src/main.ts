#!/usr/bin/env node
import { coerceError } from '@chunk-archiver/common';
import { loadArchivalConfig } from './config.js';
import { createArchivalService } from './service.js';

const config = loadArchivalConfig();
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
