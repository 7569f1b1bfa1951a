/**
 * The package around the mapping: manifest, config schema (ajv strict), the shipped Kubernetes sample, and the
 * README's examples and configuration reference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { pluginConfigSchema } from 'zen-watcher/plugin-api';
import type { TestPlugin } from 'zen-watcher/testkit';
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
  properties: Record<string, { default?: unknown; enum?: unknown[]; items?: { enum?: unknown[] } }>;
};

let kit: TestPlugin;
before(async () => {
  kit = (await load()).kit;
});
after(() => kit.close());

describe('package', () => {
  packageIdentityTests(PLUGIN_DIR, p, {
    name: 'trivy',
    version: '1.3.0',
    zenWatcher: {
      hostApi: '^1.3.0',
      entry: 'index.ts',
      sources: ['trivy'],
      configSchema: 'schema.json',
      ingesterTypes: ['informer'],
    },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('schema.json compiles under ajv strict mode', () => {
    const ajv = new Ajv({ strict: true, useDefaults: true, allErrors: true });
    ajv.addSchema(pluginConfigSchema); // the shared fragments schema.json refers to
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, configOf());
    assert.deepEqual([...(schema.properties.reportKinds?.items?.enum ?? [])].sort(), [...REPORT_KIND_NAMES].sort());
  });

  test('the schema refuses what the plugin cannot use, with the field named', () => {
    const bad = (config: Record<string, unknown>, path: RegExp) => {
      const r = kit.validateIngester({
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 't', namespace: 'zen-system' },
        spec: { source: 'trivy', ingester: 'informer', config },
      });
      assert.equal(r.ok, false, JSON.stringify(config));
      assert.ok(!r.ok && r.errors.some((e) => path.test(e.path)), JSON.stringify(!r.ok && r.errors));
    };
    bad({ reportKinds: ['SbomReport'] }, /spec\.config\.reportKinds/);
    bad({ reportKinds: [] }, /spec\.config\.reportKinds/);
    bad({ minSeverity: 'severe' }, /spec\.config\.minSeverity/);
    bad({ ignoreUnfixed: 'yes' }, /spec\.config\.ignoreUnfixed/);
    bad({ namespaces: ['Not_A_Namespace'] }, /spec\.config\.namespaces/);
    bad({ maxFindingsPerReport: 0 }, /spec\.config\.maxFindingsPerReport/);
    bad({ unknown: true }, /spec\.config/);
    const webhook = kit.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 't' },
      spec: { source: 'trivy', ingester: 'webhook', webhook: { path: '/ingest/trivy' } },
    });
    assert.equal(webhook.ok, false, 'informer only');
  });
});

describe('shipped Ingester', () => {
  test('config/samples/zen_v1alpha1_ingester_trivy.yaml is valid, an informer, in zen-system', () => {
    const doc = parseYaml(readFileSync(join(REPO, 'config/samples/zen_v1alpha1_ingester_trivy.yaml'), 'utf8'));
    const r = kit.validateIngester(doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.namespace, 'zen-system');
    assert.equal(r.ingester.spec.ingester, 'informer');
    assert.equal(r.ingester.spec.source, 'trivy');
    assert.equal(r.ingester.spec.deduplication?.window, undefined, 'no dedup window on an informer source');
  });
});

describe('README', () => {
  const block = p.readmeBlock;

  test('the complete Ingester example is valid', () => {
    const r = kit.validateIngester(parseYaml(block('ingester')));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.spec.ingester, 'informer');
  });

  test('the RBAC example grants get/list/watch on every resource the plugin can watch', () => {
    const docs = block('rbac')
      .split(/^---$/m)
      .map(
        (d) =>
          parseYaml(d) as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] },
      );
    const role = docs.find((d) => d.kind === 'ClusterRole')!;
    const rule = role.rules![0]!;
    assert.deepEqual(rule.apiGroups, ['aquasecurity.github.io']);
    assert.deepEqual([...rule.resources].sort(), [
      'clusterconfigauditreports',
      'clustervulnerabilityreports',
      'configauditreports',
      'exposedsecretreports',
      'vulnerabilityreports',
    ]);
    assert.deepEqual(rule.verbs, ['get', 'list', 'watch']);
  });

  test('the Helm values example enables the scanners', () => {
    const v = parseYaml(block('helm-values')) as { operator: Record<string, unknown> };
    assert.equal(v.operator.vulnerabilityScannerEnabled, true);
  });

  readmeConfigTableTest(p);
});
