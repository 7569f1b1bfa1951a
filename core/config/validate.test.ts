import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAjv, IngesterValidator } from './validate.ts';

const ajv = createAjv();
const validateConfig = ajv.compile({
  type: 'object',
  additionalProperties: false,
  properties: { minPriority: { type: 'string', enum: ['low', 'high'] }, max: { type: 'integer', default: 5 } },
});
const handlers = new Map([
  [
    'falco',
    { handler: 'falco', plugin: 'falco', pluginVersion: '1.0.0', ingesterTypes: ['webhook'] as const, validateConfig },
  ],
  ['trivy', { handler: 'trivy', plugin: 'trivy', pluginVersion: '1.0.0', ingesterTypes: ['informer'] as const }],
]);
const validator = new IngesterValidator({
  ajv,
  handlers: (h) => handlers.get(h),
  knownHandlers: () => [...handlers.keys()],
});
const doc = (spec: object, meta: object = { name: 'x' }) => ({
  apiVersion: 'zen.kube-zen.io/v1alpha1',
  kind: 'Ingester',
  metadata: meta,
  spec,
});
const paths = (r: ReturnType<typeof validator.validate>) => (r.ok ? [] : r.errors.map((e) => e.path));

describe('Ingester validation', () => {
  test('a valid webhook Ingester gets schema defaults and is frozen', () => {
    const r = validator.validate(doc({ source: 'falco', ingester: 'webhook', webhook: { path: '/f' } }));
    assert.ok(r.ok);
    assert.deepEqual(r.ingester.spec.webhook?.methods, ['POST']);
    assert.equal((r.ingester.spec.config as { max: number }).max, 5, 'plugin schema default applied');
    assert.ok(Object.isFrozen(r.ingester.spec));
    assert.equal(r.ingester.key, 'default/x');
  });
  test('bad enum and wrong type inside spec.config are both reported with their paths', () => {
    const r = validator.validate(
      doc({
        source: 'falco',
        ingester: 'webhook',
        webhook: { path: '/f' },
        filters: { minSeverity: 'urgent' },
        config: { minPriority: 7 },
      }),
    );
    assert.equal(r.ok, false);
    assert.deepEqual(paths(r), ['spec.filters.minSeverity', 'spec.config.minPriority']);
    const r2 = validator.validate(
      doc({ source: 'falco', ingester: 'webhook', webhook: { path: '/f' }, config: { minPriority: 7, extra: 1 } }),
    );
    assert.deepEqual(paths(r2).sort(), ['spec.config.extra', 'spec.config.minPriority']);
  });
  test('unknown fields, missing required fields and bad durations name their paths', () => {
    const r = validator.validate(doc({ source: 'falco', ingester: 'webhook', webhok: {}, ttl: { default: '7 days' } }));
    assert.deepEqual(paths(r).sort(), ['spec.ttl.default', 'spec.webhok']);
    const r2 = validator.validate(doc({ source: 'falco', ingester: 'webhook' }));
    assert.deepEqual(paths(r2), ['spec.webhook']);
    const r3 = validator.validate({ kind: 'Ingester', metadata: {}, spec: {} });
    assert.ok(paths(r3).includes('apiVersion'));
    assert.ok(paths(r3).includes('metadata.name'));
  });
  test('a source without a plugin is PluginMissing; a wrong ingester type for the plugin is InvalidConfig', () => {
    const r = validator.validate(doc({ source: 'nope', ingester: 'webhook', webhook: { path: '/n' } }));
    assert.equal(r.ok ? '' : r.reason, 'PluginMissing');
    assert.match(r.ok ? '' : r.errors[0]!.message, /available: falco, trivy/);
    const r2 = validator.validate(doc({ source: 'trivy', ingester: 'webhook', webhook: { path: '/t' } }));
    assert.equal(r2.ok ? '' : r2.reason, 'InvalidConfig');
    assert.deepEqual(paths(r2), ['spec.ingester']);
  });
  test('spec.plugin selects the handler while spec.source names the Observations', () => {
    const r = validator.validate(
      doc({ source: 'my-tool', plugin: 'falco', ingester: 'webhook', webhook: { path: '/m' } }),
    );
    assert.ok(r.ok);
    assert.equal(r.ingester.view.source, 'my-tool');
    assert.equal(r.ingester.view.handler, 'falco');
  });
  test('config on a plugin without a schema is refused; ttl ordering is checked', () => {
    const r = validator.validate(doc({ source: 'trivy', ingester: 'informer', config: { a: 1 } }));
    assert.deepEqual(paths(r), ['spec.config']);
    const r2 = validator.validate(doc({ source: 'trivy', ingester: 'informer', ttl: { min: '2h', max: '1h' } }));
    assert.deepEqual(paths(r2), ['spec.ttl.min']);
  });
  test('webhook paths the host serves itself, or that cannot be reached as written, are InvalidConfig', () => {
    const refused = (path: string) => {
      const r = validator.validate(doc({ source: 'falco', ingester: 'webhook', webhook: { path } }));
      assert.equal(r.ok ? 'ok' : r.reason, 'InvalidConfig', path);
      assert.deepEqual(paths(r), ['spec.webhook.path'], path);
      return r.ok ? '' : r.errors[0]!.message;
    };
    assert.match(refused('/healthz'), /reserved for the host's \/healthz/);
    assert.match(refused('/readyz'), /reserved for the host's \/readyz/);
    assert.match(refused('/metrics'), /reserved for the host's \/metrics/);
    assert.match(refused('/'), /reserved for the host's \//);
    assert.match(refused('/ui'), /reserved for the host's UI/);
    assert.match(refused('/ui/index.html'), /reserved for the host's UI/);
    assert.match(refused('/api/v1/observations'), /reserved for the host's read API/);
    assert.match(refused('/api/'), /reserved for the host's read API/);
    assert.match(refused('/ingest/../healthz'), /must not contain '\.\.' segments/);
    assert.match(refused('/ingest/./x'), /must not contain '\.' segments/);
    assert.match(refused('/..'), /must not contain '\.\.' segments/);
    assert.match(refused('//x'), /must not contain empty segments/);
    assert.match(refused('/ingest//x'), /must not contain empty segments/);
    assert.match(refused('/ingest/webhook/'), /must not end with '\/'.*'\/ingest\/webhook' would be two different/);
    for (const path of [
      '/ingest/x',
      '/api',
      '/apix/y',
      '/uix',
      '/healthz2',
      '/ingest/.well-known',
      '/a..b',
      '/x/y.z',
    ]) {
      assert.ok(validator.validate(doc({ source: 'falco', ingester: 'webhook', webhook: { path } })).ok, path);
    }
  });
  test('validation never throws on garbage', () => {
    for (const junk of [
      null,
      1,
      'x',
      [],
      { spec: null },
      {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'a' },
        spec: { source: 'falco', ingester: 'webhook', webhook: { path: '/x' }, config: null },
      },
    ]) {
      const r = validator.validate(junk);
      assert.equal(r.ok, false);
    }
  });
});
