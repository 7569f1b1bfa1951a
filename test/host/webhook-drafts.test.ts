/**
 * What a source plugin's onWebhook tap returns, end to end (a real host over HTTP, and the test kit):
 *
 * - a draft the host cannot read or write as JSON (a bigint or a throwing toJSON in details, a throwing getter) is
 *   one invalid draft: dropped and counted (`invalid_draft`), the rest of the batch is written, the answer is 200,
 *   and a retry of the batch is a 200 with duplicates (it was a 500 after the good drafts were written);
 * - a tap that returns undefined (a forgotten `return`) or null is the plugin's failure, like a throw: 500
 *   ZW_ERR_PLUGIN_FAILED, counted in zen_watcher_plugin_hook_errors_total, logged once with what it returned (it was a
 *   silent 200 `{"accepted":0}`). `[]` stays a 200 with nothing to write.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ZwError } from '../../core/api/index.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { loadTestPlugin } from '../../core/testkit/index.ts';
import { cleanup, post, startTestHost, tempDir, writeConfigDir } from '../support/host.ts';

const PLUGIN_JS = `import { definePlugin } from 'zen-watcher/plugin-api';

const bad = {
  bigint: () => ({ severity: 'high', title: 'bigint', details: { n: 10n } }),
  tojson: () => ({ severity: 'high', title: 'tojson', details: { toJSON() { throw new Error('toJSON failed'); } } }),
  getter: () => ({ severity: 'high', get title() { throw new Error('getter failed'); } }),
};

export default definePlugin({
  name: 'zen-plugin-drafty',
  version: '1.0.0',
  register(api) {
    api.hooks.onWebhook.for('drafty').tapPromise(async (req) => {
      const c = req.body.case;
      if (c === 'undefined') return undefined;
      if (c === 'forgot') {
        [{ severity: 'high', title: 'never returned' }];
        return;
      }
      if (c === 'null') return null;
      if (c === 'none') return [];
      return [{ severity: 'high', title: 'good ' + c }, bad[c](), { severity: 'low', title: 'also good ' + c }];
    });
  },
});
`;

function pluginDir(): string {
  const root = tempDir('zw-plugins-');
  const dir = join(root, 'drafty');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'zen-plugin-drafty',
      version: '1.0.0',
      type: 'module',
      private: true,
      zenWatcher: { hostApi: '^1.0.0', entry: 'index.js', sources: ['drafty'] },
    }),
  );
  writeFileSync(join(dir, 'index.js'), PLUGIN_JS);
  return root;
}

const INGESTER = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: drafty, namespace: default }
spec: { source: drafty, plugin: drafty, ingester: webhook, webhook: { path: /ingest/drafty } }
`;

function metric(text: string, prefix: string): number {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

test('onWebhook results: unserializable drafts are dropped alone; undefined or null is a 500, counted and logged once', async () => {
  const plugins = pluginDir();
  const configDir = writeConfigDir({ 'drafty.yaml': INGESTER });
  const logLines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
        done();
      },
    }),
  });
  const t = await startTestHost({ configDir, env: { ZEN_PLUGIN_DIRS: plugins }, log });
  const send = (c: string) => post(`${t.url}/ingest/drafty`, JSON.stringify({ case: c }));
  try {
    for (const c of ['bigint', 'tojson', 'getter']) {
      const first = await send(c);
      assert.equal(first.status, 200, `${c}: ${first.text}`);
      assert.deepEqual(
        [first.json?.accepted, first.json?.created, first.json?.dropped, first.json?.duplicates],
        [3, 2, 1, 0],
        c,
      );
      const retry = await send(c);
      assert.equal(retry.status, 200, `${c} retry: ${retry.text}`);
      assert.deepEqual([retry.json?.created, retry.json?.dropped, retry.json?.duplicates], [0, 1, 2], `${c} retry`);
    }
    const none = await send('none');
    assert.deepEqual([none.status, none.json?.accepted], [200, 0], '[] is nothing to write, not a failure');

    for (const c of ['undefined', 'forgot', 'null']) {
      const r = await send(c);
      assert.equal(r.status, 500, `${c}: ${r.text}`);
      assert.equal(r.json?.error, 'ZW_ERR_PLUGIN_FAILED');
      assert.equal(r.json?.reason, "source plugin 'zen-plugin-drafty' failed to process the request");
    }

    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.equal(
      metric(text, 'zen_watcher_observations_dropped_total{source="drafty",reason="invalid_draft"}'),
      6,
      'each unserializable draft counted once per request',
    );
    assert.equal(metric(text, 'zen_watcher_observations_created_total{source="drafty"}'), 6);
    assert.equal(
      metric(text, 'zen_watcher_plugin_hook_errors_total{plugin="zen-plugin-drafty",hook="onWebhook",kind="error"}'),
      3,
    );
  } finally {
    await t.stop();
    cleanup(configDir, t.dataDir);
  }
  assert.deepEqual(
    logLines.filter((l) => /unhandled error/.test(String(l.msg))),
    [],
    'no request failed as an internal error',
  );
  const dropped = logLines.filter((l) => l.reason === 'invalid_draft' && l.level === 'info');
  assert.equal(dropped.length, 1, 'the first invalid draft of the source is logged at info, the others at debug');
  assert.equal(dropped[0]?.plugin, 'zen-plugin-drafty');
  // Reported as every plugin failure is (core/host/guarded-hooks.ts): the message says who, `err` what it returned.
  const returned = logLines.filter((l) => l.level === 'error' && /returned (undefined|null)/.test(String(l.err)));
  assert.equal(returned.length, 1, 'logged once per plugin');
  assert.equal(returned[0]?.plugin, 'zen-plugin-drafty');
  assert.match(String(returned[0]?.msg), /^plugin 'zen-plugin-drafty' failed in onWebhook/);
  assert.match(
    String(returned[0]?.err),
    /^plugin 'zen-plugin-drafty' returned undefined: return an array of drafts \(\[\] for none\)/,
  );

  // The test kit runs the same code and surfaces the plugin's mistake as such.
  const kit = await loadTestPlugin(join(plugins, 'drafty'));
  try {
    await assert.rejects(
      kit.webhookDrafts({ case: 'forgot' }),
      (err: unknown) =>
        err instanceof ZwError &&
        err.code === 'ZW_ERR_PLUGIN_FAILED' &&
        /returned undefined: return an array/.test(err.message),
    );
    assert.deepEqual(
      kit.failures().map((f) => [f.plugin, f.hook, f.kind]),
      [['zen-plugin-drafty', 'onWebhook', 'error']],
    );
    const { result } = await kit.webhook({ case: 'bigint' });
    assert.deepEqual([result.created, result.dropped], [2, 1]);
  } finally {
    await kit.close();
    cleanup(plugins);
  }
});
