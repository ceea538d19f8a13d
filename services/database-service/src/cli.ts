#!/usr/bin/env node
import { hostname, userInfo } from 'node:os';
import { createRedisBus, redisBusOptions } from '@chunk-archiver/bus';
import { coerceError, createLogger, exitOnConfigError, type Logger } from '@chunk-archiver/common';
import { requireEnvironment } from '@chunk-archiver/pg';
import { type BlobStore, createBlobStore } from '@chunk-archiver/storage';
import { type AuditProgress, auditArchive } from './audit/audit-archive.js';
import {
  COMMANDS,
  checkArguments,
  inFlags,
  knownTable,
  type Options,
  parse,
  USAGE,
  UsageError,
} from './cli-args.js';
import { loadRetentionConfig, type RetentionConfig } from './config.js';
import { createManagedDatabase, type ManagedDatabase } from './managed-database.js';
import { createRetentionManager, type RetentionManager } from './manager.js';
import { expireTableSnapshots } from './operations/expire-snapshots.js';
import type { RetryState } from './operations/retry.js';
import { createRestorer } from './restore/restorer.js';

/** Databases only, without Redis: restore and release need nothing else. */
async function withDatabases<T>(
  config: RetentionConfig,
  logger: Logger,
  work: (databases: Map<string, ManagedDatabase>) => Promise<T>,
): Promise<T> {
  const databases = new Map(
    Object.entries(config.databases).map(([name, db]) => [
      name,
      createManagedDatabase(name, db, logger, { leaderElection: false }),
    ]),
  );
  try {
    return await work(databases);
  } finally {
    for (const db of databases.values()) await db.close().catch(() => undefined);
  }
}

/** On a terminal: one line rewritten in place; otherwise a line every few seconds. */
function progressPrinter() {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (p: AuditProgress) => {
    const now = Date.now();
    const done = p.checked === p.total;
    if (!tty && !done && now - last < 5000) return;
    last = now;
    const line = `verify: ${p.checked}/${p.total} objects, ${(p.bytes / 1048576).toFixed(1)} MiB read`;
    process.stderr.write(tty ? `\r${line}${done ? '\n' : ''}` : `${line}\n`);
  };
}

async function verify(store: BlobStore, config: RetentionConfig, values: Options): Promise<number> {
  const prefix = values.prefix ?? `${config.storage.prefix.replace(/\/+$/, '')}/`;
  const report = await auditArchive(store, { prefix, deep: values.deep, onProgress: progressPrinter() });
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const p of report.problems) console.log(`${p.code}  ${p.key}\n    ${p.message}`);
    console.log(
      `${report.ok ? 'OK' : 'PROBLEMS'}: ${report.verified} of ${report.manifests} archived objects verified ` +
        `(${(report.bytes_read / 1048576).toFixed(1)} MiB, ${report.rows} rows${report.deep ? ', every value decoded' : ''}); ` +
        `${report.problems.length} problem(s) under ${report.backend}:${report.container}/${prefix}`,
    );
  }
  return report.ok ? 0 : 1;
}

async function main(): Promise<number> {
  const { positionals, values } = parse();
  const command = positionals[0];
  if (values.help || !command) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command "${command}" (see --help)`);
  checkArguments(command, positionals, values);
  const config = await exitOnConfigError(() => {
    const loaded = loadRetentionConfig(process.env, values.config ?? process.env.ARCHIVER_CONFIG);
    if (!['verify', 'dead-letters', 'expire-snapshots'].includes(command))
      requireEnvironment(loaded.databases, process.env);
    return loaded;
  });
  if (values.table && (command === 'scan' || command === 'trigger' || command === 'retry'))
    knownTable(config, values.table, values.database);
  if (values['dry-run']) config.dry_run = true;
  const logger = createLogger({
    name: 'database-service-cli',
    level: process.env.LOG_LEVEL ?? 'warn',
    pretty: false,
    destination: process.stderr,
  });
  const store = await createBlobStore(config.storage);
  try {
    if (command === 'verify') return await verify(store, config, values);
    if (command === 'expire-snapshots') {
      const input = { table: values.table!, database: values.database, keep: Number(values.keep) };
      console.log(JSON.stringify(await expireTableSnapshots(config, store, input), null, 2));
      return 0;
    }
    if (command === 'restore' || command === 'release') {
      return await withDatabases(config, logger, async (databases) => {
        const restorer = createRestorer({ databases, store, prefix: config.storage.prefix, logger });
        if (command === 'release') {
          console.log(
            JSON.stringify(await restorer.release({ database: values.database, id: values.id! }), null, 2),
          );
          return 0;
        }
        const report = await restorer.restore({
          database: values.database,
          table: values.table!,
          from: values.from!,
          to: values.to!,
          into: values.into,
          dryRun: values['dry-run'],
          skipExisting: values['skip-existing'],
          requestedBy: `cli:${userInfo().username}@${hostname()}`,
        });
        console.log(JSON.stringify(report, null, 2));
        return report.ok ? 0 : 1;
      });
    }
    return await busCommand(command, config, logger, store, values, positionals);
  } finally {
    await store.close?.();
  }
}

async function deadLetterCommand(
  manager: RetentionManager,
  action: string,
  values: Options,
): Promise<unknown> {
  const letters = manager.deadLetters;
  if (action === 'list') return letters.list(values.topic);
  if (action === 'show') return letters.show(values.topic!, values.id!);
  if (action === 'replay') return letters.replay(values.topic!, values.id!);
  return letters.purge(values.topic!, values.id);
}

async function busCommand(
  command: string,
  config: RetentionConfig,
  logger: Logger,
  store: BlobStore,
  values: Options,
  positionals: string[],
): Promise<number> {
  const bus = createRedisBus(redisBusOptions(config.redis, logger));
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
    else if (command === 'status') output = await manager.status({ ledgerOnly: true });
    else if (command === 'dead-letters') output = await deadLetterCommand(manager, positionals[1]!, values);
    else if (command === 'retry')
      output = await manager.retry({
        id: values.id,
        table: values.table,
        all: values.all,
        state: values.state as RetryState | undefined,
        database: values.database,
        reason: `${values.reason!} (cli:${userInfo().username}@${hostname()})`,
      });
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
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const err = coerceError(error);
    console.error(`error: ${inFlags(err.message)}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
