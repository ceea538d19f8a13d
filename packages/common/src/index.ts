export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export {
  ConfigError,
  envBoolean,
  exitOnConfigError,
  formatIssues,
  issueLines,
  loadConfig,
  readYamlFile,
  SERVICE_ENV_OVERRIDES,
  setPath,
} from './config.js';
export { createSemaphore, DeadlineError, securityWarnings, withDeadline } from './deadline.js';
export { ArchiverError, coerceError, errorCode } from './errors.js';
export { FAILPOINTS, type FailpointName, failpoint } from './failpoints.js';
export { createLifecycle } from './lifecycle.js';
export { type CreateLoggerOptions, createLogger, type Logger, REDACT_PATHS, silentLogger } from './logger.js';
export { type ReadinessReport, runChecks } from './readiness.js';
export {
  type FailoverSettings,
  failoverSettingsSchema,
  type RedisConfig,
  type RedisEndpointConfig,
  redisConfigSchema,
  redisEndpointLabel,
} from './redis-config.js';
export { sleep } from './sleep.js';
