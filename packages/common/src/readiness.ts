import { coerceError } from './errors.js';

export type ReadinessReport = Record<string, { ok: boolean; error?: string }>;

/** Runs named checks in parallel with a timeout each; a failure is reported, never thrown. */
export async function runChecks(
  checks: Record<string, () => Promise<unknown>>,
  timeoutMs = 3_000,
): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { ok: true }] as const;
      } catch (error) {
        return [name, { ok: false, error: coerceError(error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}
