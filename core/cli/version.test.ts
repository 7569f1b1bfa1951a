// `zen-watcher --version` names the package.json version, not a literal (issue #16 item 2: no hard-coded version).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HOST_API_VERSION } from '../api/index.ts';

const REPO = join(import.meta.dirname, '..', '..');

test('--version prints the version of package.json (a copy of the tree with another version says so)', () => {
  const root = mkdtempSync(join(tmpdir(), 'zw-version-'));
  try {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(join(root, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7-test.1' }));
    cpSync(join(REPO, 'core'), join(root, 'core'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
    const r = spawnSync(process.execPath, [join(root, 'core/cli/main.ts'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      `zen-watcher 9.8.7-test.1 (plugin API ${HOST_API_VERSION}, node ${process.versions.node})\n`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
