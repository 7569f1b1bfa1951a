/**
 * What a plugin author does, as commands (docs/plugins/AUTHORING.md "Quick start"): scaffold with
 * `npx --prefix <zen-watcher> zen-watcher plugin new`, then `npm test` and `npm run typecheck` inside the plugin
 * directory. The commands run with the machine's npm and node, exactly as typed in a shell; the plugin lives in a
 * temporary directory outside the repo.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../support/host.ts';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line as an author types it (through the shell), with the test runner's nesting marker removed. */
export function sh(command: string, cwd: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
  const { NODE_TEST_CONTEXT: _nested, ...base } = process.env;
  return new Promise((resolve) => {
    const child = spawn(command, { cwd, shell: true, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** `npx --prefix <zen-watcher> zen-watcher plugin new NAME --kind KIND` in `cwd`; returns the plugin directory. */
export async function scaffold(
  cwd: string,
  name: string,
  kind: 'webhook' | 'informer' | 'destination',
): Promise<string> {
  const r = await sh(`npx --prefix ${JSON.stringify(REPO)} zen-watcher plugin new ${name} --kind ${kind}`, cwd);
  if (r.code !== 0) throw new Error(`plugin new failed: ${show(r)}`);
  return join(cwd, name);
}

export function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Edits a JSON file in place, as an author would in an editor. */
export function editJson(file: string, edit: (doc: Record<string, unknown>) => void): void {
  const doc = readJson(file);
  edit(doc);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
