import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/**
 * Paths whose values must never reach a log line: passwords, connection strings, tokens, keys.
 * Redacting by path keeps secrets out even when a whole config object is logged by mistake.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'url',
  '*.url',
  '*.*.url',
  'connectionString',
  '*.connectionString',
  '*.*.connectionString',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'accountKey',
  '*.accountKey',
  'secretAccessKey',
  '*.secretAccessKey',
];

export interface CreateLoggerOptions {
  name: string;
  level?: string;
  /** Pretty output is for people at a terminal; production and CI get JSON lines. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production');
  if (pretty && !options.destination) {
    return pino({ ...config, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A logger that drops everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
