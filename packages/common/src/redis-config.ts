import { z } from 'zod';

const DEFAULT_URL = 'redis://127.0.0.1:6379';

const redisUrl = z
  .string()
  .min(1)
  .refine((v) => /^rediss?:\/\//.test(v), { message: 'must be a redis:// or rediss:// URL' });

const sentinelSchema = z
  .object({ host: z.string().min(1), port: z.number().int().min(1).max(65535).default(26379) })
  .strict();

const endpointSchema = z
  .object({
    /** How logs, status and metrics name it (default: host:port of the URL, or the master name). */
    name: z.string().min(1).optional(),
    /** One server; or `sentinels` and `master_name` for a Sentinel-managed primary. */
    url: redisUrl.optional(),
    sentinels: z.array(sentinelSchema).min(1).optional(),
    master_name: z.string().min(1).optional(),
    /** The healthy endpoint with the highest weight is the active one. */
    weight: z.number().positive().default(1),
    /** Where health probes go, when not the data URL (a proxy's health port, say). */
    health_check_url: redisUrl.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if ((e.url === undefined) === (e.sentinels === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'give url, or sentinels with master_name (one of them)',
      });
    if (e.sentinels && !e.master_name)
      ctx.addIssue({
        code: 'custom',
        path: ['master_name'],
        message: 'required with sentinels: the name they monitor',
      });
    if (e.master_name && !e.sentinels)
      ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'required with master_name' });
  });

/**
 * Health checks, circuit breakers and fall-back between endpoints. Seconds may be fractional
 * (tests shorten every interval); the defaults suit production.
 */
export const failoverSettingsSchema = z
  .object({
    health_check_interval_s: z.number().positive().default(10),
    health_check_probes: z.number().int().min(1).max(20).default(3),
    health_check_probes_delay_s: z.number().min(0).default(1),
    /** How many probes of a round must answer for the endpoint to count as healthy. */
    health_check_policy: z.enum(['all', 'majority', 'any']).default('majority'),
    /** One probe's deadline: connect, PING, answer. */
    health_check_timeout_ms: z.number().int().min(50).default(1_000),
    /** Failed commands before the circuit can open... */
    min_failures: z.number().int().min(1).default(5),
    /** ...and the share of commands failing in the window that opens it. */
    failure_rate_threshold: z.number().gt(0).max(1).default(0.5),
    failures_window_s: z.number().positive().default(60),
    /** Rounds of probing for a healthy endpoint when the active one fails, and the pause between. */
    failover_attempts: z.number().int().min(1).default(3),
    failover_delay_s: z.number().min(0).default(1),
    /** An open circuit stays open this long before a probe may close it again. */
    grace_period_s: z.number().positive().default(30),
    /** Back to a higher-weight endpoint once it has been healthy this long; 0 never goes back. */
    auto_fallback_interval_s: z.number().min(0).default(120),
    /** Tries of one command on transient errors, with exponential back-off and jitter. */
    command_attempts: z.number().int().min(1).max(10).default(3),
    command_retry_initial_ms: z.number().int().min(1).default(100),
    command_retry_max_ms: z.number().int().min(1).default(2_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    const round = (s.health_check_probes - 1) * s.health_check_probes_delay_s;
    if (round >= s.health_check_interval_s)
      ctx.addIssue({
        code: 'custom',
        path: ['health_check_probes_delay_s'],
        message: `a round of ${s.health_check_probes} probes ${s.health_check_probes_delay_s} s apart (${round} s) must be shorter than health_check_interval_s (${s.health_check_interval_s} s)`,
      });
    if (s.command_retry_max_ms < s.command_retry_initial_ms)
      ctx.addIssue({
        code: 'custom',
        path: ['command_retry_max_ms'],
        message: 'must be at least command_retry_initial_ms',
      });
  });

export type FailoverSettings = z.infer<typeof failoverSettingsSchema>;
export type RedisEndpointConfig = {
  name: string;
  url?: string | undefined;
  sentinels?: Array<{ host: string; port: number }> | undefined;
  master_name?: string | undefined;
  weight: number;
  health_check_url?: string | undefined;
};

/** What an endpoint is called when its configuration gives no name. */
function defaultName(e: { url?: string | undefined; master_name?: string | undefined }): string {
  return e.url !== undefined ? redisEndpointLabel(e.url) : `sentinel:${e.master_name ?? '?'}`;
}

/** `host:port` of a Redis URL, without user or password: what an endpoint is called by default. */
export function redisEndpointLabel(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'redis';
  }
}

/**
 * The `redis` block both services share: one `url`, or several `endpoints` with weights. Either
 * way it comes out as `endpoints`, so the bus has one shape to work with.
 */
export const redisConfigSchema = z
  .object({
    url: redisUrl.optional(),
    endpoints: z.array(endpointSchema).min(1).optional(),
    key_prefix: z.string().default(''),
    failover: failoverSettingsSchema.prefault({}),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.url !== undefined && r.endpoints !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['endpoints'],
        message: 'give redis.url (one server) or redis.endpoints (several), not both',
      });
    const seen = new Map<string, number>();
    (r.endpoints ?? []).forEach((e, i) => {
      const name = e.name ?? defaultName(e);
      if (seen.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['endpoints', i, 'name'],
          message: `"${name}" names endpoints ${seen.get(name)} and ${i}; give each a distinct name`,
        });
      seen.set(name, i);
    });
  })
  .transform((r) => ({
    key_prefix: r.key_prefix,
    failover: r.failover,
    endpoints: (r.endpoints ?? [{ url: r.url ?? DEFAULT_URL, weight: 1 }]).map(
      (e): RedisEndpointConfig => ({ ...e, name: e.name ?? defaultName(e) }),
    ),
  }))
  .prefault({});

export type RedisConfig = z.output<typeof redisConfigSchema>;
