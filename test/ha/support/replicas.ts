/**
 * zen-watcher replicas as real processes (`node core/cli/main.ts run`, kubernetes mode) for the HA suites. Each
 * slot has its own TcpProxy in front of the API server, so one replica's connectivity can be cut while it runs.
 * A restarted slot gets a new identity (`<slot>-g<generation>`), so every process's leader terms are told apart
 * in the recorder log. Logs go to one file per process (kept for a failing run).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../../controlplane/harness.ts';
import { kubeconfigVia, serverPort } from '../../support/control-plane.ts';
import { REPO } from '../../support/host.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';

export const HA_PLUGIN_DIR = join(REPO, 'test/ha/fixtures/ha-recorder');

export interface Replica {
  readonly slot: string;
  readonly identity: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly pid: number;
  readonly proxy: TcpProxy;
  readonly logFile: string;
  readonly startedAt: number;
  /** From spawn to listening (plugins loaded, Ingesters listed and applied). */
  readonly startupMs: number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stopped: boolean;
}

export const alive = (r: Replica) => r.child.exitCode === null && r.child.signalCode === null;

export class ReplicaSet {
  readonly #cp: ControlPlane;
  readonly #dir: string;
  readonly #env: Record<string, string>;
  readonly #proxies = new Map<string, { proxy: TcpProxy; kubeconfig: string }>();
  readonly #generation = new Map<string, number>();
  /** Every process ever started, in start order. */
  readonly all: Replica[] = [];

  constructor(cp: ControlPlane, dir: string, env: Record<string, string>) {
    this.#cp = cp;
    this.#dir = dir;
    this.#env = env;
  }

  /** The processes not (yet) exited, SIGSTOPped ones included. */
  get live(): Replica[] {
    return this.all.filter(alive);
  }

  /** Starts the next generation of `slot`; resolves once it listens. */
  async start(slot: string, extraEnv: Record<string, string> = {}, timeoutMs = 60_000): Promise<Replica> {
    let p = this.#proxies.get(slot);
    if (!p) {
      const proxy = await startTcpProxy('127.0.0.1', serverPort(this.#cp));
      p = { proxy, kubeconfig: kubeconfigVia(this.#cp, proxy.port) };
      this.#proxies.set(slot, p);
    }
    p.proxy.restore();
    const gen = this.#generation.get(slot) ?? 0;
    this.#generation.set(slot, gen + 1);
    const identity = `${slot}-g${gen}`;
    const logFile = join(this.#dir, `${identity}.log`);
    const spawnedAt = Date.now();
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [join(REPO, 'core/cli/main.ts'), 'run'], {
      env: {
        ...process.env,
        ZEN_MODE: 'kubernetes',
        PORT: '0',
        ZEN_LISTEN_HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        KUBECONFIG: p.kubeconfig,
        POD_NAME: identity,
        ZEN_PLUGIN_DIRS: HA_PLUGIN_DIR,
        // The suites written for one leader check that it alone wrote every informer Observation: unsharded unless
        // a suite sets ZEN_SHARD_SLOTS itself (autoshard.test.ts; ADR 0020).
        ZEN_SHARD_SLOTS: '1',
        ...this.#env,
        ...extraEnv,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let head = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${identity} did not listen in ${timeoutMs} ms:\n${head}`)),
        timeoutMs,
      );
      const onData = (d: Buffer) => {
        log.write(d);
        if (head.length < 200_000) head += d;
        const m = /"port":(\d+)/.exec(head);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${identity} exited (${code ?? signal}) before listening:\n${head}`));
      });
    });
    child.stderr!.removeAllListeners('data');
    child.stderr!.pipe(log);
    const r: Replica = {
      slot,
      identity,
      child,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      proxy: p.proxy,
      logFile,
      startedAt: Date.now(),
      startupMs: Date.now() - spawnedAt,
      exited,
      stopped: false,
    };
    this.all.push(r);
    return r;
  }

  /** Sends `signal`; for SIGKILL/SIGTERM waits for the exit (SIGTERM: at most `graceMs`, then SIGKILL). */
  async signal(r: Replica, signal: NodeJS.Signals, graceMs = 30_000): Promise<number | null> {
    if (!alive(r)) return r.child.exitCode;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      r.child.kill(signal);
      r.stopped = signal === 'SIGSTOP';
      return null;
    }
    if (r.stopped) r.child.kill('SIGCONT');
    r.child.kill(signal);
    const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
    const code = await r.exited;
    clearTimeout(timer);
    return code;
  }

  /** Kills every process (SIGKILL) and closes the proxies. */
  async close(): Promise<void> {
    await Promise.all(this.live.map((r) => this.signal(r, 'SIGKILL')));
    await Promise.all([...this.#proxies.values()].map((p) => p.proxy.close()));
  }
}

/** GET /metrics (1 s timeout); undefined when the process does not answer (dead, stopped, busy). */
export async function scrape(r: Replica, timeoutMs = 1000): Promise<string | undefined> {
  if (!alive(r) || r.stopped) return undefined;
  try {
    const res = await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return await res.text();
  } catch {
    return undefined;
  }
}

/** `zen_watcher_leader{lease=...}` of one replica: 1, 0, or undefined when unreachable. */
export async function leaderGauge(r: Replica, timeoutMs = 1000): Promise<number | undefined> {
  const text = await scrape(r, timeoutMs);
  if (text === undefined) return undefined;
  const m = /^zen_watcher_leader\{[^}]*\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Sum of a counter over the label sets matching `labels` (a regex over the `{...}` text). */
export function counter(text: string | undefined, name: string, labels = /.*/): number {
  if (!text) return 0;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels.test(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

export async function ready(r: Replica, timeoutMs = 1000): Promise<boolean> {
  if (!alive(r) || r.stopped) return false;
  try {
    return (await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) })).status === 200;
  } catch {
    return false;
  }
}
