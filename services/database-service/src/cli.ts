#!/usr/bin/env node
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createRedisBus, redisBusOptions } from '@chunk-archiver/bus';
import { ArchiverError, coerceError, createLogger, type Logger } from '@chunk-archiver/common';
import { type BlobStore, createBlobStore } from '@chunk-archiver/storage';
import { type AuditProgress, auditArchive } from './audit/audit-archive.js';
import { loadRetentionConfig, type RetentionConfig } from './config.js';
import { createManagedDatabase, type ManagedDatabase } from './managed-database.js';
import { createRetentionManager } from './manager.js';
import { createRestorer } from './restore/restorer.js';

const USAGE = `usage: database-service-cli <command> [options]

commands:
  scan      find expired chunks, record them and request archival (one pass)
  status    print chunks by state per database and table
  trigger   queue one table's expired chunks now (--table required)
  restore   load archived chunks overlapping [--from, --to) back into --table (or --into)
  release   delete the rows of a restore into a managed table again (--id), once they match the archive
  verify    check every archived object under --prefix against its manifest; exit 1 on any problem

options:
  --config FILE      YAML configuration (default: $ARCHIVER_CONFIG)
  --database NAME    only this configured database (restore/release: required when several)
  --table NAME       table or schema.table
  --dry-run          report what would be done; change nothing
  --from TIME|INT    restore: start of the range (inclusive)
  --to TIME|INT      restore: end of the range (exclusive)
  --into S.TABLE     restore: into this existing table instead of --table
  --skip-existing    restore: insert only rows not already there, instead of refusing
  --id N             release: the restore id (from the restore output or archiver.restores)
  --prefix P         verify: key prefix to walk (default: storage.prefix)
  --deep             verify: also decode every value of every object
  --json             verify: print the whole report as JSON
  -h, --help`;

const COMMANDS = ['scan', 'status', 'trigger', 'restore', 'release', 'verify'];

class UsageError extends ArchiverError {
  override name = 'UsageError';
  constructor(message: string) {
    super('USAGE', message);
  }
}

type Options = ReturnType<typeof parse>['values'];

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      database: { type: 'string' },
      table: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      into: { type: 'string' },
      'skip-existing': { type: 'boolean', default: false },
      id: { type: 'string' },
      prefix: { type: 'string' },
      deep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function required(values: Options, ...names: Array<'table' | 'from' | 'to' | 'id'>): void {
  const missing = names.filter((n) => !values[n]);
  if (missing.length) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
}

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
  if (values.help || !command || !COMMANDS.includes(command)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'trigger' || command === 'restore') required(values, 'table');
  if (command === 'restore') required(values, 'from', 'to');
  if (command === 'release') required(values, 'id');
  const config = loadRetentionConfig(process.env, values.config ?? process.env.ARCHIVER_CONFIG);
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
    return await busCommand(command, config, logger, store, values);
  } finally {
    await store.close?.();
  }
}

async function busCommand(
  command: string,
  config: RetentionConfig,
  logger: Logger,
  store: BlobStore,
  values: Options,
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
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const err = coerceError(error);
    console.error(`error: ${err.message}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
