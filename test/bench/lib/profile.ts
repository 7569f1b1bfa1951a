/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and names where the time went: the top frames by self time, and self
 * time summed by file (core/…, plugins/…, node:…, node_modules/<package>), as % of the sampled time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../support/host.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  /** Share of samples in which the process was idle (waiting for I/O). */
  idlePct: number;
  /** `via`: for native frames, the nearest JavaScript caller (what made the native call). */
  frames: { name: string; where: string; selfPct: number; via?: string }[];
  byFile: { where: string; selfPct: number }[];
}

function place(url: string): string {
  if (!url) return '(native)';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(REPO)) u = u.slice(REPO.length);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return `node_modules/${nm[1]}`;
  return u;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const jsCaller = (id: number): string | undefined => {
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const f = byId.get(up)!.callFrame;
      if (f.url) return `${f.functionName || '(anonymous)'} ${place(f.url)}:${f.lineNumber + 1}`;
    }
    return undefined;
  };
  const self = new Map<number, number>();
  if (p.samples && p.timeDeltas) {
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]!;
      self.set(id, (self.get(id) ?? 0) + Math.max(0, p.timeDeltas[i] ?? 0));
    }
  }
  let total = 0;
  let idle = 0;
  const frames = new Map<string, { name: string; where: string; us: number; via: Map<string, number> }>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    total += us;
    const fn = n.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') {
      idle += us;
      continue;
    }
    const where = place(n.callFrame.url);
    const key = `${fn}@${where}:${n.callFrame.lineNumber + 1}`;
    const f = frames.get(key) ?? { name: fn, where: `${where}:${n.callFrame.lineNumber + 1}`, us: 0, via: new Map() };
    f.us += us;
    if (!n.callFrame.url) {
      const caller = jsCaller(id) ?? '(root)';
      f.via.set(caller, (f.via.get(caller) ?? 0) + us);
    }
    frames.set(key, f);
    const group = fn === '(garbage collector)' ? '(garbage collector)' : where;
    files.set(group, (files.get(group) ?? 0) + us);
  }
  const pct = (us: number) => (total > 0 ? (100 * us) / total : 0);
  return {
    file,
    sampledMs: total / 1000,
    idlePct: pct(idle),
    frames: [...frames.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => {
        const via = [...f.via.entries()].sort((a, b) => b[1] - a[1])[0];
        return { name: f.name, where: f.where, selfPct: pct(f.us), ...(via ? { via: via[0] } : {}) };
      }),
    byFile: [...files.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([where, us]) => ({ where, selfPct: pct(us) })),
  };
}

export function profilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f));
}

export function formatProfile(s: ProfileSummary, title: string): string {
  const lines = [
    `${title}: ${(s.sampledMs / 1000).toFixed(1)} s sampled, ${s.idlePct.toFixed(1)} % idle (${s.file})`,
    '  top frames by self time:',
    ...s.frames.map(
      (f) =>
        `    ${f.selfPct.toFixed(1).padStart(5)} %  ${f.name}  ${f.where}${f.via ? `  (called from ${f.via})` : ''}`,
    ),
    '  self time by file/package:',
    ...s.byFile.map((f) => `    ${f.selfPct.toFixed(1).padStart(5)} %  ${f.where}`),
  ];
  return lines.join('\n');
}
