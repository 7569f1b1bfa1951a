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
import type { TestPlugin } from 'zen-watcher/testkit';
import { DEFAULT_CONFIG } from '../config.ts';
import plugin, { PLUGIN_NAME, PLUGIN_VERSION } from '../index.ts';
import { REPORT_KIND_NAMES } from '../kinds.ts';
import { load, PLUGIN_DIR } from './helpers.ts';

const REPO = join(PLUGIN_DIR, '..', '..');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const pkg = readJson(join(PLUGIN_DIR, 'package.json'));
const schema = readJson(join(PLUGIN_DIR, 'schema.json')) as {
  properties: Record<string, { default?: unknown; enum?: unknown[]; items?: { enum?: unknown[] } }>;
};
const readme = readFileSync(join(PLUGIN_DIR, 'README.md'), 'utf8');

let kit: TestPlugin;
before(async () => {
  kit = (await load()).kit;
});
after(() => kit.close());

describe('package', () => {
  test('package.json: name, version and the zenWatcher manifest', () => {
    assert.equal(pkg.name, '@zen-watcher/trivy');
    assert.equal(pkg.version, '1.1.0');
    assert.deepEqual(pkg.zenWatcher, {
      hostApi: '^1.1.0',
      entry: 'index.ts',
      sources: ['trivy'],
      configSchema: 'schema.json',
      ingesterTypes: ['informer'],
    });
  });

  test('definePlugin name/version match package.json; the loader admits it', () => {
    assert.equal(plugin.name, PLUGIN_NAME);
    assert.equal(plugin.name, 'trivy');
    assert.equal(plugin.version, PLUGIN_VERSION);
    assert.equal(plugin.version, pkg.version);
    assert.equal(kit.record.status, 'loaded', kit.record.reason);
  });

  test('CHANGELOG has the current version', () => {
    const changelog = readFileSync(join(PLUGIN_DIR, 'CHANGELOG.md'), 'utf8');
    assert.match(changelog, new RegExp(`^## \\[?${String(pkg.version).replace(/\./g, '\\.')}\\]?`, 'm'));
  });

  test('schema.json compiles under ajv strict mode; its defaults are the code defaults', () => {
    const ajv = new Ajv({ strict: true, useDefaults: true, allErrors: true });
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, { ...DEFAULT_CONFIG });
    for (const [k, v] of Object.entries(DEFAULT_CONFIG)) assert.deepEqual(schema.properties[k]?.default, v, k);
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
  const block = (marker: string) => {
    const m = new RegExp(`<!-- ${marker} -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readme);
    assert.ok(m, `README has a yaml block marked <!-- ${marker} -->`);
    return m[1]!;
  };

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

  test('the configuration reference lists every schema field with its default', () => {
    for (const [key, prop] of Object.entries(schema.properties)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
      assert.ok(row, `README configuration table has a row for ${key}`);
      assert.ok(row.includes(`\`${JSON.stringify(prop.default)}\``), `README row for ${key} shows the default`);
    }
  });
});
