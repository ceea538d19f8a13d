import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ArchiverError } from './errors.js';

/** Configuration that failed validation; the message names every offending key. */
export class ConfigError extends ArchiverError {
  override name = 'ConfigError';
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

export function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const key = issue.path.length ? issue.path.map(String).join('.') : '(root)';
    const detail =
      issue.code === 'unrecognized_keys' ? `unknown key(s): ${issue.keys.join(', ')}` : issue.message;
    return `  ${key}: ${detail}`;
  });
  return `invalid configuration (${source}):\n${lines.join('\n')}`;
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
  for (const [variable, path] of Object.entries(options.overrides ?? {})) {
    const value = env[variable];
    if (value !== undefined && value !== '') setPath(raw, path, value);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(result.error, options.file ?? 'environment'));
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
