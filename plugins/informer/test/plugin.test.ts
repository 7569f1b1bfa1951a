/**
 * The plugin's lifecycle against a recording PluginApi (helpers.fakeApi): informers start on onBecomeLeader for
 * every Ingester, follow onIngesterChanged only while leading, and stop with the term; an Ingester without
 * spec.informer.gvr (or with a config the schema cannot check) is refused with a logged error naming the field;
 * handlers never throw. Schema-level config errors through the real validator (kit).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestPlugin } from 'zen-watcher/testkit';
import plugin from '../index.ts';
import { CONFIGMAPS, configMap, EVENTS, fakeApi, load, view } from './helpers.ts';

const cmView = (name: string, extra: Record<string, unknown> = {}) =>
  view({ name, source: name, informer: { gvr: CONFIGMAPS, ...extra }, config: { defaults: { severity: 'low' } } });

async function registered(o: Parameters<typeof fakeApi>[0] = {}) {
  const f = fakeApi(o);
  await plugin.register(f.api);
  return f;
}

describe('lifecycle', () => {
  test('nothing runs before leadership; onBecomeLeader starts one informer per Ingester', async () => {
    const f = await registered({
      ingesters: [
        cmView('a', { namespace: 'ns-a', labelSelector: 'app=x' }),
        view({ name: 'ev', informer: { gvr: EVENTS, fieldSelector: 'type=Warning' } }),
      ],
    });
    assert.equal(f.informers.length, 0);
    await f.lead();
    assert.deepEqual(
      f.open().map(({ options: { signal: _s, ...o } }) => o),
      [
        { ...CONFIGMAPS, namespace: 'ns-a', labelSelector: 'app=x' },
        { ...EVENTS, fieldSelector: 'type=Warning' },
      ],
    );
  });

  test('the term ending stops every informer; a new term starts them again', async () => {
    const f = await registered({ ingesters: [cmView('a'), cmView('b')] });
    const t1 = await f.lead();
    assert.equal(f.open().length, 2);
    t1.end();
    await f.settle();
    assert.equal(f.open().length, 0);
    await f.lead();
    assert.equal(f.open().length, 2);
  });

  test('onIngesterChanged while leading: added starts, updated restarts with the new spec, removed stops', async () => {
    const f = await registered({ ingesters: [cmView('a')] });
    await f.lead();
    await f.changed({ type: 'added', ingester: cmView('b') });
    assert.deepEqual(
      f.open().map((i) => i.options.resource),
      ['configmaps', 'configmaps'],
    );
    const first = f.open()[0]!;
    await f.changed({ type: 'updated', ingester: cmView('a', { namespace: 'other' }), previous: cmView('a') });
    assert.ok(first.options.signal.aborted, 'the old informer of a is stopped');
    assert.deepEqual(
      f
        .open()
        .map((i) => i.options.namespace ?? '(all)')
        .sort(),
      ['(all)', 'other'],
    );
    await f.changed({ type: 'removed', ingester: cmView('b') });
    assert.deepEqual(
      f.open().map((i) => i.options.namespace),
      ['other'],
    );
  });

  test('onIngesterChanged on a follower does nothing', async () => {
    const f = await registered({ ingesters: [] });
    await f.changed({ type: 'added', ingester: cmView('a') });
    assert.equal(f.informers.length, 0);
    const t = await f.lead();
    t.end();
    await f.changed({ type: 'added', ingester: cmView('a') });
    assert.equal(f.open().length, 0);
  });

  test('onStop stops everything', async () => {
    const f = await registered({ ingesters: [cmView('a')] });
    await f.lead();
    await f.stop();
    assert.equal(f.open().length, 0);
  });

  test('standalone (no Kubernetes): nothing starts, and the log says why', async () => {
    const f = await registered({ ingesters: [cmView('a')], kube: false });
    await f.lead();
    assert.ok(f.logs.some((l) => l.level === 'warn' && /need kubernetes mode/.test(l.msg)));
  });
});

describe('config errors at start', () => {
  test('an Ingester without spec.informer.gvr is refused with an error naming the field; the others run', async () => {
    const f = await registered({ ingesters: [view({ name: 'nogvr' }), cmView('ok')] });
    await f.lead();
    assert.equal(f.open().length, 1);
    const err = f.logs.find((l) => l.level === 'error');
    assert.ok(err, 'an error is logged');
    assert.match(err.msg, /spec\.informer\.gvr: is required/);
    assert.deepEqual((err.meta as { ingester: string }).ingester, 'zen-system/nogvr');
    assert.equal(f.counters.get('informer_ingester_errors_total{"source":"test","reason":"missing_gvr"}'), 1);
  });

  test('a regular expression that does not compile is refused naming spec.config.match[0].pattern', async () => {
    const bad = view({
      name: 'badre',
      informer: { gvr: CONFIGMAPS },
      config: { match: [{ path: 'reason', pattern: '([' }] },
    });
    const f = await registered({ ingesters: [bad] });
    await f.lead();
    assert.equal(f.open().length, 0);
    assert.ok(f.logs.some((l) => l.level === 'error' && /spec\.config\.match\[0\]\.pattern/.test(l.msg)));
  });
});

describe('handlers', () => {
  test('reconcile per object, [] on delete, reconcileScopes with every scope seen on sync', async () => {
    const f = await registered({ ingesters: [cmView('a')] });
    await f.lead();
    const inf = f.open()[0]!;
    await inf.events.add!(configMap('x', 'n', {}));
    await inf.events.add!(configMap('y', 'm', {}));
    await inf.events.delete!(configMap('x', 'n', {}));
    await inf.events.synced!([configMap('y', 'm', {})]);
    assert.deepEqual(
      f.calls.map((c) => [c.op, c.scope, c.n]),
      [
        ['reconcile', 'n/x', 1],
        ['reconcile', 'm/y', 1],
        ['reconcile', 'n/x', 0],
        ['reconcileScopes', undefined, 1],
      ],
    );
  });

  test('an object whose scope is known empty is not reconciled to [] again', async () => {
    const f = await registered({
      ingesters: [
        view({
          name: 'a',
          informer: { gvr: CONFIGMAPS },
          config: { defaults: { severity: 'low' }, match: [{ path: 'data.flag', values: ['on'] }] },
        }),
      ],
    });
    await f.lead();
    const inf = f.open()[0]!;
    await inf.events.add!(configMap('x', 'n', { flag: 'off' }));
    await inf.events.update!(configMap('x', 'n', { flag: 'off' }), undefined);
    await inf.events.update!(configMap('x', 'n', { flag: 'on' }), undefined);
    await inf.events.update!(configMap('x', 'n', { flag: 'off' }), undefined);
    await inf.events.delete!(configMap('x', 'n', { flag: 'off' }));
    assert.deepEqual(
      f.calls.map((c) => c.n),
      [0, 1, 0],
    );
  });

  test('resolve: false emits and never reconciles', async () => {
    const f = await registered({
      ingesters: [
        view({ name: 'e', informer: { gvr: EVENTS }, config: { resolve: false, defaults: { severity: 'low' } } }),
      ],
    });
    await f.lead();
    const inf = f.open()[0]!;
    await inf.events.add!(configMap('x', 'n', {}));
    await inf.events.delete!(configMap('x', 'n', {}));
    await inf.events.synced!([]);
    assert.deepEqual(
      f.calls.map((c) => c.op),
      ['emit'],
    );
  });

  test('handlers never throw: host failures and unreadable objects are logged', async () => {
    const f = await registered({
      ingesters: [view({ name: 'a', informer: { gvr: CONFIGMAPS }, config: { jsonDocument: { key: 'r.json' } } })],
    });
    await f.lead();
    const inf = f.open()[0]!;
    f.state.fail = true;
    await inf.events.add!(configMap('x', 'n', { 'r.json': '{"severity":"high","title":"t"}' }));
    await inf.events.add!(configMap('y', 'n', { 'r.json': 'not json' }));
    await inf.events.add!({ metadata: {} });
    await inf.events.add!(null as never);
    await inf.events.delete!(configMap('x', 'n', {}));
    await inf.events.synced!([]);
    assert.ok(f.logs.some((l) => /writing findings failed|the host retries it/.test(l.msg)));
    assert.ok(f.logs.some((l) => l.level === 'warn' && /invalid_document/.test(l.msg)));
    assert.equal(f.counters.get('informer_objects_skipped_total{"source":"test","reason":"invalid_document"}'), 1);
    assert.equal(f.counters.get('informer_objects_skipped_total{"source":"test","reason":"no_name"}'), 2);
  });
});

describe('schema-level config errors (the host validator, Ingester status)', () => {
  let kit: TestPlugin;
  before(async () => {
    kit = await load();
  });
  after(() => kit.close());
  const validate = (config: unknown) =>
    kit.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'x', namespace: 'zen-system' },
      spec: { source: 'x', plugin: 'informer', ingester: 'informer', informer: { gvr: CONFIGMAPS }, config },
    });
  const paths = (config: unknown) => {
    const r = validate(config);
    return r.ok ? [] : r.errors.map((e) => e.path);
  };

  test('a valid config gets the schema defaults', () => {
    const r = validate({});
    assert.ok(r.ok);
    assert.deepEqual(r.ingester.spec.config, {
      match: [],
      fields: {
        severity: 'severity',
        title: 'title',
        message: 'message',
        category: 'category',
        eventType: 'eventType',
        detectedAt: 'timestamp',
      },
      defaults: {},
      maxItems: 1000,
      resolve: true,
    });
  });

  test('errors name the field', () => {
    assert.deepEqual(paths({ bogus: 1 }), ['spec.config.bogus']);
    assert.deepEqual(paths({ fields: { title: 'a..b' } }), ['spec.config.fields.title']);
    assert.deepEqual(paths({ fields: { title: 'a[*]' } }), ['spec.config.fields.title']);
    assert.deepEqual(paths({ itemsField: 'a[*].b' }), []);
    assert.ok(paths({ match: [{ path: 'status' }] }).includes('spec.config.match[0]'));
    assert.deepEqual(paths({ match: [{ path: 'status', values: [] }] }), ['spec.config.match[0].values']);
    assert.deepEqual(paths({ severityMap: { FAIL: 'urgent' } }), ['spec.config.severityMap.FAIL']);
    assert.deepEqual(paths({ defaults: { category: 'fun' } }), ['spec.config.defaults.category']);
    assert.deepEqual(paths({ maxItems: 0 }), ['spec.config.maxItems']);
    assert.deepEqual(paths({ resolve: 'yes' }), ['spec.config.resolve']);
    assert.deepEqual(paths({ jsonDocument: {} }), ['spec.config.jsonDocument.key']);
    assert.ok(paths({ fields: { fingerprint: 7 } }).includes('spec.config.fields.fingerprint'));
    assert.ok(paths({ fields: { details: { a: 'x..y' } } }).some((p) => p.startsWith('spec.config.fields.details')));
  });

  test('the Ingester must be of type informer', () => {
    const r = kit.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'x', namespace: 'zen-system' },
      spec: { source: 'x', plugin: 'informer', ingester: 'webhook', webhook: { path: '/x' } },
    });
    assert.ok(!r.ok);
    assert.ok(r.errors.some((e) => e.path === 'spec.ingester'));
  });
});
