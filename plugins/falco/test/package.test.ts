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
import {
  packageIdentityTests,
  readmeConfigTableTest,
  readPluginPackage,
} from '../../../test/support/plugin-package.ts';
import plugin, { PLUGIN_NAME } from '../index.ts';
import { configOf, load, PLUGIN_DIR } from './helpers.ts';

const REPO = join(PLUGIN_DIR, '..', '..');
const p = readPluginPackage(PLUGIN_DIR);
const schema = p.schema as {
  properties: Record<string, { default?: unknown; enum?: unknown[] }>;
};

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

describe('package', () => {
  packageIdentityTests(PLUGIN_DIR, p, {
    name: 'falco',
    version: '1.1.3',
    zenWatcher: {
      hostApi: '^1.0.0',
      entry: 'index.ts',
      sources: ['falco'],
      configSchema: 'schema.json',
      ingesterTypes: ['webhook'],
    },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('schema.json compiles under ajv strict mode; its defaults are what the host applies', () => {
    const ajv = new Ajv({ strict: true, useDefaults: true, allErrors: true });
    const validate = ajv.compile(schema);
    const config: Record<string, unknown> = {};
    assert.ok(validate(config), JSON.stringify(validate.errors));
    assert.deepEqual(config, configOf());
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
  const block = p.readmeBlock;

  test('the complete Ingester example is valid', () => {
    const r = kit.validateIngester(parseYaml(block('ingester')));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.ingester.spec.webhook?.path, '/ingest/falco');
  });

  test('the Falcosidekick example posts to /ingest/falco', () => {
    const cfg = parseYaml(block('falcosidekick')) as { webhook: { address: string } };
    assert.match(cfg.webhook.address, /\/ingest\/falco$/);
  });

  readmeConfigTableTest(p);
});
