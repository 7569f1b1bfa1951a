/**
 * The fault domain on its own (ADR 0015): attribution by async context and by stack, the disable limit, and
 * crash-only for an error no plugin can be blamed for. Process-level behaviour runs in a child process, since the
 * test runner installs its own handlers in this one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { PluginRecord } from '../loader/index.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PluginFaults, stackFiles } from './plugin-faults.ts';

const record = (name: string, dir: string): PluginRecord => ({
  name,
  version: '1.0.0',
  dir,
  status: 'loaded',
  reason: '',
});

test('stackFiles reads paths and file: URLs from V8 frames, top first', () => {
  const stack = [
    'Error: x',
    '    at Timeout._onTimeout (file:///opt/plugins/a%20b/index.js:3:11)',
    '    at listOnTimeout (node:internal/timers:608:17)',
    '    at /opt/plugins/c/lib.js:10:2',
    '    at Object.<anonymous> (/opt/host/core/x.ts:1:1)',
  ].join('\n');
  assert.deepEqual(stackFiles(stack), ['/opt/plugins/a b/index.js', '/opt/plugins/c/lib.js', '/opt/host/core/x.ts']);
});

test('a fault is attributed by stack when no plugin context is active, and the limit disables the plugin', () => {
  const metrics = createMetrics();
  const records = [record('alpha', '/opt/plugins/alpha'), record('alphabet', '/opt/plugins/alphabet')];
  const faults = new PluginFaults(records, { log: createLogger({ level: 'silent' }), metrics, limit: 2 });
  const err = (file: string) => Object.assign(new Error('boom'), { stack: `Error: boom\n    at cb (${file}:1:1)` });
  assert.equal(faults.handle('uncaught_exception', err('/opt/host/core/x.ts'), undefined), false, 'a host frame');
  assert.equal(faults.handle('uncaught_exception', err('/opt/plugins/alphabet/i.js'), undefined), true);
  assert.equal(records[1]!.faults, 1);
  assert.equal(records[0]!.faults, undefined, 'a directory prefix is not a match: alpha is not alphabet');
  assert.equal(faults.handle('unhandled_rejection', 'not an Error, no stack', undefined), false);
  assert.equal(faults.disabled('alphabet'), undefined);
  faults.handle('unhandled_rejection', err('file:///opt/plugins/alphabet/i.js'), undefined);
  assert.equal(records[1]!.status, 'disabled');
  assert.match(
    faults.disabled('alphabet') ?? '',
    /^disabled after 2 uncontained faults within 600 s \(last: unhandled rejection: Error: boom\)/,
  );
});

/** Runs a script that uses the fault domain in a fresh process; resolves with its exit code and output. */
function runScript(body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = join(tmpdir(), `zw-faults-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'script.ts');
  const mod = (p: string) => JSON.stringify(pathToFileURL(join(import.meta.dirname, p)).href);
  writeFileSync(
    file,
    `import { PluginFaults } from ${mod('plugin-faults.ts')};
import { createLogger } from ${mod('../telemetry/logger.ts')};
import { createMetrics } from ${mod('../telemetry/metrics.ts')};
const metrics = createMetrics();
const record = { name: 'p', version: '1.0.0', dir: '/nowhere/p', status: 'loaded', reason: '' };
const faults = new PluginFaults([record], { log: createLogger({ level: 'silent' }), metrics });
${body}`,
  );
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

test("a plugin's timer throw and unhandled rejection are contained; the process lives on", async () => {
  const r = await runScript(`
faults.run(record, () => {
  setTimeout(() => { throw new Error('from a timer'); }, 1);
  void Promise.reject(new Error('unhandled'));
});
setTimeout(() => console.log('alive', record.faults, record.lastFault), 50);
`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'alive 2 uncaught exception: Error: from a timer');
});

test('an error outside any plugin ends the process with exit 1 and a fatal log line (crash-only)', async () => {
  const r = await runScript(`
setTimeout(() => { throw new Error('a host bug'); }, 1);
setTimeout(() => console.log('still alive'), 200);
`);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'the process ended before its next timer');
  const line = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { level: string; msg: string; err: string };
  assert.equal(line.level, 'fatal');
  assert.match(line.msg, /uncaught exception outside any plugin \(a zen-watcher bug\): exiting/);
  assert.match(line.err, /a host bug/);

  const rejected = await runScript(`void Promise.reject(new Error('host rejection'));
setTimeout(() => console.log('still alive'), 200);`);
  assert.equal(rejected.code, 1);
  assert.match(rejected.stderr, /"msg":"unhandled rejection outside any plugin/);
  assert.match(rejected.stderr, /"err":"Error: host rejection/);
});
