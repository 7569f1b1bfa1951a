/**
 * One composition root (issue #16): the host, the test kit and `plugins list` build the same host core
 * (core/host/core.ts), so a plugin the host refuses fails the same way under the test kit. Here: a webhook plugin
 * that calls api.reconcile (resolution is for informer Ingesters) and a tap that throws in onBecomeLeader, run by
 * the real host (HTTP, standalone) and by loadTestPlugin; both count the same failures in
 * zen_watcher_plugin_hook_errors_total and report the same error code.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ZwError } from '../../core/api/index.ts';
import { loadTestPlugin } from '../../core/testkit/index.ts';
import { cleanup, post, REPO, startTestHost, writeConfigDir } from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

const PLUGIN = join(REPO, 'test/fixtures/plugins/misbehaves');

const hookErrors = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('zen_watcher_plugin_hook_errors_total{'))
    .sort();

test('a plugin the host refuses fails the same way under the test kit', async () => {
  // The real host: standalone, over HTTP.
  const configDir = writeConfigDir({
    'misbehaves.yaml': `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: misbehaves, namespace: default }
spec: { source: misbehaves, plugin: misbehaves, ingester: webhook, webhook: { path: /ingest/misbehaves } }
`,
  });
  const t = await startTestHost({ configDir, env: { ZEN_PLUGIN_DIRS: PLUGIN } });
  let hostErrors: string[];
  let hostAnswer: { status: number; json: unknown };
  try {
    const url = t.url;
    const fine = await post(`${url}/ingest/misbehaves`, '{}');
    assert.equal(fine.status, 200, 'emit-only use is accepted');
    hostAnswer = await post(`${url}/ingest/misbehaves`, '{"reconcile":true}');
    hostErrors = await waitFor('both failures counted by the host', async () => {
      const lines = hookErrors(await (await fetch(`${url}/metrics`)).text());
      return lines.length === 2 ? lines : undefined;
    });
  } finally {
    await t.stop();
    cleanup(configDir, t.dataDir);
  }
  assert.equal(hostAnswer.status, 500);
  assert.equal((hostAnswer.json as { error: string }).error, 'ZW_ERR_PLUGIN_FAILED');

  // The test kit: the same plugin, the same refusals.
  const kit = await loadTestPlugin(PLUGIN);
  try {
    assert.equal((await kit.webhookDrafts({})).length, 1, 'emit-only use is accepted');
    await assert.rejects(
      kit.webhookDrafts({ reconcile: true }),
      (err: unknown) => err instanceof ZwError && err.code === 'ZW_ERR_RECONCILE_WEBHOOK',
    );
    await kit.startLeading(); // isolated, as in the host: the term starts, the failure is counted
    assert.deepEqual(
      kit.failures().map((f) => [f.hook, f.kind, (f.error as { code?: string }).code]),
      [
        ['onWebhook', 'error', 'ZW_ERR_RECONCILE_WEBHOOK'],
        ['onBecomeLeader', 'error', undefined],
      ],
    );
    assert.deepEqual(hookErrors(await kit.metrics()), hostErrors);
    assert.deepEqual(hostErrors, [
      'zen_watcher_plugin_hook_errors_total{plugin="zen-plugin-misbehaves",hook="onBecomeLeader",kind="error"} 1',
      'zen_watcher_plugin_hook_errors_total{plugin="zen-plugin-misbehaves",hook="onWebhook",kind="error"} 1',
    ]);
  } finally {
    await kit.close();
  }
});
