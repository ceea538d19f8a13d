import { ConfigError } from '@chunk-archiver/common';
import postgres from 'postgres';
import { z } from 'zod';
import { PINNED_SETTINGS } from './session.js';

const endpoint = z
  .object({
    /** A full URL; or the parts below. The password never sits in config: name an env var. */
    url_env: z.string().min(1).optional(),
    url: z.string().min(1).optional(),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).optional(),
    user: z.string().min(1).default('postgres'),
    password_env: z.string().min(1).optional(),
    ssl: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('disable'),
  })
  .strict();

export const poolSchema = z
  .object({
    max: z.coerce.number().int().min(1).max(100).default(4),
    idle_timeout_s: z.coerce.number().int().min(0).default(30),
    max_lifetime_s: z.coerce.number().int().min(0).default(1800),
    connect_timeout_s: z.coerce.number().int().min(1).default(10),
    /**
     * The server cancels any one statement running longer (0: off). Unset: the service's default
     * (the retention manager 300 s, the archival worker 3600 s for long extractions).
     */
    statement_timeout_s: z.coerce.number().int().min(0).optional(),
    /** The server ends a session idle inside a transaction this long, releasing its locks. */
    idle_in_transaction_timeout_s: z.coerce.number().int().min(0).default(300),
  })
  .strict();

export const databaseConnectionSchema = endpoint.extend({
  pool: poolSchema.default({
    max: 4,
    idle_timeout_s: 30,
    max_lifetime_s: 1800,
    connect_timeout_s: 10,
    idle_in_transaction_timeout_s: 300,
  }),
  /** Extraction reads from here when set, to keep load off the primary. */
  read_replica: endpoint.optional(),
});

export type DatabaseConnectionConfig = z.infer<typeof databaseConnectionSchema>;
type Endpoint = z.infer<typeof endpoint>;

/** Resolves where a configured database lives, reading secrets from the environment. */
export function resolveUrl(
  config: Endpoint,
  env: NodeJS.ProcessEnv = process.env,
): { url?: string; options: postgres.Options<Record<string, postgres.PostgresType>> } {
  const fromEnv = config.url_env ? env[config.url_env] : undefined;
  if (config.url_env && !fromEnv)
    throw new Error(`environment variable ${config.url_env} (url_env) is not set`);
  const url = fromEnv ?? config.url;
  if (url) return { url, options: {} };
  const password = config.password_env ? env[config.password_env] : undefined;
  if (config.password_env && password === undefined) {
    throw new Error(`environment variable ${config.password_env} (password_env) is not set`);
  }
  return {
    options: {
      host: config.host,
      port: config.port,
      database: config.database ?? 'postgres',
      user: config.user,
      ...(password !== undefined ? { password } : {}),
      ...(config.ssl !== 'disable' ? { ssl: config.ssl === 'verify-full' ? 'verify-full' : config.ssl } : {}),
    },
  };
}

/**
 * A pool for one configured database. Every connection starts with PINNED_SETTINGS so text output
 * (and with it the content checksum) never depends on server defaults.
 */
export function connectDatabase(
  config: DatabaseConnectionConfig,
  options: {
    replica?: boolean;
    applicationName?: string;
    env?: NodeJS.ProcessEnv;
    /** Used when the pool does not set statement_timeout_s. */
    defaultStatementTimeoutS?: number;
  } = {},
): postgres.Sql {
  const target = options.replica && config.read_replica ? config.read_replica : config;
  const { url, options: parts } = resolveUrl(target, options.env);
  const common: postgres.Options<Record<string, postgres.PostgresType>> = {
    ...parts,
    max: config.pool.max,
    idle_timeout: config.pool.idle_timeout_s,
    max_lifetime: config.pool.max_lifetime_s,
    connect_timeout: config.pool.connect_timeout_s,
    onnotice: () => {},
    connection: {
      application_name: options.applicationName ?? 'chunk-archiver',
      ...PINNED_SETTINGS,
      // Server-side bounds: a statement, and a transaction left idle, cannot hold on forever.
      statement_timeout: (config.pool.statement_timeout_s ?? options.defaultStatementTimeoutS ?? 300) * 1000,
      idle_in_transaction_session_timeout: config.pool.idle_in_transaction_timeout_s * 1000,
    },
  };
  return url ? postgres(url, common) : postgres(common);
}

/**
 * Every `url_env`/`password_env` of the configured databases (and their read replicas) that names
 * an environment variable which is not set, as `key.path: ...` lines: checked at start so the
 * service refuses to run with the variable named, not on the first connection.
 */
export function missingEnvironment(
  databases: Record<
    string,
    { url_env?: string | undefined; password_env?: string | undefined; read_replica?: unknown }
  >,
  env: NodeJS.ProcessEnv,
): string[] {
  const problems: string[] = [];
  const check = (
    path: string,
    config: { url_env?: string | undefined; password_env?: string | undefined },
  ) => {
    for (const key of ['url_env', 'password_env'] as const) {
      const variable = config[key];
      if (variable && !env[variable])
        problems.push(`${path}.${key}: environment variable ${variable} is not set`);
    }
  };
  for (const [name, db] of Object.entries(databases)) {
    check(`databases.${name}`, db);
    if (db.read_replica && typeof db.read_replica === 'object')
      check(`databases.${name}.read_replica`, db.read_replica as { url_env?: string; password_env?: string });
  }
  return problems;
}

/** Throws ConfigError naming each database key whose environment variable is not set. */
export function requireEnvironment(
  databases: Parameters<typeof missingEnvironment>[0],
  env: NodeJS.ProcessEnv,
): void {
  const problems = missingEnvironment(databases, env);
  if (problems.length) throw ConfigError.of('environment', problems);
}
