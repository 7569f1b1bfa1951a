/**
 * The package around the code: manifest, config schema (ajv strict; defaults = code defaults; path patterns = the
 * parser's), the shipped samples, and the README (complete Ingester examples valid, configuration reference).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { TestPlugin } from 'zen-watcher/testkit';
import { packageIdentityTests, readPluginPackage } from '../../../test/support/plugin-package.ts';
import plugin, { PLUGIN_NAME } from '../index.ts';
import { FIELD_PATH_PATTERN, ITEMS_PATH_PATTERN } from '../path.ts';
import { configOf, load, PLUGIN_DIR, REPO } from './helpers.ts';

const p = readPluginPackage(PLUGIN_DIR);
const { schemaText } = p;
const schema = p.schema as {
  properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }>;
};
const { readme } = p;

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

describe('package', () => {
  packageIdentityTests(PLUGIN_DIR, p, {
    name: 'informer',
    version: '1.1.0',
    zenWatcher: {
      hostApi: '^1.2.0',
      entry: 'index.ts',
      sources: ['informer'],
      configSchema: 'schema.json',
      ingesterTypes: ['informer'],
    },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('schema.json compiles under ajv strict mode (as the host compiles it); its defaults are the code defaults', () => {
    const ajv = new Ajv({
      strict: true,
      strictRequired: false,
      useDefaults: true,
      allErrors: true,
      allowUnionTypes: true,
    });
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, configOf());
  });

  test('the schema checks paths with exactly the parser’s patterns', () => {
    const patterns = [...schemaText.matchAll(/"pattern": ("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]!));
    assert.ok(patterns.length >= 15);
    for (const p of patterns) assert.ok(p === FIELD_PATH_PATTERN || p === ITEMS_PATH_PATTERN, p);
    assert.equal(patterns.filter((p) => p === ITEMS_PATH_PATTERN).length, 1, 'only itemsField allows [*]');
  });
});

describe('shipped samples', () => {
  for (const [file, source] of [
    ['zen_v1alpha1_ingester_informer_kube_bench.yaml', 'kube-bench'],
    ['zen_v1alpha1_ingester_informer_events.yaml', 'kubernetes-events'],
  ] as const) {
    test(`config/samples/${file} is valid, in zen-system, plugin informer`, () => {
      const text = readFileSync(join(REPO, 'config', 'samples', file), 'utf8');
      assert.match(text, /^# /, 'opens with a comment saying why it exists');
      const r = kit.validateIngester(parseYaml(text));
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      assert.equal(r.ingester.namespace, 'zen-system');
      assert.equal(r.ingester.spec.plugin, 'informer');
      assert.equal(r.ingester.spec.source, source);
      assert.ok(r.ingester.spec.informer?.gvr);
    });
  }
});

describe('README', () => {
  const blocks = [...readme.matchAll(/<!-- ingester:([a-z-]+) -->\s*```yaml\n([\s\S]*?)```/g)].map((m) => ({
    name: m[1]!,
    doc: parseYaml(m[2]!) as { spec: Record<string, unknown> },
  }));

  test('has complete Ingester examples for kube-bench, checkov, Events and a CRD', () => {
    assert.deepEqual(
      blocks.map((b) => b.name),
      ['kube-bench', 'checkov', 'events', 'policyreports'],
    );
  });

  for (const name of ['kube-bench', 'checkov', 'events', 'policyreports']) {
    test(`the ${name} example is a valid Ingester with spec.informer.gvr`, () => {
      const b = blocks.find((x) => x.name === name)!;
      const r = kit.validateIngester(b.doc);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      assert.ok(r.ingester.spec.informer?.gvr);
    });
  }

  test('the kube-bench and Events examples are the shipped samples', () => {
    for (const [name, file] of [
      ['kube-bench', 'zen_v1alpha1_ingester_informer_kube_bench.yaml'],
      ['events', 'zen_v1alpha1_ingester_informer_events.yaml'],
    ] as const) {
      const sample = parseYaml(readFileSync(join(REPO, 'config', 'samples', file), 'utf8'));
      assert.deepEqual(blocks.find((b) => b.name === name)!.doc, sample, name);
    }
  });

  test('the configuration reference lists every schema field (with its default) and every fields.* key', () => {
    const row = (key: string) => readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
    for (const [key, prop] of Object.entries(schema.properties)) {
      const r = row(key);
      assert.ok(r, `a row for ${key}`);
      if (prop.default !== undefined && key !== 'fields' && key !== 'defaults' && key !== 'match')
        assert.ok(r.includes(`\`${JSON.stringify(prop.default)}\``), `the row for ${key} shows its default`);
    }
    for (const [key, prop] of Object.entries(schema.properties.fields!.properties!)) {
      assert.ok(readme.includes(`\`${key}\``), `fields.${key} is documented`);
      if (prop.default !== undefined) assert.ok(row(key)?.includes(`\`${prop.default}\``), `fields.${key} default`);
    }
  });
});
