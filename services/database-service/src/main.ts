#!/usr/bin/env node
import { coerceError, exitOnConfigError } from '@chunk-archiver/common';
import { requireEnvironment } from '@chunk-archiver/pg';
import { loadRetentionConfig } from './config.js';
import { createRetentionService } from './service.js';

// A bad key or an unset variable it names: one line each, exit 2, before anything connects.
const config = await exitOnConfigError(() => {
  const loaded = loadRetentionConfig();
  requireEnvironment(loaded.databases, process.env);
  return loaded;
});
if (process.argv.includes('--dry-run')) config.dry_run = true;
const service = await createRetentionService(config);
await service.start();

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  service.logger.info({ signal }, 'shutting down');
  await service
    .stop()
    .catch((error: unknown) => service.logger.warn({ err: coerceError(error) }, 'stop failed'));
  process.exit(0);
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
