/**
 * A real Prometheus Alertmanager for delivery tests: built once from its Go module by scripts/build-alertmanager.sh
 * (cached under ~/.cache/zen-watcher/alertmanager), started on a free loopback port with a null receiver and no
 * clustering, queried through its API v2. When it cannot be built (no Go, no module proxy), `alertmanagerOrSkip`
 * returns the reason and tests report themselves skipped with it; under CI=true it throws (.ci/run builds it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './host.ts';

export interface Alertmanager {
  url: string;
  /** GET /api/v2/alerts (active, unprocessed, silenced and inhibited; resolved ones are not listed). */
  alerts(filter?: string[]): Promise<GettableAlert[]>;
  /** Stop (and, unless `keepData`, remove the data directory). start() again on the same port. */
  stop(keepData?: boolean): Promise<void>;
  start(): Promise<void>;
}

export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

let built: Promise<string> | undefined;

/** The binary, building it on first use (minutes when cold). */
export function alertmanagerBinary(): Promise<string> {
  built ??= promisify(execFile)('bash', [join(REPO, 'scripts/build-alertmanager.sh')], {
    maxBuffer: 16 << 20,
    timeout: 900_000,
  }).then((r) => r.stdout.trim().split('\n').at(-1)!);
  return built;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startAlertmanager(): Promise<Alertmanager> {
  const bin = await alertmanagerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'zw-alertmanager-'));
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    'route: { receiver: "null", group_wait: 1s, group_interval: 1s }\nreceivers: [{ name: "null" }]\n',
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async () => {
    child = spawn(
      bin,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err; // e.g. ENOENT: no binary at that path (reported below, not an uncaught error event)
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/-/ready`)).ok) return;
      } catch {}
      if (spawnError) throw new Error(`Alertmanager did not start: ${spawnError.message}`);
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`Alertmanager did not become ready:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await start();
  return {
    url,
    start,
    async alerts(filter = []) {
      const q = filter.map((f) => `filter=${encodeURIComponent(f)}`).join('&');
      const res = await fetch(`${url}/api/v2/alerts${q ? `?${q}` : ''}`);
      if (!res.ok) throw new Error(`GET /api/v2/alerts: ${res.status} ${await res.text()}`);
      return (await res.json()) as GettableAlert[];
    },
    async stop(keepData = false) {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An Alertmanager, or the reason there is none (for `t.skip(reason)`) — except under CI=true, where a missing
 * Alertmanager (no Go, no module proxy, a failed build) is a failure: CI must run the real-receiver tests.
 */
export async function alertmanagerOrSkip(): Promise<Alertmanager | string> {
  try {
    return await startAlertmanager();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return `no Alertmanager: ${(err as Error).message.split('\n').slice(0, 3).join(' ')} (bash scripts/build-alertmanager.sh)`;
  }
}
