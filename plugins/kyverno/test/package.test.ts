/**
 * The package around the mapping: manifest, config schema (ajv strict, defaults = code defaults), the shipped
 * Kubernetes sample, and the README's Ingester example, configuration reference and versions-tested table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { pluginConfigSchema } from 'zen-watcher/plugin-api';
import type { TestPlugin } from 'zen-watcher/testkit';
import { realFixturesDir } from '../../../test/support/fixtures.ts';
import {
  packageIdentityTests,
  readmeConfigTableTest,
  readPluginPackage,
} from '../../../test/support/plugin-package.ts';
import plugin, { PLUGIN_NAME } from '../index.ts';
import { REPORT_KIND_NAMES } from '../kinds.ts';
import { configOf, load, PLUGIN_DIR } from './helpers.ts';

const REPO = join(PLUGIN_DIR, '..', '..');
const p = readPluginPackage(PLUGIN_DIR);
const schema = p.schema as {
  properties: Record<string, { default?: unknown }>;
};
const { readme } = p;

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

describe('package', () => {
  packageIdentityTests(PLUGIN_DIR, p, {
    name: 'kyverno',
    version: '1.3.0',
    zenWatcher: {
      hostApi: '^1.3.0',
      entry: 'index.ts',
      sources: ['kyverno'],
      configSchema: 'schema.json',
      ingesterTypes: ['informer'],
    },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('schema.json compiles under ajv strict mode; a partial object keeps its other defaults', () => {
    const ajv = new Ajv({ strict: true, useDefaults: true, allErrors: true });
    ajv.addSchema(pluginConfigSchema); // the shared fragments schema.json refers to
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, configOf());
    // A partial severityByResult keeps the other defaults.
    const partial: Record<string, unknown> = { severityByResult: { fail: 'critical' } };
    assert.ok(validate(partial));
    assert.deepEqual(partial.severityByResult, { ...configOf().severityByResult, fail: 'critical' });
  });

  test('the schema refuses what the plugin cannot use', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ results: ['failed'] }, '.results[0]'],
      [{ severityByResult: { fail: 'severe' } }, '.severityByResult.fail'],
      [{ severityByResult: { maybe: 'high' } }, '.severityByResult'],
      [{ reportKinds: [] }, '.reportKinds'],
      [{ reportKinds: ['VulnerabilityReport'] }, '.reportKinds[0]'],
      [{ namespaces: ['Not_A_Namespace'] }, '.namespaces[0]'],
      [{ minSeverity: 'warning' }, '.minSeverity'],
      [{ discoveryIntervalSeconds: 0 }, '.discoveryIntervalSeconds'],
      [{ unknown: true }, ''],
    ];
    for (const [config, path] of bad) {
      const r = kit.validateIngester({
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'k', namespace: 'zen-system' },
        spec: { source: 'kyverno', ingester: 'informer', config },
      });
      assert.equal(r.ok, false, JSON.stringify(config));
      if (!r.ok)
        assert.ok(
          r.errors.some((e) => e.path.startsWith(`spec.config${path}`)),
          `${JSON.stringify(config)}: ${JSON.stringify(r.errors)}`,
        );
    }
  });

  test('only informer Ingesters: a webhook Ingester for kyverno is refused', () => {
    const r = kit.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'k', namespace: 'zen-system' },
      spec: { source: 'kyverno', ingester: 'webhook', webhook: { path: '/ingest/kyverno' } },
    });
    assert.equal(r.ok, false);
  });
});

describe('shipped Ingester', () => {
  test('config/samples/zen_v1alpha1_ingester_kyverno.yaml is valid, an informer in zen-system', () => {
    const doc = parseYaml(readFileSync(join(REPO, 'config/samples/zen_v1alpha1_ingester_kyverno.yaml'), 'utf8'));
    const r = kit.validateIngester(doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.namespace, 'zen-system');
    assert.equal(r.ingester.spec.ingester, 'informer');
    assert.equal(r.ingester.handler.handler, 'kyverno');
    assert.deepEqual(r.ingester.view.config.reportKinds, [...REPORT_KIND_NAMES]);
  });
});

describe('README', () => {
  const block = p.readmeBlock;

  test('the complete Ingester example is valid and uses every config field', () => {
    const doc = parseYaml(block('ingester')) as { spec: { config: Record<string, unknown> } };
    const r = kit.validateIngester(doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.spec.ingester, 'informer');
    assert.deepEqual(Object.keys(doc.spec.config).sort(), Object.keys(schema.properties).sort());
  });

  readmeConfigTableTest(p);

  test('the severity table states the code defaults', () => {
    for (const [result, severity] of Object.entries(configOf().severityByResult)) {
      assert.match(readme, new RegExp(`^\\| \`${result}\`\\s+\\| \`${severity}\``, 'm'), result);
    }
  });

  test('"Versions tested" names the upstream snapshots of the corpus SOURCES.md', (t) => {
    const dir = realFixturesDir();
    if (!dir) return t.skip('real fixture corpus not found');
    const sources = readFileSync(join(dir, 'SOURCES.md'), 'utf8');
    const section = sources.slice(
      sources.indexOf('## kyverno/'),
      sources.indexOf('\n## ', sources.indexOf('## kyverno/') + 5),
    );
    const commits = new Set([...section.matchAll(/commit `([0-9a-f]{40})`/g)].map((m) => m[1]!));
    assert.ok(commits.size >= 4);
    const tested = readme.slice(readme.indexOf('## Versions tested'));
    for (const c of commits) assert.ok(tested.includes(c), `README lists ${c}`);
  });
});
