// Issue #16: the wiring files stay small. A file in core/host over 250 lines says why at its top ("Over 250 lines").
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

test('core/host: no file over 250 lines without a reason stated at its top', () => {
  const unexplained: string[] = [];
  for (const name of readdirSync(import.meta.dirname).filter((n) => n.endsWith('.ts'))) {
    const lines = readFileSync(join(import.meta.dirname, name), 'utf8').split('\n');
    if (lines.length - 1 <= 250) continue;
    const head = lines.slice(0, 40).join('\n');
    if (!/Over 250 lines( on purpose)?:/.test(head)) unexplained.push(`${name}: ${lines.length - 1} lines`);
  }
  assert.deepEqual(unexplained, [], 'split the file along its seams, or say at its top why it stays one unit');
});
