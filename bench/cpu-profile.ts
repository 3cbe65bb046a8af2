/**
 * Summarises a V8 `.cpuprofile` (`node --cpu-prof`): where the busy time went, by package / source file
 * and by function (self time). `npx tsx bench/cpu-profile.ts <file.cpuprofile> [top]`.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  byArea: Array<[area: string, ms: number]>;
  byFunction: Array<[fn: string, ms: number]>;
}

/** `fastify`, `pg`, `src/auth/sessions.js`, `(gc)`, `node:internal`… */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  const source = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (source?.[1]) return source[1];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
}

export function summariseProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const fn = `${frame.functionName || '(anonymous)'} ${area}:${frame.lineNumber + 1}`;
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  }
  const sorted = (map: Map<string, number>) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top) as Array<[string, number]>;
  return { busyMs: busy, idleMs: idle, byArea: sorted(areas), byFunction: sorted(functions) };
}

export function formatSummary(summary: ProfileSummary): string {
  const pct = (ms: number) => `${((ms / summary.busyMs) * 100).toFixed(1)} %`;
  return [
    `busy ${Math.round(summary.busyMs)} ms, idle ${Math.round(summary.idleMs)} ms`,
    'self time by area:',
    ...summary.byArea.map(([area, ms]) => `  ${pct(ms).padStart(7)}  ${area}`),
    'self time by function:',
    ...summary.byFunction.map(([fn, ms]) => `  ${pct(ms).padStart(7)}  ${fn}`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: tsx bench/cpu-profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  console.log(formatSummary(summariseProfile(profile, Number(top ?? 25))));
}
