/**
 * One composition root (issue #16): the host, the test kit and `plugins list` build the same host core
 * (core/host/core.ts), so a plugin the host refuses fails the same way under the test kit. Here: a webhook plugin
 * that calls api.reconcile (resolution is for informer Ingesters) and a tap that throws in onBecomeLeader, run by
 * the real host (HTTP, standalone) and by loadTestPlugin; both count the same failures in
 * zen_watcher_plugin_hook_errors_total and refuse the reconcile for the same reason (the cause the host logs is the
 * kit's ZW_ERR_RECONCILE_WEBHOOK message; a standalone host without that check would still fail, for want of a
 * resolver, and this test would say so).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { errorMessage, ZwError } from '../../core/api/index.ts';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
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
  // The host's log, to read why it refused (the answer itself only says the plugin failed).
  const logLines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
        done();
      },
    }),
  });
  const t = await startTestHost({ configDir, env: { ZEN_PLUGIN_DIRS: PLUGIN }, log });
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
  // Refused because reconcile is for informer Ingesters — not only because a standalone host has no resolver.
  const hostCause = logLines.find((l) => l.code === 'ZW_ERR_PLUGIN_FAILED')?.cause;
  assert.equal(
    hostCause,
    errorMessage('ZW_ERR_RECONCILE_WEBHOOK', { ingester: 'default/misbehaves', type: 'webhook' }),
  );

  // The test kit: the same plugin, the same refusals.
  const kit = await loadTestPlugin(PLUGIN);
  try {
    assert.equal((await kit.webhookDrafts({})).length, 1, 'emit-only use is accepted');
    await assert.rejects(
      kit.webhookDrafts({ reconcile: true }, { name: 'misbehaves' }),
      (err: unknown) => err instanceof ZwError && err.code === 'ZW_ERR_RECONCILE_WEBHOOK' && err.message === hostCause,
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

test('a webhook source resolving and re-opening a finding (plugin API 1.2.0): same answers from host and test kit', async () => {
  const T0 = '2026-01-01T10:00:00.000Z';
  const T1 = '2026-01-01T10:05:00.000Z';
  const T2 = '2026-01-01T10:09:00.000Z';
  const requests: unknown[] = [
    { fire: 'fp-1', at: T0 }, // written, Active
    { resolve: 'fp-1', at: T1 }, // the same Observation, Resolved at T1
    { fire: 'fp-1', at: T0 }, // a late retry of the first firing: counted, stays Resolved
    { resolve: true }, // no fingerprint: nothing to find it by (invalid_draft)
    { resolve: 'fp-never-fired', at: T1 }, // no Observation (resolve_unmatched)
    { fire: 'fp-1', at: T2 }, // reported again after the end: re-opened, the same Observation
  ];
  const summary = (r: { created?: number; duplicates?: number; dropped?: number; resolved?: number }) => [
    r.created,
    r.duplicates,
    r.dropped,
    r.resolved,
  ];
  const dropLines = (text: string) =>
    text
      .split('\n')
      .filter((l) => /^zen_watcher_observations_dropped_total\{.*source="misbehaves"/.test(l))
      .sort();
  const state = (obs: { status?: Record<string, unknown>; spec: { fingerprint: string } }[]) =>
    obs.map((o) => [o.status?.phase ?? 'Active', o.status?.count ?? 1, o.status?.resolvedAt, o.status?.lastSeen]);
  const spec = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: misbehaves, namespace: default }
spec:
  source: misbehaves
  plugin: misbehaves
  ingester: webhook
  webhook: { path: /ingest/misbehaves }
  deduplication: { window: 0s }
`;
  // The real host (standalone, HTTP, its SQLite store).
  const configDir = writeConfigDir({ 'misbehaves.yaml': spec });
  const t = await startTestHost({ configDir, env: { ZEN_PLUGIN_DIRS: PLUGIN } });
  const hostAnswers: unknown[] = [];
  let hostDrops: string[];
  let hostState: unknown[];
  try {
    for (const body of requests) {
      const res = await post(`${t.url}/ingest/misbehaves`, JSON.stringify(body));
      assert.equal(res.status, 200, res.text);
      hostAnswers.push(summary(res.json as Record<string, number>));
    }
    hostDrops = dropLines(await (await fetch(`${t.url}/metrics`)).text());
    await t.stop(); // flushes the pending repeats
    const store = new SqliteStore(t.dataDir);
    hostState = state(store.list());
    store.close();
  } finally {
    await t.stop().catch(() => {});
    cleanup(configDir, t.dataDir);
  }

  const kit = await loadTestPlugin(PLUGIN);
  try {
    const kitAnswers: unknown[] = [];
    for (const body of requests) {
      const { result } = await kit.webhook(body, { name: 'misbehaves', spec: { deduplication: { window: '0s' } } });
      kitAnswers.push(summary(result));
      await kit.settle();
    }
    assert.deepEqual(kitAnswers, hostAnswers);
    assert.deepEqual(dropLines(await kit.metrics()), hostDrops);
    assert.deepEqual(state(kit.observations()), hostState);
  } finally {
    await kit.close();
  }
  assert.deepEqual(hostAnswers, [
    [1, 0, 0, 0],
    [0, 0, 0, 1],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 1, 0],
    [0, 1, 0, 0],
  ]);
  assert.deepEqual(hostDrops, [
    'zen_watcher_observations_dropped_total{source="misbehaves",reason="invalid_draft"} 1',
    'zen_watcher_observations_dropped_total{source="misbehaves",reason="resolve_unmatched"} 1',
  ]);
  assert.deepEqual(hostState, [['Active', 3, undefined, T2]]);
});
