/**
 * Issue #14 item 9: plugins reached through symlinks. Decision (core/loader/paths.ts, docs/SECURITY.md): plugin code
 * is loaded only from inside the configured plugin directories. A link inside a plugin directory that leads out of
 * it (a plugin directory, its entry, its schema, its package.json) is refused, listed as failed with the reason, and
 * its code never runs; links that stay inside are fine; a configured directory may itself be a link.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cleanup, runCli, startTestHost, tempDir, writeConfigDir } from '../support/host.ts';

/** A plugin whose import leaves a marker file, so a test can tell whether its code ran. */
function writePlugin(dir: string, name: string, entry = 'index.js'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      type: 'module',
      zenWatcher: { hostApi: '^1.0.0', entry, sources: [name] },
    }),
  );
  writeFileSync(join(dir, entry), pluginSource(name));
}

function pluginSource(name: string): string {
  return `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePlugin } from 'zen-watcher/plugin-api';
writeFileSync(join(process.env.ZW_TEST_MARKERS, ${JSON.stringify(name)}), 'imported');
export default definePlugin({
  name: ${JSON.stringify(name)},
  version: '1.0.0',
  register(api) {
    api.hooks.onWebhook.for(${JSON.stringify(name)}).tapPromise(async () => []);
  },
});
`;
}

test('a plugin directory or entry that links out of the plugin directory is refused; its code never runs', async () => {
  const plugins = tempDir('zw-plugins-');
  const elsewhere = tempDir('zw-elsewhere-');
  const markers = tempDir('zw-markers-');
  const configured = tempDir('zw-configured-');
  try {
    // 1. A plugin directory that is a link to a directory elsewhere.
    writePlugin(join(elsewhere, 'linked-out'), 'linked-out');
    symlinkSync(join(elsewhere, 'linked-out'), join(plugins, 'linked-out'));
    // 2. A real plugin directory whose entry file is a link to a file elsewhere.
    writePlugin(join(plugins, 'entry-out'), 'entry-out');
    writeFileSync(join(elsewhere, 'payload.js'), pluginSource('entry-out'));
    cleanup(join(plugins, 'entry-out', 'index.js'));
    symlinkSync(join(elsewhere, 'payload.js'), join(plugins, 'entry-out', 'index.js'));
    // 3. A link that stays inside the plugin directory (a layout like `.store/<name>` + links) loads.
    writePlugin(join(plugins, '.store', 'linked-in'), 'linked-in');
    symlinkSync(join(plugins, '.store', 'linked-in'), join(plugins, 'linked-in'));
    // 4. A dangling link is not a plugin directory and does not stop discovery.
    symlinkSync(join(elsewhere, 'gone'), join(plugins, 'dangling'));
    // 5. A configured directory may itself be a link (the operator chose it).
    writePlugin(join(configured, 'via-configured-link'), 'via-configured-link');
    const configuredLink = join(elsewhere, 'configured-link');
    symlinkSync(configured, configuredLink);

    const env = {
      ZEN_PLUGIN_DIRS: `${plugins}:${configuredLink}`,
      ZW_TEST_MARKERS: markers,
      ZEN_DATA_DIR: tempDir('zw-data-'),
    };
    const r = await runCli(['plugins', 'list', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const rows = Object.fromEntries(
      (JSON.parse(r.stdout) as { name: string; status: string; reason: string }[]).map((x) => [x.name, x]),
    );
    assert.equal(rows['linked-out']?.status, 'failed');
    assert.match(
      rows['linked-out']!.reason,
      /linked-out is a symlink to .*zw-elsewhere-.*\/linked-out, outside the plugin directory .*; plugins are loaded only from inside the configured directories \(to load it, add .* to ZEN_PLUGIN_DIRS\)/,
    );
    assert.equal(rows['entry-out']?.status, 'failed');
    assert.match(rows['entry-out']!.reason, /^index\.js is a symlink to .*payload\.js, outside the plugin's directory/);
    assert.equal(rows['linked-in']?.status, 'loaded', rows['linked-in']?.reason);
    assert.equal(rows['via-configured-link']?.status, 'loaded', rows['via-configured-link']?.reason);
    assert.ok(!existsSync(join(markers, 'linked-out')), 'the linked-out plugin was never imported');
    assert.ok(!existsSync(join(markers, 'entry-out')), 'the linked entry was never imported');
    assert.ok(existsSync(join(markers, 'linked-in')));

    // The host decides the same way: the refused plugins' sources do not exist, the others serve.
    cleanup(join(markers, 'linked-in'));
    process.env.ZW_TEST_MARKERS = markers;
    const configDir = writeConfigDir({});
    const h = await startTestHost({ configDir, env: { ZEN_PLUGIN_DIRS: env.ZEN_PLUGIN_DIRS } });
    try {
      const byName = Object.fromEntries(h.host.plugins.map((p) => [p.name, p]));
      assert.equal(byName['linked-out']?.status, 'failed');
      assert.equal(byName['linked-out']?.code, 'ZW_ERR_PLUGIN_PATH');
      assert.equal(byName['entry-out']?.code, 'ZW_ERR_PLUGIN_PATH');
      assert.equal(byName['linked-in']?.status, 'loaded');
      assert.ok(!existsSync(join(markers, 'linked-out')) && !existsSync(join(markers, 'entry-out')));
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      assert.match(metrics, /zen_watcher_plugins\{plugin="linked-out",version="1.0.0",status="failed"\} 1/);
    } finally {
      await h.stop();
      cleanup(configDir, h.dataDir);
    }
  } finally {
    delete process.env.ZW_TEST_MARKERS;
    cleanup(plugins, elsewhere, markers, configured);
  }
});
