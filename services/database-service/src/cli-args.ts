import { parseArgs } from 'node:util';
import { ArchiverError, coerceError } from '@chunk-archiver/common';
import { namesTable, type RetentionConfig } from './config.js';
import { UnknownTableError } from './errors.js';

export const USAGE = `usage: database-service-cli <command> [options]

commands:
  scan      find expired chunks, record them and request archival (one pass)
  status    print chunks by state per database and table
  trigger   queue one table's expired chunks now (--table required)
  restore   load archived chunks overlapping [--from, --to) back into --table (or --into)
  release   delete the rows of a restore into a managed table again (--id), once they match the archive
  verify    check every archived object under --prefix against its manifest; exit 1 on any problem
  retry     re-queue failed or dead chunks: --id N, or --table T [--state failed|dead], or --all; --reason required
  expire-snapshots
            an Iceberg table (--table): keep its newest --keep N snapshots, remove the files only older ones used
  dead-letters list|show|replay|purge
            the dead-letter streams: list [--topic T]; show/replay --topic T --id ID; purge --topic T [--id ID]

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
  --id N             retry: the chunk id (status failures[].id); dead-letters: the entry id
  --state S          retry: only chunks in this state (failed or dead)
  --all              retry: every failed or dead chunk
  --reason TEXT      retry: why (kept on each chunk's history)
  --keep N           expire-snapshots: snapshots to keep (at least 1)
  --topic T          dead-letters: database.archival.request or database.archival.confirmation
  -h, --help`;

export const COMMANDS = [
  'scan',
  'status',
  'trigger',
  'restore',
  'release',
  'verify',
  'retry',
  'dead-letters',
  'expire-snapshots',
];
const DEAD_LETTER_ACTIONS = ['list', 'show', 'replay', 'purge'];

/** Request fields as the CLI's flags, so a refusal tells an operator what to type. */
const FLAGS: Array<[RegExp, string]> = [
  [/\(into\)/g, '(--into)'],
  [/\(skip_existing\)/g, '(--skip-existing)'],
  [/\bskip_existing\b/g, '--skip-existing'],
  [/^(database|table|from|to|into|id|reason|state|topic):/, '--$1:'],
];
export const inFlags = (message: string) =>
  FLAGS.reduce((m, [pattern, flag]) => m.replace(pattern, flag), message);

export class UsageError extends ArchiverError {
  override name = 'UsageError';
  constructor(message: string) {
    super('USAGE', message);
  }
}

export type Options = ReturnType<typeof parse>['values'];

export function parse() {
  try {
    return parseOptions();
  } catch (error) {
    const message = coerceError(error).message;
    const option = /Unknown option '([^']+)'/.exec(message)?.[1];
    throw new UsageError(option ? `unknown option ${option} (see --help)` : message.split('. ')[0]!);
  }
}

function parseOptions() {
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
      state: { type: 'string' },
      all: { type: 'boolean', default: false },
      reason: { type: 'string' },
      topic: { type: 'string' },
      keep: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

export function required(
  values: Options,
  ...names: Array<'table' | 'from' | 'to' | 'id' | 'reason' | 'topic' | 'keep'>
): void {
  const missing = names.filter((n) => !values[n]);
  if (missing.length) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
}

/** What each command needs, checked before anything connects. */
export function checkArguments(command: string, positionals: string[], values: Options): void {
  if (command === 'trigger' || command === 'restore') required(values, 'table');
  if (command === 'restore') required(values, 'from', 'to');
  if (command === 'release') required(values, 'id');
  if (command === 'expire-snapshots') {
    required(values, 'table', 'keep');
    if (!/^[1-9]\d{0,5}$/.test(values.keep!))
      throw new UsageError(`--keep must be a whole number of at least 1, not "${values.keep}"`);
  }
  if (command === 'retry') {
    required(values, 'reason');
    if (!values.id && !values.table && !values.all)
      throw new UsageError('retry: give --id, --table or --all');
    if (values.state && values.state !== 'failed' && values.state !== 'dead')
      throw new UsageError(`--state must be failed or dead, not "${values.state}"`);
  }
  if (command === 'dead-letters') {
    const action = positionals[1];
    if (!action || !DEAD_LETTER_ACTIONS.includes(action))
      throw new UsageError(
        `dead-letters: say ${DEAD_LETTER_ACTIONS.join(', ')}${action ? `, not "${action}"` : ''}`,
      );
    if (action !== 'list') required(values, 'topic');
    if (action === 'show' || action === 'replay') required(values, 'id');
  }
  const extra = positionals.slice(command === 'dead-letters' ? 2 : 1);
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} (see --help)`);
}

/** `--table` naming a table no configured database has is a usage error, not an empty success. */
export function knownTable(config: RetentionConfig, table: string, database: string | undefined): void {
  const known = Object.entries(config.databases).some(
    ([name, db]) => (!database || name === database) && db.tables.some((t) => namesTable(t, table)),
  );
  if (!known) throw new UsageError(new UnknownTableError(table, database).message);
}
