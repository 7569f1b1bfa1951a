/**
 * Request bodies for the benchmarks, built from the real third-party corpus (read where it is, never copied):
 * Falco alerts made distinct by varying their time and an output field, and kube-apiserver audit EventLists of
 * 400 events with distinct auditIDs. Bodies are made from per-base templates with string joins, so the load
 * generator spends little CPU on them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { realFixturesDir } from '../../support/fixtures.ts';

export function corpusDir(tool: string): string {
  const root = realFixturesDir();
  const dir = root ? join(root, tool) : undefined;
  if (!dir || !existsSync(dir)) {
    throw new Error(
      `real fixture corpus for ${tool} not found (set ZEN_REAL_FIXTURES; default ../shared/fixtures/real)`,
    );
  }
  return dir;
}

type Json = Record<string, unknown>;

function documents(dir: string): { file: string; doc: Json }[] {
  const out: { file: string; doc: Json }[] = [];
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (file.endsWith('.jsonl')) {
      for (const line of text.split('\n')) if (line.trim()) out.push({ file, doc: JSON.parse(line) as Json });
    } else if (file.endsWith('.json')) out.push({ file, doc: JSON.parse(text) as Json });
  }
  return out;
}

const T = '\u0000T\u0000';
const O = '\u0000O\u0000';
const N = -4242424242;

/** Falco alerts that give an Observation with the default Ingester (internal alerts are dropped by it). */
export function falcoBases(): Json[] {
  return documents(corpusDir('falco'))
    .map((d) => d.doc)
    .filter((a) => a.source !== 'internal' && !String(a.rule ?? '').startsWith('Falco internal'));
}

type Hole = 'time' | 'output' | 'num';

/** A template per base alert: the JSON text cut at its holes (time, output, output_fields evt.num), in order. */
function falcoTemplates(): { parts: string[]; holes: Hole[]; output: string }[] {
  return falcoBases().map((base) => {
    const alert = structuredClone(base);
    alert.output_fields = { ...((alert.output_fields ?? {}) as Json), 'evt.num': N };
    alert.time = T;
    const output = typeof alert.output === 'string' ? alert.output : '';
    alert.output = O;
    const text = JSON.stringify(alert);
    const marks: [string, Hole][] = [
      [JSON.stringify(T), 'time'],
      [JSON.stringify(O), 'output'],
      [String(N), 'num'],
    ];
    const found = marks.map(([m, h]) => ({ m, h, at: text.indexOf(m) })).sort((a, b) => a.at - b.at);
    const parts: string[] = [];
    let from = 0;
    for (const f of found) {
      parts.push(text.slice(from, f.at));
      from = f.at + f.m.length;
    }
    parts.push(text.slice(from));
    return { parts, holes: found.map((f) => f.h), output };
  });
}

const EPOCH = Date.UTC(2026, 0, 1);

/** Distinct alert number `k` (any non-negative integer) as a request body. */
export function falcoAlertMaker(): (k: number) => string {
  const templates = falcoTemplates();
  return (k) => {
    const t = templates[k % templates.length]!;
    // A distinct instant per k: 1 ms apart, and k's last six digits in the sub-millisecond nanoseconds.
    const ms = EPOCH + k;
    const iso = new Date(ms).toISOString().slice(0, 19);
    const frac = `${String(ms % 1000).padStart(3, '0')}${String(k % 1_000_000).padStart(6, '0')}`;
    const values: Record<Hole, string> = {
      time: `"${iso}.${frac}Z"`,
      output: JSON.stringify(t.output.replace(/^\d\d:\d\d:\d\d\.\d{9}/, `${iso.slice(11)}.${frac}`)),
      num: String(k),
    };
    let s = t.parts[0]!;
    for (let i = 0; i < t.holes.length; i++) s += values[t.holes[i]!] + t.parts[i + 1]!;
    return s;
  };
}

/**
 * Request `seq` → body, at a duplicate ratio: of every 10 requests, `dupRatio × 10` repeat an alert sent shortly
 * before (within the last 100 distinct ones, well inside the 60 s dedup window), the rest are new. `offset` keeps
 * distinct alerts distinct across runs.
 */
export function falcoStream(dupRatio: number, offset: number): { body: (seq: number) => Buffer; distinct: number } {
  const make = falcoAlertMaker();
  const dupsPer10 = Math.round(dupRatio * 10);
  const state = { distinct: 0 };
  const body = (seq: number) => {
    const fresh = state.distinct === 0 || seq % 10 >= dupsPer10;
    let k: number;
    if (fresh) k = offset + state.distinct++;
    else {
      const back = (seq * 7919) % Math.min(state.distinct, 100);
      k = offset + state.distinct - 1 - back;
    }
    return Buffer.from(make(k));
  };
  return {
    body,
    get distinct() {
      return state.distinct;
    },
  };
}

/** A JSON array of `n` distinct alerts starting at `from` (fills the dedup cache fast). */
export function falcoBatch(from: number, n: number): Buffer {
  const make = falcoAlertMaker();
  const items: string[] = [];
  for (let i = 0; i < n; i++) items.push(make(from + i));
  return Buffer.from(`[${items.join(',')}]`);
}

// ---------------------------------------------------------------------------------------------------- audit

/** audit.k8s.io/v1 events of the corpus, as webhook batch items (no kind/apiVersion). */
export function auditBases(): Json[] {
  const out: Json[] = [];
  for (const { doc } of documents(corpusDir('audit'))) {
    const events = doc.kind === 'EventList' ? ((doc.items as Json[]) ?? []) : [doc];
    // v1 events, and the corpus's events with no apiVersion (log-backend lines, v1 shaped). Older versions differ.
    const v1 = (v: unknown) => v === undefined || v === 'audit.k8s.io/v1';
    for (const e of events) {
      if (!v1(doc.apiVersion) || !v1(e.apiVersion)) continue;
      const { kind: _k, apiVersion: _a, ...item } = e;
      out.push(item);
    }
  }
  return out;
}

/** EventList bodies of `size` events; batch b has auditIDs unique across batches. */
export function auditBatchMaker(size = 400): { body: (batch: number) => Buffer; bases: number } {
  const templates = auditBases().map((item) => JSON.stringify({ ...item, auditID: T }).split(JSON.stringify(T)));
  return {
    bases: templates.length,
    body: (batch) => {
      const items: string[] = [];
      for (let j = 0; j < size; j++) {
        const t = templates[j % templates.length]!;
        const n = batch * size + j;
        const id = `"b3e0c6a2-0000-4000-8000-${n.toString(16).padStart(12, '0')}"`;
        items.push(t.join(id));
      }
      return Buffer.from(
        `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${items.join(',')}]}`,
      );
    },
  };
}
