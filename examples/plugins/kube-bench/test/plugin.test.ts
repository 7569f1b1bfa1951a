/**
 * kube-bench through the zen-watcher test kit: loaded from its directory like a drop-in plugin, the real webhook
 * hook (guarded), Ingester validation and pipeline with a fixed clock.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isZwError } from 'zen-watcher/plugin-api';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import { fixture } from './helpers.ts';

const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const NOW = Date.parse('2025-06-01T12:00:00Z');

let kit: TestPlugin;

/** A POST from one node: the onWebhook tap (with the header), then the pipeline. (`kit.webhook` takes no headers.) */
async function postFrom(node: string, body: unknown) {
  return kit.process(await kit.webhookDrafts(body, { headers: { 'x-node-name': node } }));
}
before(async () => {
  kit = await loadTestPlugin(PLUGIN_DIR, { now: () => NOW });
});
after(() => kit.close());

describe('kube-bench webhook', () => {
  test('a report POSTed for a node: one Observation per failing or warning check', async () => {
    const { result, observations } = await postFrom('worker-1', fixture('report-node.json'));
    assert.equal(result.created, 3);
    assert.deepEqual(observations.map((o) => `${o.spec.severity} ${o.spec.title.slice(0, 5)}`).sort(), [
      'high 4.1.5',
      'high 4.2.1',
      'medium 4.1.3',
    ]);
    for (const o of observations) {
      assert.equal(o.spec.source, 'kube-bench');
      assert.equal(o.labels.category, 'compliance');
      assert.deepEqual(o.spec.resource, { apiVersion: 'v1', kind: 'Node', name: 'worker-1' });
    }
  });

  test('the same report again is all duplicates; another node is new', async () => {
    const again = await postFrom('worker-1', fixture('report-node.json'));
    assert.deepEqual([again.result.created, again.result.duplicates], [0, 3]);
    const other = await postFrom('worker-2', fixture('report-node.json'));
    assert.equal(other.result.created, 3);
  });

  test('a malformed report is a 422 naming the field', async () => {
    const err = await kit.webhookDrafts({ Controls: [{ tests: 'none' }] }).catch((e: unknown) => e);
    assert.ok(isZwError(err));
    assert.deepEqual([err.status, err.code, err.field], [422, 'ZW_ERR_PAYLOAD_INVALID', 'Controls[0].tests']);
  });

  test('spec.config: defaults from schema.json, errors name the field', () => {
    const ing = kit.ingester({ name: 'kb', config: { severities: { FAIL: 'critical' } } });
    assert.deepEqual(ing.view.config, {
      statuses: ['FAIL', 'WARN'],
      severities: { FAIL: 'critical', WARN: 'medium', INFO: 'info', PASS: 'info' },
      scoredOnly: false,
      nodeHeader: 'x-node-name',
      maxResults: 5000,
    });
    const bad = kit.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'bad', namespace: 'default' },
      spec: {
        source: 'kube-bench',
        ingester: 'webhook',
        webhook: { path: '/ingest/kb' },
        config: { statuses: ['FAILED'] },
      },
    });
    assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.path), ['spec.config.statuses[0]']);
  });
});
