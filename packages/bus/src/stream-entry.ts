/** One stream entry as ioredis returns it: [id, [k1, v1, k2, v2, ...]]. */
export type StreamEntry = [string, string[]];

export function entryField(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
