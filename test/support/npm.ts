/**
 * Runs zen-watcher through npm (`npm start`, `npx zen-watcher run`) as a user or a process manager does, and finds
 * the server process below npm, for the signal tests.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { REPO } from './host.ts';
import { waitFor } from './wait.ts';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes below `root` (from /proc), with their command lines. */
export function descendants(root: number): { pid: number; cmd: string }[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out: { pid: number; cmd: string }[] = [];
  for (const pid of parentOf.keys()) {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) {
      if (p !== root) continue;
      try {
        out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') });
      } catch {}
      break;
    }
  }
  return out;
}

export interface NpmRun {
  npm: ChildProcess;
  server: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function startThroughNpm(
  args: string[],
  dataDir: string,
  env: Record<string, string> = {},
): Promise<NpmRun> {
  const npm = spawn('npm', args, {
    cwd: REPO,
    // A process group of its own, as in a terminal: Ctrl-C goes to every process in it.
    detached: true,
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      ZEN_MODE: 'standalone',
      PORT: '0',
      ZEN_LISTEN_HOST: '127.0.0.1',
      ZEN_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  npm.stderr!.on('data', (d) => (stderr += d));
  npm.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the server listens', () => /listening on/.test(stderr), 30_000);
    const server = descendants(npm.pid!).find((p) =>
      /^\S*node .*(core\/cli\/main\.ts|zen-watcher(\.js)?) run/.test(p.cmd),
    );
    assert.ok(server, `no zen-watcher process below npm: ${JSON.stringify(descendants(npm.pid!))}`);
    return { npm, server: server.pid, stderr: () => stderr, exited };
  } catch (err) {
    for (const p of descendants(npm.pid!)) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    npm.kill('SIGKILL');
    throw err;
  }
}

export async function expectGracefulStop(run: NpmRun, signalled: string): Promise<void> {
  await waitFor(`the server exits after ${signalled}`, () => !alive(run.server), 20_000);
  assert.match(run.stderr(), /"msg":"shutting down"/);
  assert.match(run.stderr(), /"msg":"stopped"/, 'the server finished its graceful stop');
  await run.exited;
}

/** Whatever happened, nothing started by a test outlives it. */
export function killAll(run: NpmRun | undefined): void {
  if (!run) return;
  for (const p of descendants(run.npm.pid!)) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  if (alive(run.server)) process.kill(run.server, 'SIGKILL');
  if (run.npm.exitCode === null && run.npm.signalCode === null) run.npm.kill('SIGKILL');
}
