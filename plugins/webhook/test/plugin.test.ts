/**
 * The generic webhook plugin through the test kit (the host's own core): package identity, the README's
 * configuration reference, field-path mapping, severity mapping, batches, and refusals naming the field.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ZwError } from 'zen-watcher/plugin-api';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import { packageIdentityTests, readPluginPackage } from '../../../test/support/plugin-package.ts';
import plugin, { PLUGIN_NAME } from '../index.ts';

const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const p = readPluginPackage(PLUGIN_DIR);

let kit: TestPlugin;
before(async () => {
  kit = await loadTestPlugin(PLUGIN_DIR, { now: () => NOW });
});
after(() => kit.close());

const refused = (field: string) => (err: unknown) => {
  assert.ok(err instanceof ZwError, String(err));
  assert.equal(err.code, 'ZW_ERR_PAYLOAD_INVALID');
  assert.equal(err.status, 422);
  assert.equal(err.field, field);
  return true;
};

describe('package', () => {
  packageIdentityTests(PLUGIN_DIR, p, {
    name: 'webhook',
    version: '1.1.0',
    zenWatcher: {
      hostApi: '^1.2.0',
      entry: 'index.ts',
      sources: ['webhook'],
      configSchema: 'schema.json',
      ingesterTypes: ['webhook'],
    },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('the configuration reference lists every schema field, with its default when it has one', () => {
    for (const [key, prop] of Object.entries(p.schema.properties)) {
      const row = p.readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
      assert.ok(row, `README configuration table has a row for ${key}`);
      if ('default' in prop) assert.ok(row.includes(`\`${JSON.stringify(prop.default)}\``), `default of ${key}`);
    }
  });

  test("the README's Ingesters are valid for this plugin", () => {
    for (const block of ['ingester', 'alertmanager']) {
      const res = kit.validateIngester(parseYaml(p.readmeBlock(block)));
      assert.ok(res.ok, `${block}: ${JSON.stringify(!res.ok && res.errors)}`);
    }
  });
});

describe('mapping', () => {
  test('default field paths; schema defaults applied by the host', async () => {
    const ing = kit.ingester({ name: 'defaults' });
    assert.equal(ing.view.config.maxItems, 1000);
    const [d] = await kit.webhookDrafts({
      severity: 'HIGH',
      title: 't',
      message: 'm',
      category: 'security',
      eventType: 'e',
      timestamp: '2025-06-01T11:59:00Z',
    });
    assert.deepEqual(
      { ...d, details: undefined },
      {
        severity: 'high',
        title: 't',
        message: 'm',
        category: 'security',
        eventType: 'e',
        detectedAt: '2025-06-01T11:59:00Z',
        details: undefined,
      },
    );
  });

  test('custom paths, severityMap, itemsField, resource and fingerprint', async () => {
    const config = {
      itemsField: 'alerts',
      fields: { severity: 'level', title: 'summary', fingerprint: 'id', resourceKind: 'k', resourceName: 'obj.name' },
      severityMap: { P1: 'critical' },
      defaults: { resourceKind: 'Pod' },
    };
    const drafts = await kit.webhookDrafts(
      {
        alerts: [
          { level: 'p1', summary: 'a', id: 'x1', obj: { name: 'web' } },
          { level: 'low', summary: 'b' },
        ],
      },
      { name: 'custom', config },
    );
    assert.deepEqual(
      drafts.map((d) => [d.severity, d.title, d.fingerprint, d.resource]),
      [
        ['critical', 'a', 'x1', { kind: 'Pod', name: 'web' }],
        ['low', 'b', undefined, { kind: 'Pod' }],
      ],
    );
  });

  test('JSON Lines and arrays give one draft per event; the pipeline writes them once', async () => {
    const events = [
      { severity: 'info', title: 'one' },
      { severity: 'info', title: 'two' },
    ];
    const { result } = await kit.webhook(events, { name: 'batch', jsonLines: true });
    assert.equal(result.created, 2);
    const again = await kit.webhook(events, { name: 'batch', jsonLines: true });
    assert.equal(again.result.duplicates, 2);
  });
});

describe('refusals name the field (HTTP 422), the whole request', () => {
  test('unknown severity, missing title, non-object events, too many events', async () => {
    await assert.rejects(
      kit.webhookDrafts([
        { severity: 'high', title: 'ok' },
        { severity: 'P9', title: 't' },
      ]),
      refused('[1].severity'),
    );
    await assert.rejects(kit.webhookDrafts({ severity: 'high' }), refused('title'));
    await assert.rejects(kit.webhookDrafts([1]), refused('[0]'));
    await assert.rejects(kit.webhookDrafts([{}, {}], { name: 'small', config: { maxItems: 1 } }), refused('(body)'));
    await assert.rejects(kit.webhookDrafts({ a: 1 }, { name: 'items', config: { itemsField: 'a' } }), refused('a'));
  });
});

describe('resolution (1.1.0): Alertmanager-style status field', () => {
  // Alertmanager's webhook body, as its notifier posts it (one group, alerts with status/startsAt/endsAt).
  const config = {
    itemsField: 'alerts',
    fields: {
      severity: 'labels.severity',
      title: 'annotations.summary',
      fingerprint: 'fingerprint',
      detectedAt: 'startsAt',
      details: 'labels',
    },
    resolution: { field: 'status', values: ['resolved'], resolvedAtField: 'endsAt' },
  };
  const spec = { deduplication: { window: '0s' } };
  const alert = (status: string, startsAt: string, endsAt: string, severity = 'warning') => ({
    receiver: 'zen',
    status,
    alerts: [
      {
        status,
        labels: { alertname: 'KubePodCrashLooping', severity, namespace: 'shop', pod: 'web-1' },
        annotations: { summary: 'Pod shop/web-1 is crash looping' },
        startsAt,
        endsAt,
        fingerprint: 'a1b2c3d4e5f60718',
      },
    ],
  });
  const NEVER = '0001-01-01T00:00:00Z';

  test('the resolved alert resolves its Observation; a later firing re-opens the same one', async () => {
    const input = { name: 'am', config, spec };
    const fired = await kit.webhook(alert('firing', '2025-06-01T11:00:00Z', NEVER), input);
    assert.equal(fired.result.created, 1);
    const [o] = kit.observations().filter((x) => x.labels['zen.kube-zen.io/ingester'] === 'am');
    assert.equal(o?.phase, 'Active');

    const [resolvedDraft] = await kit.webhookDrafts(
      alert('resolved', '2025-06-01T11:00:00Z', '2025-06-01T11:20:00Z'),
      input,
    );
    assert.equal(resolvedDraft?.resolved, true);
    assert.equal(resolvedDraft?.resolvedAt, '2025-06-01T11:20:00Z');
    const resolved = await kit.webhook(alert('resolved', '2025-06-01T11:00:00Z', '2025-06-01T11:20:00Z'), input);
    assert.deepEqual([resolved.result.created, resolved.result.resolved], [0, 1], 'no second Observation');
    let mine = kit.observations().filter((x) => x.labels['zen.kube-zen.io/ingester'] === 'am');
    assert.deepEqual(
      mine.map((x) => [x.name, x.phase, x.status?.resolvedAt]),
      [[o!.name, 'Resolved', '2025-06-01T11:20:00.000Z']],
    );

    // Alertmanager fires again later (a new startsAt): the same Observation is Active again, counted.
    await kit.webhook(alert('firing', '2025-06-01T12:00:00Z', NEVER), input);
    await kit.settle();
    mine = kit.observations().filter((x) => x.labels['zen.kube-zen.io/ingester'] === 'am');
    assert.deepEqual(
      mine.map((x) => [x.name, x.phase, x.status?.count, x.status?.resolvedAt]),
      [[o!.name, 'Active', 2, undefined]],
    );
  });

  test('a changed severity of the same alert updates the Observation in place', async () => {
    const input = { name: 'am2', source: 'am2', config, spec };
    await kit.webhook(alert('firing', '2025-06-01T11:00:00Z', NEVER), input);
    await kit.webhook(alert('firing', '2025-06-01T11:00:05Z', NEVER, 'critical'), input);
    await kit.webhook(alert('firing', '2025-06-01T11:00:01Z', NEVER, 'info'), input); // older: ignored
    await kit.settle();
    const mine = kit.observations().filter((x) => x.labels['zen.kube-zen.io/ingester'] === 'am2');
    assert.deepEqual(
      mine.map((x) => [x.spec.severity, x.labels.severity, x.status?.count]),
      [['critical', 'critical', 3]],
    );
  });

  test('a resolved event without a fingerprint is refused naming the field', async () => {
    await assert.rejects(
      kit.webhookDrafts(
        { status: 'resolved', severity: 'high', title: 't' },
        { name: 'nofp', config: { resolution: { field: 'status' } } },
      ),
      refused('fingerprint'),
    );
  });
});
