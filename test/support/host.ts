/**
 * Test helpers to run zen-watcher for real: in-process (startHost with a temp config and data dir) or as a child
 * process (the CLI, exactly as `npm start` runs it). Both listen on an ephemeral loopback port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readEnv } from '../../core/config/env.ts';
import { type Host, startHost } from '../../core/host/host.ts';
import type { ObservationSink } from '../../core/sinks/types.ts';
import { createLogger } from '../../core/telemetry/logger.ts';

export const REPO = new URL('../..', import.meta.url).pathname;

export function tempDir(prefix = 'zw-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (name → content) into a fresh directory. */
export function writeConfigDir(files: Record<string, string>, dir = tempDir('zw-config-')): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export function webhookIngester(name: string, path: string, extra = ''): string {
  return `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: ${name}, namespace: default }
spec:
  source: ${name}
  plugin: webhook
  ingester: webhook
  webhook: { path: ${path} }
${extra}`;
}

export interface TestHost {
  host: Host;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestHost(opts: {
  configDir: string;
  env?: Record<string, string>;
  sink?: ObservationSink;
  dataDir?: string;
  /** The host's logger (default: silent, or the level ZEN_TEST_LOG names). */
  log?: Logger;
}): Promise<TestHost> {
  const dataDir = opts.dataDir ?? tempDir('zw-data-');
  const env = readEnv({
    ZEN_MODE: 'standalone',
    PORT: '0',
    ZEN_LISTEN_HOST: '127.0.0.1',
    ZEN_CONFIG_DIR: opts.configDir,
    ZEN_DATA_DIR: dataDir,
    ...opts.env,
  });
  const host = await startHost({
    env,
    log: opts.log ?? createLogger({ level: process.env.ZEN_TEST_LOG ?? 'silent' }),
    ...(opts.sink ? { sink: opts.sink } : {}),
  });
  return { host, url: `http://127.0.0.1:${host.port}`, dataDir, stop: () => host.stop('test done') };
}

export interface HostProcess {
  child: ChildProcess;
  url: string;
  pid: number;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `node core/cli/main.ts ...args` (Node 24: this test process's own binary). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'core/cli/main.ts'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The node arguments of `npm start` (package.json: `exec node <args> run`), with the script's path made absolute:
 * what the benchmarks run, so their figures are those of `npm start`.
 */
export function npmStartArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const m = /^exec node (.+) run$/.exec(pkg.scripts.start);
  if (!m) throw new Error(`package.json start script is not 'exec node … run': ${pkg.scripts.start}`);
  return m[1]!.split(/\s+/).map((a) => (a.startsWith('-') ? a : join(REPO, a)));
}

export async function startHostProcess(
  env: Record<string, string>,
  timeoutMs = 20_000,
  opts: { asNpmStart?: boolean } = {},
): Promise<HostProcess> {
  const entry = opts.asNpmStart ? npmStartArgs() : [join(REPO, 'core/cli/main.ts')];
  const child = spawn(process.execPath, [...entry, 'run'], {
    env: { ...process.env, ZEN_MODE: 'standalone', PORT: '0', ZEN_LISTEN_HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /"port":(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stderr: () => stderr,
    // A process that does not exit within 30 s of the signal is killed, and stop() resolves null.
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, 30_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill(signal);
      }),
  };
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** RSS of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> | undefined };
}
