#!/usr/bin/env node
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createRedisBus } from '@chunk-archiver/bus';
import { coerceError, createLogger } from '@chunk-archiver/common';
import { createBlobStore } from '@chunk-archiver/storage';
import { loadRetentionConfig } from './config.js';
import { createRetentionManager } from './manager.js';

const USAGE = `usage: database-service-cli <command> [options]

commands:
  scan      find expired chunks, record them and request archival (one pass)
  status    print chunks by state per database and table
  trigger   queue one table's expired chunks now (--table required)

options:
  --config FILE      YAML configuration (default: $ARCHIVER_CONFIG)
  --database NAME    only this configured database
  --table NAME       table or schema.table
  --dry-run          report what would be requested and dropped; change nothing
  -h, --help`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      database: { type: 'string' },
      table: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command || !['scan', 'status', 'trigger'].includes(command)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'trigger' && !values.table) {
    console.error('trigger needs --table');
    return 2;
  }
  const config = loadRetentionConfig(process.env, values.config ?? process.env.ARCHIVER_CONFIG);
  if (values['dry-run']) config.dry_run = true;
  const logger = createLogger({
    name: 'database-service-cli',
    level: process.env.LOG_LEVEL ?? 'warn',
    pretty: false,
    destination: process.stderr,
  });
  const bus = createRedisBus({
    redis: { url: config.redis.url },
    keyPrefix: config.redis.key_prefix,
    logger,
  });
  const store = await createBlobStore(config.storage);
  const manager = createRetentionManager({
    config,
    logger,
    bus,
    store,
    consumer: `cli-${hostname()}-${process.pid}`,
    secret: process.env[config.event_secret_env] || undefined,
  });
  try {
    let output: unknown;
    if (command === 'scan')
      output = await manager.scanner.scanOnce({ database: values.database, table: values.table });
    else if (command === 'status') output = await manager.status();
    else
      output = await manager.trigger({
        table: values.table!,
        database: values.database,
        dryRun: values['dry-run'],
      });
    console.log(JSON.stringify(output, null, 2));
    const failed = Array.isArray(output) && output.some((r: { ok?: boolean }) => r.ok === false);
    return failed ? 1 : 0;
  } finally {
    for (const db of manager.databases.values()) await db.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await store.close?.();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${coerceError(error).message}`);
    process.exit(1);
  },
);
