import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ArchiverError } from './errors.js';

/** Configuration that failed validation; the message names every offending key. */
export class ConfigError extends ArchiverError {
  override name = 'ConfigError';
  /** One `key.path: what is wrong` per problem. */
  readonly problems: string[];
  constructor(message: string, problems: string[] = [message]) {
    super('CONFIG_INVALID', message);
    this.problems = problems;
  }

  /** Several problems of one source, each on its line. */
  static of(source: string, problems: string[]): ConfigError {
    return new ConfigError(
      `invalid configuration (${source}):\n${problems.map((p) => `  ${p}`).join('\n')}`,
      problems.map((p) => `${source}: ${p}`),
    );
  }
}

export function issueLines(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    const detail =
      issue.code === 'unrecognized_keys' ? `unknown key(s): ${issue.keys.join(', ')}` : issue.message;
    return `${key}: ${detail}`;
  });
}

export function formatIssues(error: z.ZodError, source: string): string {
  return `invalid configuration (${source}):\n${issueLines(error)
    .map((l) => `  ${l}`)
    .join('\n')}`;
}

/**
 * A command's or service's entry: a configuration error prints one line per problem naming its
 * key (no stack trace) and exits 2; anything else thrown is the caller's to handle.
 */
export async function exitOnConfigError<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.problems) process.stderr.write(`config error: ${line}\n`);
    process.exit(2);
  }
}

/** Reads a YAML file into a plain object; a missing path means "no file", not an error. */
export function readYamlFile(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const value = parseYaml(text) ?? {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error('the top level must be a mapping');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(error as Error).message}`);
  }
}

/** Sets `value` at a dotted path, creating objects on the way: for environment overrides. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

/**
 * Validates once at start-up: file values, then environment overrides (`ENV_VAR` → `dotted.key`),
 * then the schema's defaults. Throws ConfigError naming each bad key.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv; overrides?: Record<string, string> },
): z.infer<S> {
  const env = options.env ?? process.env;
  const raw = readYamlFile(options.file);
  const fromEnv = new Map<string, string>();
  for (const [variable, path] of Object.entries(options.overrides ?? {})) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    setPath(raw, path, value);
    fromEnv.set(path, variable);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    // A key whose value came from an environment variable says so: that is where to fix it.
    const lines = issueLines(result.error).map((line) => {
      const key = line.slice(0, line.indexOf(':'));
      const variable = fromEnv.get(key);
      return variable ? `${key} (from ${variable})${line.slice(key.length)}` : line;
    });
    throw ConfigError.of(options.file ?? 'environment', lines);
  }
  return result.data;
}

/** `"true"`/`"1"`/`"yes"` from the environment, or a real boolean from YAML. */
export function envBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  return value;
}

/** Environment variables that override the service and Redis keys, in either service's config. */
export const SERVICE_ENV_OVERRIDES: Record<string, string> = {
  PORT: 'service.port',
  HOST: 'service.host',
  LOG_LEVEL: 'service.log_level',
  CONSUMER_NAME: 'service.consumer_name',
  REDIS_URL: 'redis.url',
  REDIS_KEY_PREFIX: 'redis.key_prefix',
};
