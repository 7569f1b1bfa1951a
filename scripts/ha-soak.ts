/**
 * Runs the HA failover suite (test/ha/failover.test.ts) several times and prints the combined measurements as the
 * Markdown tables of docs/HIGH_AVAILABILITY.md. Each run is a fresh control plane and three fresh replicas.
 *
 *   node scripts/ha-soak.ts [--runs 2] [--rounds 5] [--json out.json]
 *
 * --rounds sets ZEN_HA_ROUNDS (each fault that many times per run). Exit code 1 if any run failed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const runs = Number(arg('runs', '2'));
const rounds = arg('rounds', '5');
const jsonOut = arg('json', '');

interface Round {
  kind: string;
  m: Record<string, number | string | boolean>;
}
interface Run {
  ok: boolean;
  report?: Record<string, unknown> & {
    failover: Record<string, { webhookErrors: { attempts: number; failed: number } }>;
    observations: Record<string, unknown>;
    leaderWork: Record<string, number>;
    webhooks: Record<string, unknown>;
    machine: unknown;
  };
  rounds: Round[];
}

const results: Run[] = [];
const dir = mkdtempSync(join(tmpdir(), 'zw-soak-'));
for (let i = 1; i <= runs; i++) {
  const out = join(dir, `run-${i}.json`);
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    ['--import', './test/support/register.ts', '--test', 'test/ha/failover.test.ts'],
    {
      cwd: REPO,
      env: { ...process.env, ZEN_HA_ROUNDS: rounds, ZEN_HA_REPORT: out },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  let parsed: { report: Run['report']; rounds: Round[] } | undefined;
  try {
    parsed = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    parsed = undefined;
  }
  const ok = r.status === 0;
  results.push({ ok, report: parsed?.report, rounds: parsed?.rounds ?? [] });
  console.error(`run ${i}/${runs}: ${ok ? 'pass' : 'FAIL'} in ${Math.round((Date.now() - started) / 1000)} s`);
  if (!ok) console.error(`${r.stdout}`.split('\n').slice(-60).join('\n'));
}

const all = results.flatMap((r) => r.rounds);
const values = (kind: string, m: string) =>
  all.filter((r) => r.kind === kind && typeof r.m[m] === 'number').map((r) => r.m[m] as number);
const fmt = (v: number[]) => {
  if (v.length === 0) return '–';
  const s = [...v].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return `${(q(0.5) / 1000).toFixed(2)} s / ${(s.at(-1)! / 1000).toFixed(2)} s`;
};
const kinds = ['kill9-leader', 'sigterm-leader', 'sigstop-leader', 'cut-leader', 'kill9-follower', 'restart-in-burst'];
const lines = [
  `${results.filter((r) => r.ok).length}/${runs} runs passed, ${rounds} rounds of each fault per run (${all.length} faults).`,
  '',
  '| fault | new leader term starts (p50 / max) | its first leader-only write | informer sources caught up | webhook attempts failed (all retried) |',
  '|---|---|---|---|---|',
];
for (const k of kinds) {
  const e = results.reduce(
    (acc, r) => {
      const w = r.report?.failover[k]?.webhookErrors;
      return { attempts: acc.attempts + (w?.attempts ?? 0), failed: acc.failed + (w?.failed ?? 0) };
    },
    { attempts: 0, failed: 0 },
  );
  const rate = e.attempts ? ((100 * e.failed) / e.attempts).toFixed(1) : '0';
  lines.push(
    `| ${k} | ${fmt(values(k, 'failoverMs'))} | ${fmt(values(k, 'firstLeaderWriteMs'))} | ${fmt(values(k, 'caughtUpMs'))} | ${e.failed}/${e.attempts} (${rate} %) |`,
  );
}
lines.push('');
for (const r of results) {
  lines.push(
    `- ${r.ok ? 'pass' : 'FAIL'}: observations ${JSON.stringify(r.report?.observations)}; leader work ${JSON.stringify(r.report?.leaderWork)}`,
  );
}
console.log(lines.join('\n'));
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
