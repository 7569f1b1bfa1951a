/**
 * The package around the mapping: manifest, config schema (ajv strict), shipped Ingesters (standalone default and
 * Kubernetes sample), and the README's examples and configuration reference.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { TestPlugin } from 'zen-watcher/testkit';
import plugin, { PLUGIN_NAME, PLUGIN_VERSION } from '../index.ts';
import { DEFAULT_CONFIG } from '../map.ts';
import { load, PLUGIN_DIR } from './helpers.ts';

const REPO = join(PLUGIN_DIR, '..', '..');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const pkg = readJson(join(PLUGIN_DIR, 'package.json'));
const schema = readJson(join(PLUGIN_DIR, 'schema.json')) as {
  properties: Record<string, { default?: unknown; enum?: unknown[] }>;
};
const readme = readFileSync(join(PLUGIN_DIR, 'README.md'), 'utf8');

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

describe('package', () => {
  test('package.json: name, version and the zenWatcher manifest', () => {
    assert.equal(pkg.name, '@zen-watcher/falco');
    assert.equal(pkg.version, '1.0.0');
    assert.deepEqual(pkg.zenWatcher, {
      hostApi: '^1.0.0',
      entry: 'index.ts',
      sources: ['falco'],
      configSchema: 'schema.json',
      ingesterTypes: ['webhook'],
    });
  });

  test('definePlugin name/version match package.json; the loader admits it', () => {
    assert.equal(plugin.name, PLUGIN_NAME);
    assert.equal(plugin.name, 'falco');
    assert.equal(plugin.version, PLUGIN_VERSION);
    assert.equal(plugin.version, pkg.version);
    assert.equal(kit.record.status, 'loaded', kit.record.reason);
    assert.equal(kit.record.name, 'falco');
  });

  test('CHANGELOG has the current version', () => {
    const changelog = readFileSync(join(PLUGIN_DIR, 'CHANGELOG.md'), 'utf8');
    assert.match(changelog, new RegExp(`^## \\[?${String(pkg.version).replace(/\./g, '\\.')}\\]?`, 'm'));
  });

  test('schema.json compiles under ajv strict mode and its defaults are the code defaults', () => {
    const ajv = new Ajv({ strict: true, useDefaults: true, allErrors: true });
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, { ...DEFAULT_CONFIG });
    for (const [k, v] of Object.entries(DEFAULT_CONFIG)) assert.equal(schema.properties[k]?.default, v, k);
  });
});

describe('shipped Ingesters', () => {
  const docs = (file: string) => readFileSync(join(REPO, file), 'utf8');

  test('config/standalone/falco.yaml serves /ingest/falco and is valid', () => {
    const doc = parseYaml(docs('config/standalone/falco.yaml'));
    const r = kit.validateIngester(doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.spec.webhook?.path, '/ingest/falco');
    assert.equal(r.ingester.spec.source, 'falco');
  });

  test('no other standalone Ingester claims /ingest/falco', () => {
    const dir = join(REPO, 'config', 'standalone');
    const claimants = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .filter((f) => /path:\s*\/ingest\/falco\s*$/m.test(readFileSync(join(dir, f), 'utf8')));
    assert.deepEqual(claimants, ['falco.yaml']);
  });

  test('config/samples/zen_v1alpha1_ingester_falco.yaml is valid, in zen-system', () => {
    const doc = parseYaml(docs('config/samples/zen_v1alpha1_ingester_falco.yaml'));
    const r = kit.validateIngester(doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.namespace, 'zen-system');
    assert.equal(r.ingester.spec.webhook?.path, '/ingest/falco');
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
    assert.equal(r.ingester.spec.webhook?.path, '/ingest/falco');
  });

  test('the Falcosidekick example posts to /ingest/falco', () => {
    const cfg = parseYaml(block('falcosidekick')) as { webhook: { address: string } };
    assert.match(cfg.webhook.address, /\/ingest\/falco$/);
  });

  test('the configuration reference lists every schema field with its default', () => {
    for (const [key, prop] of Object.entries(schema.properties)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
      assert.ok(row, `README configuration table has a row for ${key}`);
      assert.ok(row.includes(`\`${JSON.stringify(prop.default)}\``), `README row for ${key} shows the default`);
    }
  });
});
