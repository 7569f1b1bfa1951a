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
    version: '1.0.0',
    zenWatcher: {
      hostApi: '^1.0.0',
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

  test("the README's Ingester is valid for this plugin", () => {
    const res = kit.validateIngester(parseYaml(p.readmeBlock('ingester')));
    assert.ok(res.ok, JSON.stringify(!res.ok && res.errors));
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
