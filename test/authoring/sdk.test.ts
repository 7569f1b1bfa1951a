/**
 * The plugin SDK (issue #16): a plugin scaffolded in an empty directory outside the repository installs the SDK
 * from the packed tarball, and its npm test, lint and typecheck pass with no path into this repository; the
 * checked-in API report (sdk/report.api.md) matches the public surface, and a change of that surface is caught.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { apiReport, packSdk, REPORT } from '../../scripts/sdk.ts';
import { cleanup, REPO, tempDir } from '../support/host.ts';

describe('API report', () => {
  test('sdk/report.api.md is the current public surface (node scripts/sdk.ts report)', () => {
    assert.equal(apiReport(), readFileSync(REPORT, 'utf8'), 'regenerate with: node scripts/sdk.ts report');
  });

  test('a change of the public surface changes the report: an export, and a member of an exported type', () => {
    const root = tempDir('zw-api-change-');
    try {
      for (const f of ['tsconfig.json', 'tsconfig.sdk.json', 'package.json'])
        copyFileSync(join(REPO, f), join(root, f));
      cpSync(join(REPO, 'core'), join(root, 'core'), { recursive: true });
      symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
      const edit = (file: string, from: string, to: string) => {
        const text = readFileSync(join(root, file), 'utf8');
        assert.ok(text.includes(from), `${file} contains ${from}`);
        writeFileSync(join(root, file), text.replace(from, to));
      };
      edit(
        'core/api/index.ts',
        "export { HOST_API_VERSION } from './version.ts';",
        "export { HOST_API_VERSION } from './version.ts';\nexport const EXTRA = 1;",
      );
      edit('core/testkit/index.ts', '  tick(): Promise<number>;', '  tick(): Promise<number>;\n  tock?(): void;');
      const changed = apiReport(root);
      const want = readFileSync(REPORT, 'utf8');
      assert.notEqual(changed, want);
      assert.match(changed, /EXTRA = 1/);
      assert.match(changed, /tock\?\(\): void/);
    } finally {
      cleanup(root);
    }
  });
});

describe('installable SDK', () => {
  test('a plugin scaffolded outside the repo installs the packed SDK; npm test, lint and typecheck pass', () => {
    const out = tempDir('zw-sdk-pack-');
    const work = tempDir('zw-sdk-plugin-');
    try {
      // The tarball, copied out of the repository: nothing below refers to this checkout.
      const tarball = join(work, basename(packSdk(out)));
      copyFileSync(join(out, basename(tarball)), tarball);
      const created = spawnSync(
        process.execPath,
        [join(REPO, 'core/cli/main.ts'), 'plugin', 'new', 'my-scanner', '--kind', 'webhook', '--sdk', tarball],
        { cwd: work, env: { ...process.env, npm_config_prefer_offline: 'true' }, encoding: 'utf8' },
      );
      assert.equal(created.status, 0, created.stderr);
      const dir = join(work, 'my-scanner');
      // No path into this repository outside node_modules (the lockfile names the tarball, which is in `work`).
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
        (f) => !f.startsWith('node_modules') && !f.endsWith('package-lock.json') && !f.includes('.zen-watcher'),
      );
      for (const f of files) {
        const path = join(dir, f);
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch {
          continue; // a directory
        }
        assert.ok(!text.includes(REPO), `${f} refers to ${REPO}`);
      }
      // The plugin's own scripts, with only Node 24 and the system on PATH (no ZEN_WATCHER_HOME).
      const env: Record<string, string> = { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` };
      for (const k of ['HOME', 'TMPDIR', 'npm_config_cache']) if (process.env[k]) env[k] = process.env[k]!;
      for (const script of ['test', 'run lint', 'run typecheck']) {
        const r = spawnSync('npm', script.split(' '), { cwd: dir, env, encoding: 'utf8' });
        assert.equal(r.status, 0, `npm ${script}:\n${r.stdout}\n${r.stderr}`);
      }
    } finally {
      cleanup(out, work);
    }
  });
});
