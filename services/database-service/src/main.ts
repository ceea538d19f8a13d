#!/usr/bin/env node
import { coerceError } from '@chunk-archiver/common';
import { loadRetentionConfig } from './config.js';
import { createRetentionService } from './service.js';

const config = loadRetentionConfig();
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
