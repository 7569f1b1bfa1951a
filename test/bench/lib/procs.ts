/**
 * Processes the benchmarks run: zen-watcher as a real child process (test/support startHostProcess with the entry
 * point and V8 flags of `npm start`, exactly what `npm start` runs), the bare node:http baseline, and helpers to
 * read what they expose (/metrics, RSS, profiles).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { cleanup, type HostProcess, REPO, rssOf, startHostProcess, tempDir } from '../../support/host.ts';

export const BENCH_PLUGINS = join(REPO, 'test/bench/plugins');
export const EVENTLOOP_PATH = '/bench/eventloop';

export const EVENTLOOP_INGESTER = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: bench-eventloop, namespace: default }
spec:
  source: bench-eventloop
  plugin: bench-eventloop
  ingester: webhook
  webhook: { path: ${EVENTLOOP_PATH} }
`;

/**
 * config/standalone (falco, audit, generic webhook, as `npm start` has them) plus `extra` files. With
 * `unlimited`, each Ingester gets `rateLimit: {enabled: false}`: the default per-source bucket (100/s, burst 200)
 * would otherwise answer 429 long before the pipeline is the limit.
 */
export function standaloneConfig(extra: Record<string, string> = {}, unlimited = false): string {
  const dir = tempDir('zw-bench-config-');
  const src = join(REPO, 'config/standalone');
  for (const f of readdirSync(src)) {
    if (!unlimited) {
      copyFileSync(join(src, f), join(dir, f));
      continue;
    }
    const docs = parseAllDocuments(readFileSync(join(src, f), 'utf8')).map((d) => {
      const doc = d.toJS() as { spec?: Record<string, unknown> };
      if (doc?.spec) doc.spec.rateLimit = { enabled: false };
      return stringify(doc);
    });
    writeFileSync(join(dir, f), docs.join('---\n'));
  }
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * Limits a benchmark must lift to measure capacity rather than policy: the per-client-IP bucket (default 200/s,
 * burst 400; every request here comes from 127.0.0.1). Said in docs/BENCHMARKS.md.
 */
export const UNLIMITED_ENV = { ZEN_CLIENT_RATE_LIMIT_RPS: '0' };

export interface ZenOptions {
  env?: Record<string, string>;
  /** Load test/bench/plugins (the event-loop probe) and serve its Ingester. Standalone only. */
  probe?: boolean;
  /** Turn the Ingesters' rate limits and the per-client limit off (see standaloneConfig, UNLIMITED_ENV). */
  unlimited?: boolean;
  /** Write a V8 CPU profile of the process into this directory (NODE_OPTIONS=--cpu-prof). */
  profileDir?: string;
  /** Extra config files (name → YAML), written after the defaults (the same name replaces one). */
  extra?: Record<string, string>;
}

export interface Zen extends HostProcess {
  dataDir: string;
}

/** zen-watcher in standalone mode with the default Ingesters and a fresh store in a temp dir. */
export async function startZenStandalone(o: ZenOptions = {}): Promise<Zen> {
  const dataDir = tempDir('zw-bench-data-');
  const configDir = standaloneConfig(
    { ...(o.probe ? { 'bench-eventloop.yaml': EVENTLOOP_INGESTER } : {}), ...o.extra },
    o.unlimited,
  );
  const p = await startHostProcess(
    {
      ZEN_MODE: 'standalone',
      ZEN_CONFIG_DIR: configDir,
      ZEN_DATA_DIR: dataDir,
      ...(o.probe ? { ZEN_PLUGIN_DIRS: BENCH_PLUGINS } : {}),
      ...(o.unlimited ? UNLIMITED_ENV : {}),
      ...profileEnv(o.profileDir),
      ...o.env,
    },
    60_000,
    { asNpmStart: true }, // bin/zen-watcher.js with the start script's V8 flags, as `npm start` and the image
  );
  await waitReady(p.url);
  return withCleanup(Object.assign(p, { dataDir }), dataDir, configDir);
}

/** stop() also removes the process's temp directories (a store can be tens of MB). */
export function withCleanup(z: Zen, ...dirs: string[]): Zen {
  const stop = z.stop;
  z.stop = async (signal) => {
    const code = await stop(signal);
    cleanup(...dirs);
    return code;
  };
  return z;
}

export function profileEnv(dir: string | undefined): Record<string, string> {
  return dir ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim() } : {};
}

export async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

export interface Bare {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The baseline server (bare-server.ts) as a child process on an ephemeral loopback port. */
export async function startBare(): Promise<Bare> {
  const child = spawn(process.execPath, [join(REPO, 'test/bench/bare-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : Number.NaN;
}

/** Event-loop delay of a zen-watcher process with the probe: reset, or read (seconds). */
export async function eventLoop(url: string, reset: boolean): Promise<{ p50: number; p99: number; max: number }> {
  const res = await fetch(`${url}${EVENTLOOP_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(reset ? { reset: true } : {}),
  });
  if (!res.ok) throw new Error(`event-loop probe answered ${res.status}: ${await res.text()}`);
  if (reset) return { p50: 0, p99: 0, max: 0 };
  const text = await metricsText(url);
  return {
    p50: metricValue(text, 'zen_watcher_plugin_bench_eventloop_p50_seconds'),
    p99: metricValue(text, 'zen_watcher_plugin_bench_eventloop_p99_seconds'),
    max: metricValue(text, 'zen_watcher_plugin_bench_eventloop_max_seconds'),
  };
}

/** Full GC inside a zen-watcher process started with the probe and NODE_OPTIONS=--expose-gc. */
export async function forceGc(url: string): Promise<void> {
  const res = await fetch(`${url}${EVENTLOOP_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"gc":true}',
  });
  if (!res.ok) throw new Error(`event-loop probe answered ${res.status}: ${await res.text()}`);
}

export async function bareEventLoop(url: string, reset: boolean): Promise<{ p50: number; p99: number; max: number }> {
  return (await fetch(`${url}/eventloop${reset ? '?reset=1' : ''}`)).json() as Promise<{
    p50: number;
    p99: number;
    max: number;
  }>;
}

export function rssMb(pid: number): number {
  return rssOf(pid) / 1024 / 1024;
}

/** RSS after the process has been idle for `settleMs` (the lowest of a few samples: no request in flight). */
export async function settledRssMb(pid: number, settleMs = 3000): Promise<number> {
  await sleep(settleMs);
  let low = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, rssMb(pid));
    await sleep(200);
  }
  return low;
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** utime + stime of a /proc `stat` line (process or thread), in seconds (clock ticks of 1/100 s). */
function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds per thread group of a process: `main` (the thread whose id is the pid: the event loop) and the others
 * by their kernel name without a trailing number (`WorkerThread`: worker_threads, e.g. the store's writer and
 * checkpointer; `V8Worker`: V8's platform threads, GC and compilation; `libuv-worker`: libuv's pool). A thread that
 * ended between two reads takes its CPU with it: compare reads taken while the same threads run.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const name =
      tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
    out.set(name, (out.get(name) ?? 0) + statCpuSeconds(stat));
  }
  return out;
}

/** Waits until the process uses less than 5 % of a core over a second (its backlog is done), up to `maxMs`. */
export async function waitIdle(pid: number, maxMs = 120_000): Promise<number> {
  const t0 = Date.now();
  let last = cpuSeconds(pid);
  while (Date.now() - t0 < maxMs) {
    await sleep(1000);
    const now = cpuSeconds(pid);
    if (now - last < 0.05) break;
    last = now;
  }
  return Date.now() - t0;
}

export function load1(): number {
  return loadavg()[0]!;
}
