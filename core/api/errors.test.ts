import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, ERRORS, errorMessage, isZwError, ZwError, zwError } from './index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

test('docs/ERRORS.md lists every code of the table with its status and template, and nothing else', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'ERRORS.md'), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `(ZW_ERR_[A-Z_]+)` \| (\d{3}) \| (.*?) \| .* \|$/gm)].map((m) => [
      m[1],
      [Number(m[2]), m[3]],
    ]),
  );
  const table = new Map(Object.entries(ERRORS).map(([c, e]) => [c, [e.status, e.message.replaceAll('|', '\\|')]]));
  assert.deepEqual(rows, table);
});

test('every ZW_ERR_ code used in core and plugins is in the table', () => {
  const unknown: string[] = [];
  for (const file of [...sources(join(ROOT, 'core')), ...sources(join(ROOT, 'plugins'))]) {
    if (file.includes('node_modules')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/'(ZW_ERR_[A-Z_]+)'/g))
      if (!(m[1]! in ERRORS)) unknown.push(`${relative(ROOT, file)}: ${m[1]}`);
  }
  assert.deepEqual(unknown, []);
});

test('core throws only coded errors: no plain Error, TypeError or RangeError', () => {
  const plain: string[] = [];
  for (const file of sources(join(ROOT, 'core'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new (Error|TypeError|RangeError)\(/g)) {
      const line = text.slice(0, m.index).split('\n').length;
      plain.push(`${relative(ROOT, file)}:${line}`);
    }
    for (const m of text.matchAll(/class (\w+) extends Error\b/g))
      if (m[1] !== 'ZwError') plain.push(`${relative(ROOT, file)}: ${m[1]}`);
  }
  assert.deepEqual(plain, [], 'throw a ZwError (or a subclass) with a code from core/api/errors.ts');
});

test('templates, status, and instanceof across copies of the module', () => {
  const e = zwError('ZW_ERR_NOT_OWNER', { plugin: 'p', action: 'emit', ingester: 'ns/a', handler: 'h' });
  assert.equal(e.message, "plugin 'p' cannot emit for Ingester ns/a: it is served by 'h'");
  assert.equal(e.status, 500);
  assert.equal(errorMessage('ZW_ERR_NOT_READY', {}), 'not ready: {reason}', 'a missing parameter stays visible');
  assert.equal(ERROR_CODES.ZW_ERR_QUEUE_FULL, 503);
  // A ZwError made by another copy of this module (an SDK next to the host) carries the same global brand.
  const foreign = Object.defineProperty(new Error('x'), Symbol.for('zen-watcher.ZwError'), { value: true });
  assert.ok(foreign instanceof ZwError);
  assert.ok(isZwError(foreign));
  assert.ok(!(new Error('plain') instanceof ZwError));
});
