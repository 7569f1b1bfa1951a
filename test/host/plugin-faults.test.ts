/**
 * Issue #14 item 2, with real processes: plugin code that leaves an error behind (an unhandled rejection, a throw
 * from a timer or from a listener Node calls later, a rejection at import time or after register) must not end the
 * host. The fault is attributed to the plugin, counted, logged; the other sources keep serving; at the limit the
 * plugin is disabled, and `plugins list` says so and why (ADR 0015).
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  cleanup,
  post,
  REPO,
  runCli,
  startHostProcess,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

function pluginDir(...fixtures: string[]): string {
  const dir = tempDir('zw-plugins-');
  for (const name of fixtures) cpSync(join(REPO, 'test/fixtures/plugins', name), join(dir, name), { recursive: true });
  return dir;
}

const leakyIngester = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: leaky, namespace: default }
spec:
  source: leaky
  plugin: leaky
  ingester: webhook
  webhook: { path: /ingest/leaky }
`;

async function metric(url: string, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (m) return Number(l.slice(l.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function listed(env: Record<string, string>) {
  const r = await runCli(['plugins', 'list', '-o', 'json'], env);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { name: string; status: string; reason: string }[];
  return Object.fromEntries(rows.map((row) => [row.name, row]));
}

describe('errors that escape plugin code', () => {
  test('are contained and counted, the other sources keep serving, and the plugin is disabled at the limit', async () => {
    const plugins = pluginDir('leaks-errors');
    const configDir = writeConfigDir({
      'leaky.yaml': leakyIngester,
      'generic.yaml': webhookIngester('generic', '/ingest/generic'),
    });
    const dataDir = tempDir('zw-data-');
    const env = {
      ZEN_PLUGIN_DIRS: plugins,
      ZEN_CONFIG_DIR: configDir,
      ZEN_DATA_DIR: dataDir,
      ZEN_PLUGIN_FAULT_LIMIT: '4',
    };
    const p = await startHostProcess(env);
    const faults = (kind: string) =>
      metric(p.url, new RegExp(`^zen_watcher_plugin_faults_total\\{plugin="zen-plugin-leaky",kind="${kind}"\\} `));
    const generic = async (title: string) => {
      const r = await post(`${p.url}/ingest/generic`, JSON.stringify({ severity: 'high', title }));
      assert.equal(r.status, 200, `the generic webhook still serves: ${r.text}`);
    };
    try {
      // 1. An unhandled rejection left by onWebhook: the request itself succeeded.
      let r = await post(`${p.url}/ingest/leaky`, '{"leak":"rejection"}');
      assert.equal(r.status, 200, r.text);
      await waitFor('fault 1 counted', async () => (await faults('unhandled_rejection')) === 1);
      await generic('after a rejection');

      // 2. A throw from a timer the tap started (attributed by async context).
      r = await post(`${p.url}/ingest/leaky`, '{"leak":"timer"}');
      assert.equal(r.status, 200, r.text);
      await waitFor('fault 2 counted', async () => (await faults('uncaught_exception')) === 1);
      await generic('after a timer throw');

      // 3. A throw from a listener Node calls outside any plugin call (attributed by the stack).
      process.kill(p.pid, 'SIGUSR2');
      await waitFor('fault 3 counted', async () => (await faults('uncaught_exception')) === 2);
      await generic('after a listener throw');
      let rows = await listed(env);
      assert.equal(rows['zen-plugin-leaky']?.status, 'loaded');
      assert.match(
        rows['zen-plugin-leaky']!.reason,
        /3 uncontained fault\(s\) in the running host.*thrown from a signal listener/,
      );
      assert.match(
        p.stderr(),
        /"level":"error".*"plugin":"zen-plugin-leaky".*let an error escape \(unhandled_rejection\)/,
      );

      // 4. The fourth within the window disables it: its webhook answers 503, its taps are not called any more.
      r = await post(`${p.url}/ingest/leaky`, '{"leak":"rejection"}');
      assert.equal(r.status, 200, r.text);
      await waitFor(
        'disabled',
        async () =>
          (await metric(
            p.url,
            /^zen_watcher_plugins\{plugin="zen-plugin-leaky",version="1.0.0",status="disabled"\} /,
          )) === 1,
      );
      assert.equal(await metric(p.url, /^zen_watcher_plugins_disabled_total\{plugin="zen-plugin-leaky"\} /), 1);
      assert.equal(
        await metric(p.url, /^zen_watcher_plugins\{plugin="zen-plugin-leaky",version="1.0.0",status="loaded"\} /),
        0,
      );
      r = await post(`${p.url}/ingest/leaky`, '{"leak":"rejection"}');
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json?.error, 'ZW_ERR_PLUGIN_DISABLED');
      assert.match(String(r.json?.reason), /^plugin 'zen-plugin-leaky' is disabled: .*until zen-watcher restarts/);
      assert.doesNotMatch(String(r.json?.reason), /nobody handles/, "the plugin's fault messages stay in the log");
      assert.equal(r.headers.get('retry-after'), '60');
      assert.equal(await faults('unhandled_rejection'), 2, 'a disabled plugin is not called, so it leaks no more');
      await generic('after the plugin was disabled');

      rows = await listed(env);
      assert.equal(rows['zen-plugin-leaky']?.status, 'disabled');
      assert.match(
        rows['zen-plugin-leaky']!.reason,
        /disabled after 4 uncontained faults within 600 s \(last: unhandled rejection: Error: leaky: nobody handles this rejection\)/,
      );
      assert.equal(rows.webhook?.status, 'loaded');
      assert.equal(await p.stop(), 0, 'graceful exit on SIGTERM');

      // Once that host is gone, `plugins list` shows what a new start would do again.
      rows = await listed(env);
      assert.equal(rows['zen-plugin-leaky']?.status, 'loaded');
      assert.equal(rows['zen-plugin-leaky']?.reason, '');
    } finally {
      await p.stop();
      cleanup(plugins, configDir, dataDir);
    }
  });

  test('a rejection at import time, or one left behind by register(), fails that plugin and not the start', async () => {
    const plugins = pluginDir('rejects-at-import', 'leaks-in-register', 'echo');
    const configDir = writeConfigDir({ 'generic.yaml': webhookIngester('generic', '/ingest/generic') });
    const dataDir = tempDir('zw-data-');
    const env = { ZEN_PLUGIN_DIRS: plugins, ZEN_CONFIG_DIR: configDir, ZEN_DATA_DIR: dataDir };
    const p = await startHostProcess(env);
    try {
      await waitFor('ready', async () => (await fetch(`${p.url}/readyz`)).status === 200);
      const r = await post(`${p.url}/ingest/generic`, '{"severity":"high","title":"still up"}');
      assert.equal(r.status, 200, r.text);
      for (const plugin of ['zen-plugin-rejects-at-import', 'zen-plugin-leaks-in-register']) {
        assert.equal(
          await metric(
            p.url,
            new RegExp(`^zen_watcher_plugins\\{plugin="${plugin}",version="1.0.0",status="failed"\\} `),
          ),
          1,
          plugin,
        );
        assert.equal(
          await metric(
            p.url,
            new RegExp(`^zen_watcher_plugin_faults_total\\{plugin="${plugin}",kind="unhandled_rejection"\\} `),
          ),
          1,
          plugin,
        );
      }
      assert.equal(
        await metric(p.url, /^zen_watcher_plugins\{plugin="zen-plugin-echo",version="0.3.1",status="loaded"\} /),
        1,
      );

      // `plugins list` imports the plugins too, and must survive them the same way.
      const rows = await listed(env);
      assert.equal(rows['zen-plugin-rejects-at-import']?.status, 'failed');
      assert.match(
        rows['zen-plugin-rejects-at-import']!.reason,
        /importing index\.js: an error escaped \(unhandled rejection: Error: rejects-at-import: connecting at import time failed\)/,
      );
      assert.equal(rows['zen-plugin-leaks-in-register']?.status, 'failed');
      assert.match(
        rows['zen-plugin-leaks-in-register']!.reason,
        /register\(\): an error escaped \(unhandled rejection: Error: leaks-in-register: background setup failed\)/,
      );
      assert.equal(rows['zen-plugin-echo']?.status, 'loaded');
      assert.equal(await p.stop(), 0);
    } finally {
      await p.stop();
      cleanup(plugins, configDir, dataDir);
    }
  });
});
