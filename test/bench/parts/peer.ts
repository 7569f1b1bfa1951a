/**
 * 8. The peer: Falcosidekick, the tool people run to receive Falco's webhook, next to zen-watcher on the same load
 * (issue #18 item 4). Four servers, each its own process on the same machine, get the same distinct Falco alerts
 * (16 connections, closed loop, rounds alternating between the servers, median round):
 *
 * - zen-watcher standalone (a 200 means the Observation is stored in node:sqlite);
 * - Falcosidekick with no outputs (nothing stored);
 * - Falcosidekick with a webhook output (to a bare node:http receiver; queued in memory, lost on a crash); its CPU
 *   is given with and without the receiver's;
 * - the bare node:http baseline (bare-server.ts).
 *
 * Ratios are against Falcosidekick with no outputs. Idle RSS after start, before any load.
 *
 * Falcosidekick is not fetched by the bench: the Go module proxy refuses its module versions here, so the part
 * takes a binary, `ZEN_BENCH_FALCOSIDEKICK=/path/to/falcosidekick`, built from the source repository at the pinned
 * tag (docs/BENCHMARKS.md):
 *
 *   git clone --depth 1 --branch 2.34.1 https://github.com/falcosecurity/falcosidekick && cd falcosidekick && go build .
 *
 * Without it the part is skipped with that reason.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LoadResult, runLoad } from '../../../scripts/loadgen.ts';
import { type BenchContext, median } from '../lib/context.ts';
import { watchNoise } from '../lib/machine.ts';
import { falcoStream } from '../lib/payloads.ts';
import { cpuSeconds, settledRssMb, startBare, startZenStandalone, waitIdle } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';
import { CONNECTIONS, lat } from './ingest.ts';

export const FALCOSIDEKICK_TAG = '2.34.1';
const SECTION = 8;
/** Unmeasured load before the measured rounds for the Node servers (see the warm-up below). */
const NODE_WARM_UP_MS = (ctx: BenchContext) => ctx.pick(10_000, 3_000);
const BUILD = `git clone --depth 1 --branch ${FALCOSIDEKICK_TAG} https://github.com/falcosecurity/falcosidekick && cd falcosidekick && go build .`;

interface Server {
  /** Unmeasured load before the first measured round. */
  warmUpMs: number;
  label: string;
  url: string;
  pid: number;
  /** Extra processes whose CPU belongs to this server's work (the webhook receiver). */
  extraPids: number[];
  idleRssMb: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startSidekick(bin: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH ?? '', LISTENADDRESS: '127.0.0.1', LISTENPORT: String(port), DEBUG: 'false', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`falcosidekick exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })).ok) return { url, child };
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`falcosidekick did not answer /ping within 20 s: ${stderr}`);
    }
    await sleep(100);
  }
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

export async function peerPart(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  const bin = process.env.ZEN_BENCH_FALCOSIDEKICK;
  if (!bin) {
    report.skip({
      section: SECTION,
      name: `peer: Falcosidekick ${FALCOSIDEKICK_TAG}`,
      reason: `ZEN_BENCH_FALCOSIDEKICK not set (the Go module proxy refuses falcosidekick here); build one: ${BUILD}`,
    });
    return;
  }
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`ZEN_BENCH_FALCOSIDEKICK=${bin} is not an executable file; build one: ${BUILD}`);
  }
  const ms = ctx.pick(4000, 2500);
  const rounds = ctx.pick(3, 1);
  const servers: Server[] = [];
  const noise = watchNoise();
  try {
    const zen = await startZenStandalone({ unlimited: true });
    servers.push({
      label: 'zen-watcher standalone (stored in node:sqlite)',
      warmUpMs: NODE_WARM_UP_MS(ctx),
      url: `${zen.url}/ingest/falco`,
      pid: zen.pid,
      extraPids: [],
      idleRssMb: await settledRssMb(zen.pid),
      stop: async () => {
        await zen.stop();
      },
    });
    const plain = await startSidekick(bin, {});
    servers.push({
      label: `Falcosidekick ${FALCOSIDEKICK_TAG}, no outputs (nothing stored)`,
      warmUpMs: 1000,
      url: `${plain.url}/`,
      pid: plain.child.pid!,
      extraPids: [],
      idleRssMb: await settledRssMb(plain.child.pid!),
      stop: () => stopChild(plain.child),
    });
    const receiver = await startBare();
    const hooked = await startSidekick(bin, { WEBHOOK_ADDRESS: `${receiver.url}/hook` });
    servers.push({
      label: `Falcosidekick ${FALCOSIDEKICK_TAG}, webhook output (queued in memory)`,
      warmUpMs: 1000,
      url: `${hooked.url}/`,
      pid: hooked.child.pid!,
      extraPids: [receiver.pid],
      idleRssMb: await settledRssMb(hooked.child.pid!),
      stop: async () => {
        await stopChild(hooked.child);
        await receiver.stop();
      },
    });
    const bare = await startBare();
    servers.push({
      label: 'bare node:http (JSON.parse, 202)',
      warmUpMs: NODE_WARM_UP_MS(ctx),
      url: `${bare.url}/ingest/falco`,
      pid: bare.pid,
      extraPids: [],
      idleRssMb: await settledRssMb(bare.pid),
      stop: () => bare.stop(),
    });

    const results = new Map<Server, { r: LoadResult; cores: number; withExtra: number }[]>();
    // Unmeasured load first. A Node process spends its first seconds of load compiling (V8's optimizing compilers
    // run on background threads: after 1.5 s of load zen-watcher still compiled ~180 functions in the next 4 s,
    // 20-25 % of its CPU per alert), so a 1 s warm-up measured its start-up rather than its CPU per alert. The Go
    // binaries have nothing to compile and keep 1 s (the webhook-output variant queues everything in memory).
    for (const s of servers) {
      results.set(s, []);
      await runLoad({
        target: s.url,
        rate: 'max',
        durationMs: s.warmUpMs,
        concurrency: CONNECTIONS,
        body: falcoStream(0, ctx.nextOffset()).body,
      });
    }
    for (let i = 0; i < rounds; i++) {
      for (const s of servers) {
        const c0 = cpuSeconds(s.pid);
        const e0 = s.extraPids.map(cpuSeconds);
        const body = falcoStream(0, ctx.nextOffset()).body;
        const r = await runLoad({ target: s.url, rate: 'max', durationMs: ms, concurrency: CONNECTIONS, body });
        const secs = r.elapsedMs / 1000;
        const cores = (cpuSeconds(s.pid) - c0) / secs;
        // Nothing of this round may run into the next server's: Falcosidekick's webhook output keeps sending what it
        // queued (and its receiver keeps parsing it) after the load stops, zen-watcher finishes its commits and WAL
        // checkpoint. Wait until each process is idle; the drain's CPU counts for the webhook variant ("with the
        // receiver": Falcosidekick's own sending after the round and the receiver's, over the same span).
        for (const p of [s.pid, ...s.extraPids]) await waitIdle(p, 60_000);
        const extra = s.extraPids.reduce((a, p, j) => a + cpuSeconds(p) - (e0[j] ?? 0), 0) / secs;
        const drained = s.extraPids.length ? (cpuSeconds(s.pid) - c0) / secs - cores : 0;
        results.get(s)?.push({ r, cores, withExtra: cores + drained + extra });
      }
    }
    const med = new Map(servers.map((s) => [s, median(results.get(s) ?? [], (x) => x.r.okRate)]));
    const peer = med.get(servers[1]!)!;
    const peerCpu = (peer.cores * 1e6) / peer.r.okRate;
    for (const s of servers) {
      const m = med.get(s)!;
      const cpu = (m.cores * 1e6) / m.r.okRate;
      const cpuAll = (m.withExtra * 1e6) / m.r.okRate;
      report.add({
        section: SECTION,
        name: `peer: ${s.label}`,
        unit: 'ev/s',
        value: m.r.okRate,
        detail: `${lat(m.r)}; ${fmt(cpu)} µs CPU/alert${s.extraPids.length ? ` (${fmt(cpuAll)} with the receiver)` : ''} (${fmt(cpu / peerCpu)}× the no-output peer's); idle RSS ${fmt(s.idleRssMb)} MB; ${JSON.stringify(m.r.statuses)}`,
        baseline: peer.r.okRate,
        baselineDetail: `${lat(peer.r)}; ${fmt(peerCpu)} µs CPU/alert`,
        baselineName: 'Falcosidekick, no outputs',
        better: 'higher',
      });
    }
    const n = noise();
    report.note(
      `peer: ${rounds} rounds of ${ms} ms per server after unmeasured load (${NODE_WARM_UP_MS(ctx)} ms for the Node servers, 1000 ms for Falcosidekick), ${CONNECTIONS} connections, distinct alerts; background CPU ${fmt(n.otherPct)} %, load ${fmt(n.load1)}`,
    );
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
  }
}
