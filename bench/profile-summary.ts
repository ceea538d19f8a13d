// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per file, so the
// benchmark can say where an archive spends its CPU.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  total_ms: number;
  /** Self time per pipeline stage: what a projection to more cores is grounded on. */
  stages: Array<{ stage: string; self_ms: number; share: number }>;
  functions: Array<{ function: string; self_ms: number; share: number }>;
  files: Array<{ file: string; self_ms: number; share: number }>;
}

const shortFile = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^.*\/(services|packages)\//, '$1/') || '(native/idle)';

/** The pipeline stage a sampled function belongs to. */
function stageOf(functionName: string, file: string, line: number): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return 'idle (waiting for PostgreSQL or storage)';
  if (file.includes('crypto')) return 'sha256 of the upload';
  if (/encoder\.js$/.test(file) && line <= 25) return 'snappy compression';
  if (/hyparquet-writer|parquet\/encoder/.test(file)) return 'Parquet encoding';
  if (/copy-binary|pg-binary|column-mapping|extract|checksum|postgres\/src/.test(file))
    return 'COPY read, parse, decode';
  if (/storage|node:fs|blob/.test(file)) return 'upload';
  return 'other (Node internals, program)';
}

function top<K>(totals: Map<K, number>, all: number, n: number) {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, ms]) => ({ key, self_ms: Math.round(ms), share: Math.round((ms / all) * 1000) / 1000 }));
}

export async function summarizeProfile(path: string, n = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as Profile;
  const samples = profile.samples?.length ?? 0;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const perSample = samples ? totalMs / samples : 0;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byStage = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * perSample;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortFile(url);
    const name = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const stage = stageOf(functionName, file, lineNumber + 1);
    byStage.set(stage, (byStage.get(stage) ?? 0) + ms);
  }
  return {
    total_ms: Math.round(totalMs),
    stages: top(byStage, totalMs, 20).map(({ key, ...rest }) => ({ stage: key, ...rest })),
    functions: top(byFunction, totalMs, n).map(({ key, ...rest }) => ({ function: key, ...rest })),
    files: top(byFile, totalMs, n).map(({ key, ...rest }) => ({ file: key, ...rest })),
  };
}
