/**
 * The pure mapping (map.ts + config.ts): field paths, static defaults, severityMap, the resource defaulting to the
 * watched object, details, fingerprints, match rules, item and object skips, and config errors naming the field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, compileConfig, type InformerConfig, watchTarget } from '../config.ts';
import { mapObject, ObjectSkip, scopeOf } from '../map.ts';
import { CONFIGMAPS, configMap, configOf, fixture, severityOf, view } from './helpers.ts';

const map = (obj: unknown, config: Record<string, unknown>) =>
  mapObject(obj, compileConfig(configOf(config)), severityOf);

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'shop',
    uid: 'u1',
    resourceVersion: '17',
    labels: { 'app.kubernetes.io/name': 'web' },
    managedFields: [{ manager: 'kubectl' }],
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', team: 'a' },
  },
  status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' },
};

describe('object mode: one Observation per object', () => {
  test('field paths, severityMap, defaults; the resource is the watched object', () => {
    const r = map(pod, {
      fields: { severity: 'status.phase', title: 'status.reason', message: 'status.message' },
      severityMap: { Failed: 'high' },
      defaults: { category: 'operations', eventType: 'pod_failure' },
    });
    assert.equal(r.scope, 'shop/web-1');
    assert.equal(r.drafts.length, 1);
    const d = r.drafts[0]!;
    assert.equal(d.severity, 'high');
    assert.equal(d.title, 'Evicted');
    assert.equal(d.message, 'The node was low on resource: memory.');
    assert.equal(d.category, 'operations');
    assert.equal(d.eventType, 'pod_failure');
    assert.deepEqual(d.resource, { apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'shop' });
    // details: the object without managedFields and the last-applied annotation
    const meta = d.details?.metadata as Record<string, unknown>;
    assert.equal(meta.managedFields, undefined);
    assert.deepEqual(meta.annotations, { team: 'a' });
    assert.deepEqual(d.details?.status, pod.status);
    assert.equal(pod.metadata.managedFields.length, 1, 'the object itself is not modified');
  });

  test('severityMap is case-insensitive and wins over the host aliases; unmapped values use the aliases', () => {
    const cfg = { fields: { severity: 's' }, severityMap: { warning: 'low' }, defaults: { title: 't' } };
    const obj = (s: unknown) => ({ metadata: { name: 'x' }, s });
    assert.equal(map(obj('WARNING'), cfg).drafts[0]!.severity, 'low');
    assert.equal(map(obj('Error'), cfg).drafts[0]!.severity, 'high');
    assert.equal(map(obj('critical'), cfg).drafts[0]!.severity, 'critical');
    const booleans = { fields: { severity: 'scored' }, severityMap: { true: 'high', false: 'medium' } };
    assert.equal(map({ metadata: { name: 'x' }, scored: false }, booleans).drafts[0]!.severity, 'medium');
  });

  test('static defaults fill what the object lacks; the path wins when present', () => {
    const cfg = {
      defaults: { severity: 'low', title: 'Static title', message: 'static', category: 'cost', eventType: 'e' },
    };
    const d = map({ metadata: { name: 'x' } }, cfg).drafts[0]!;
    assert.deepEqual(
      [d.severity, d.title, d.message, d.category, d.eventType],
      ['low', 'Static title', 'static', 'cost', 'e'],
    );
    const e = map({ metadata: { name: 'x' }, severity: 'high', title: 'From object' }, cfg).drafts[0]!;
    assert.deepEqual([e.severity, e.title], ['high', 'From object']);
  });

  test('without a title anywhere, the title names the object', () => {
    const d = map({ kind: 'Node', metadata: { name: 'n1' } }, { defaults: { severity: 'info' } }).drafts[0]!;
    assert.equal(d.title, 'Node n1');
    const blank = map(
      { kind: 'Pod', metadata: { name: 'p', namespace: 'a' }, title: '  ' },
      {
        defaults: { severity: 'info' },
      },
    ).drafts[0]!;
    assert.equal(blank.title, 'Pod a/p');
  });

  test('apiVersion comes from the watched GVR when the object lacks it', () => {
    const r = mapObject(
      { kind: 'Thing', metadata: { name: 'x' } },
      compileConfig(configOf({ defaults: { severity: 'low' } })),
      severityOf,
      {
        apiVersion: 'example.com/v1',
      },
    );
    assert.deepEqual(r.drafts[0]!.resource, { apiVersion: 'example.com/v1', kind: 'Thing', name: 'x' });
  });

  test('detectedAt from a path when it is a date; otherwise left to the host (now)', () => {
    const cfg = { fields: { detectedAt: 'status.startTime' }, defaults: { severity: 'low' } };
    assert.equal(
      map({ metadata: { name: 'x' }, status: { startTime: '2025-06-01T10:00:00Z' } }, cfg).drafts[0]!.detectedAt,
      '2025-06-01T10:00:00Z',
    );
    assert.equal(map({ metadata: { name: 'x' }, status: { startTime: 'soon' } }, cfg).drafts[0]!.detectedAt, undefined);
  });

  test('cluster-scoped objects: the scope is the name; objects without a name are skipped', () => {
    assert.equal(scopeOf({ metadata: { name: 'node-1' } }), 'node-1');
    assert.equal(scopeOf({ metadata: { name: 'a', namespace: 'b' } }), 'b/a');
    assert.throws(
      () => map({ metadata: {} }, { defaults: { severity: 'low' } }),
      (e: unknown) => e instanceof ObjectSkip && e.reason === 'no_name',
    );
  });
});

describe('resource', () => {
  test('fields.resource takes apiVersion/kind/name/namespace from an object; single fields override it', () => {
    const ev = {
      metadata: { name: 'e1', namespace: 'shop' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'shop', uid: 'u', fieldPath: 'x' },
      other: 'Deployment',
    };
    const d = map(ev, { fields: { resource: 'involvedObject' }, defaults: { severity: 'low' } }).drafts[0]!;
    assert.deepEqual(d.resource, { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'shop' });
    const o = map(ev, { fields: { resource: 'involvedObject', resourceKind: 'other' }, defaults: { severity: 'low' } })
      .drafts[0]!;
    assert.equal(o.resource?.kind, 'Deployment');
  });

  test('any configured resource field replaces the default: unset parts stay unset (no mixing with the object)', () => {
    const cm = configMap('kb', 'kube-bench', {}, { node: 'worker-1' });
    const d = map(cm, {
      fields: { resourceName: '$object.metadata.labels.node' },
      defaults: { severity: 'low', resourceKind: 'Node', resourceApiVersion: 'v1' },
    }).drafts[0]!;
    assert.deepEqual(d.resource, { apiVersion: 'v1', kind: 'Node', name: 'worker-1' });
  });
});

describe('details', () => {
  const obj = { metadata: { name: 'x' }, spec: { a: 1, b: { c: 2 } }, list: [1, 2] };
  test('a path keeps that object; a non-object is wrapped as {value}', () => {
    assert.deepEqual(
      map(obj, { fields: { details: 'spec' }, defaults: { severity: 'low' } }).drafts[0]!.details,
      obj.spec,
    );
    assert.deepEqual(map(obj, { fields: { details: 'list' }, defaults: { severity: 'low' } }).drafts[0]!.details, {
      value: [1, 2],
    });
    assert.equal(
      map(obj, { fields: { details: 'nope' }, defaults: { severity: 'low' } }).drafts[0]!.details,
      undefined,
    );
  });
  test('a map of name → path picks fields; absent ones are left out', () => {
    const d = map(obj, {
      fields: { details: { a: 'spec.a', c: 'spec.b.c', name: '$object.metadata.name', gone: 'nope' } },
      defaults: { severity: 'low' },
    }).drafts[0]!;
    assert.deepEqual(d.details, { a: 1, c: 2, name: 'x' });
  });
});

describe('fingerprint', () => {
  const base = { defaults: { severity: 'low', title: 't' } };
  test('default: what the Observation says, never volatile parts of the object (resourceVersion, counts)', () => {
    const a = map({ metadata: { name: 'x', resourceVersion: '1' }, count: 1 }, base).drafts[0]!;
    const b = map({ metadata: { name: 'x', resourceVersion: '2' }, count: 7 }, base).drafts[0]!;
    assert.equal(a.fingerprint, b.fingerprint);
    const c = map({ metadata: { name: 'x' }, message: 'changed' }, base).drafts[0]!;
    assert.notEqual(a.fingerprint, c.fingerprint);
  });

  test('configured paths; with resolve on, the object is part of it, with resolve off it is not', () => {
    const cfg = { ...base, fields: { fingerprint: ['involvedObject.uid', 'reason'] } };
    const e1 = { metadata: { name: 'e1', namespace: 'n' }, involvedObject: { uid: 'u' }, reason: 'BackOff' };
    const e2 = { ...e1, metadata: { name: 'e2', namespace: 'n' } };
    assert.equal(map(e1, cfg).drafts[0]!.fingerprint, 'n/e1\nu\nBackOff');
    assert.notEqual(map(e1, cfg).drafts[0]!.fingerprint, map(e2, cfg).drafts[0]!.fingerprint);
    const off = { ...cfg, resolve: false };
    assert.equal(map(e1, off).drafts[0]!.fingerprint, 'u\nBackOff');
    assert.equal(map(e1, off).drafts[0]!.fingerprint, map(e2, off).drafts[0]!.fingerprint);
  });

  test('pinned: fingerprints do not change between releases (a change would make every finding new)', () => {
    // Canonical JSON (sorted keys at every level) is the plugin API's canonicalJson, the host's own.
    const obj = { metadata: { name: 'x', namespace: 'n' }, spec: { b: [2, { z: 1, a: null }], a: 'é"' } };
    const paths = { ...base, fields: { fingerprint: ['spec.b', 'spec.a'] }, resolve: false };
    assert.equal(map(obj, paths).drafts[0]!.fingerprint, '[2,{"a":null,"z":1}]\né"');
    assert.equal(
      map(obj, { ...base, resolve: false }).drafts[0]!.fingerprint,
      'sha256:2be2c8b45ff9c611303d47feee47223fb32e61946d5918b5a847b2cf5e6bc299',
    );
  });

  test('paths that give nothing fall back to the default', () => {
    const cfg = { ...base, fields: { fingerprint: 'nope' }, resolve: false };
    assert.match(map({ metadata: { name: 'x' } }, cfg).drafts[0]!.fingerprint!, /^sha256:[0-9a-f]{64}$/);
  });
});

describe('items and match', () => {
  const report = {
    apiVersion: 'wgpolicyk8s.io/v1alpha2',
    kind: 'PolicyReport',
    metadata: { name: 'pr-1', namespace: 'shop' },
    results: [
      {
        policy: 'require-labels',
        rule: 'check-team',
        result: 'fail',
        severity: 'medium',
        message: 'label team missing',
      },
      { policy: 'disallow-latest', rule: 'no-latest', result: 'pass', severity: 'high', message: 'ok' },
      { policy: 'disallow-privileged', rule: 'priv', result: 'fail', severity: 'high', message: 'privileged' },
      { policy: 'x', rule: 'y', result: 'warn', message: 'warned' },
    ],
  };
  const cfg = {
    itemsField: 'results',
    match: [{ path: 'result', values: ['FAIL', 'warn'] }],
    fields: { title: 'policy', fingerprint: ['policy', 'rule'] },
    defaults: { severity: 'low', category: 'compliance' },
  };

  test('one draft per matching item; values compare case-insensitively; unmatched items are counted', () => {
    const r = map(report, cfg);
    assert.deepEqual(
      r.drafts.map((d) => [d.title, d.severity, d.message]),
      [
        ['require-labels', 'medium', 'label team missing'],
        ['disallow-privileged', 'high', 'privileged'],
        ['x', 'low', 'warned'],
      ],
    );
    assert.equal(r.unmatched, 1);
    assert.deepEqual(r.drafts[0]!.resource, {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      name: 'pr-1',
      namespace: 'shop',
    });
    assert.deepEqual(r.drafts[0]!.details, report.results[0]);
  });

  test('pattern conditions (case-insensitive regex), AND of all conditions, any element of an array', () => {
    const r = map(report, {
      ...cfg,
      match: [
        { path: 'result', values: ['fail'] },
        { path: 'message', pattern: '^PRIV' },
      ],
    });
    assert.deepEqual(
      r.drafts.map((d) => d.title),
      ['disallow-privileged'],
    );
    const tagged = { metadata: { name: 'x' }, items: [{ tags: ['a', 'cis'] }, { tags: ['b'] }, {}] };
    const t = map(tagged, {
      itemsField: 'items',
      match: [{ path: 'tags', values: ['CIS'] }],
      defaults: { severity: 'low' },
    });
    assert.equal(t.drafts.length, 1);
  });

  test('default fingerprints of items include the item: equal-looking items stay distinct', () => {
    const obj = { metadata: { name: 'x' }, items: [{ id: 1 }, { id: 2 }] };
    const r = map(obj, { itemsField: 'items', defaults: { severity: 'low', title: 'same' } });
    assert.equal(r.drafts.length, 2);
    assert.notEqual(r.drafts[0]!.fingerprint, r.drafts[1]!.fingerprint);
  });

  test('an item that cannot be mapped is skipped alone, naming the field', () => {
    const obj = {
      metadata: { name: 'x' },
      items: [{ severity: 'bogus' }, { severity: 'high' }, {}, { severity: 'low', category: 'nope' }],
    };
    const r = map(obj, { itemsField: 'items', fields: { title: 'id' } });
    assert.equal(r.drafts.length, 1);
    assert.deepEqual(
      r.skipped.map((s) => [s.item, s.reason, s.field]),
      [
        ['0', 'unknown_severity', 'fields.severity'],
        ['2', 'missing_severity', 'fields.severity'],
        ['3', 'unknown_category', 'fields.category'],
      ],
    );
  });

  test('whole-object problems: wrong shape, too many items', () => {
    assert.throws(
      () => map({ metadata: { name: 'x' }, results: { a: 1 } }, { itemsField: 'results' }),
      (e: unknown) => e instanceof ObjectSkip && e.reason === 'items_shape',
    );
    assert.throws(
      () => map({ metadata: { name: 'x' }, results: [1, 2, 3] }, { itemsField: 'results', maxItems: 2 }),
      (e: unknown) => e instanceof ObjectSkip && e.reason === 'too_many_items',
    );
    assert.deepEqual(map({ metadata: { name: 'x' } }, { itemsField: 'results' }).drafts, [], 'absent = no findings');
  });
});

describe('JSON documents in ConfigMaps', () => {
  const kubeBench = {
    jsonDocument: { key: 'results.json' },
    itemsField: 'Controls[*].tests[*].results',
    match: [{ path: 'status', values: ['FAIL', 'WARN'] }],
    fields: {
      severity: 'status',
      title: 'test_desc',
      message: 'remediation',
      fingerprint: 'test_number',
      details: { testNumber: 'test_number', section: '$parent.section', benchmark: '$parent.$parent.version' },
    },
    severityMap: { FAIL: 'high', WARN: 'medium' },
    defaults: { category: 'compliance', eventType: 'cis_benchmark_finding' },
  };

  test('kube-bench: one draft per FAIL/WARN check, parents reachable, resource = the ConfigMap', () => {
    const cm = configMap('kube-bench-node-1', 'kube-bench', { 'results.json': fixture('kube-bench-results.json') });
    const r = map(cm, kubeBench);
    assert.deepEqual(
      r.drafts.map((d) => [d.details?.testNumber, d.severity, d.details?.section]),
      [
        ['1.1.12', 'high', '1.1'],
        ['1.2.1', 'medium', '1.2'],
        ['1.2.16', 'high', '1.2'],
      ],
    );
    assert.equal(r.unmatched, 3, 'PASS, PASS and INFO');
    const d = r.drafts[0]!;
    assert.equal(d.title, 'Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)');
    assert.match(d.message!, /chown etcd:etcd/);
    assert.equal(d.details?.benchmark, 'cis-1.9');
    assert.equal(d.fingerprint, 'kube-bench/kube-bench-node-1\n1.1.12');
    assert.deepEqual(d.resource, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'kube-bench-node-1',
      namespace: 'kube-bench',
    });
  });

  test('checkov: results.failed_checks, one draft per failed check', () => {
    const cm = configMap('checkov-shop', 'checkov', { 'results.json': fixture('checkov-results.json') });
    const r = map(cm, {
      jsonDocument: { key: 'results.json' },
      itemsField: 'results.failed_checks',
      fields: {
        title: 'check_name',
        fingerprint: ['check_id', 'resource'],
        details: { checkId: 'check_id', resource: 'resource', guideline: 'guideline' },
      },
      defaults: { severity: 'medium', eventType: 'static_analysis' },
    });
    assert.deepEqual(
      r.drafts.map((d) => [d.details?.checkId, d.severity]),
      [
        ['CKV_K8S_20', 'high'],
        ['CKV_K8S_43', 'low'],
      ],
    );
  });

  test('binaryData (base64) is read too; a missing key or invalid JSON skips the object', () => {
    const doc = JSON.stringify({ items: [{ severity: 'high', title: 'b' }] });
    const bin = {
      metadata: { name: 'b', namespace: 'n' },
      binaryData: { 'r.json': Buffer.from(doc).toString('base64') },
    };
    assert.equal(map(bin, { jsonDocument: { key: 'r.json' }, itemsField: 'items' }).drafts.length, 1);
    assert.throws(
      () => map(configMap('c', 'n', { other: '{}' }), { jsonDocument: { key: 'r.json' } }),
      (e: unknown) => e instanceof ObjectSkip && e.reason === 'no_document',
    );
    assert.throws(
      () => map(configMap('c', 'n', { 'r.json': '{"Controls": [' }), { jsonDocument: { key: 'r.json' } }),
      (e: unknown) => e instanceof ObjectSkip && e.reason === 'invalid_document' && /data\["r\.json"\]/.test(e.message),
    );
    assert.throws(
      () => map(configMap('c', 'n', { 'r.json': 'password=hunter2' }), { jsonDocument: { key: 'r.json' } }),
      (e: unknown) => e instanceof ObjectSkip && !e.message.includes('hunter2'),
      'the message never quotes the document',
    );
  });

  test('$object reads the ConfigMap while paths read the document', () => {
    const cm = configMap('kb', 'ns', { 'r.json': '{"x":{"severity":"low","title":"t"}}' }, { node: 'w1' });
    const d = map(cm, {
      jsonDocument: { key: 'r.json' },
      itemsField: undefined,
      fields: { severity: 'x.severity', title: '$object.metadata.labels.node' },
    }).drafts[0]!;
    assert.equal(d.title, 'w1');
  });
});

describe('config errors name the field', () => {
  // compileConfig's own checks, behind the schema's: the values go in unvalidated, over the schema's defaults.
  const unchecked = (config: Record<string, unknown>): InformerConfig => {
    const d = configOf();
    const fields = { ...d.fields, ...(config.fields as object | undefined) };
    return { ...d, ...config, fields } as InformerConfig;
  };
  const fails = (config: Record<string, unknown>, field: string, why: RegExp) =>
    assert.throws(
      () => compileConfig(unchecked(config)),
      (e: unknown) => e instanceof ConfigError && e.field === field && why.test(e.message),
      `${field}`,
    );
  test('invalid paths, regexes, match rules', () => {
    fails({ fields: { title: 'a..b' } }, 'spec.config.fields.title', /field name/);
    fails({ itemsField: 'a[x]' }, 'spec.config.itemsField', /expected/);
    fails({ match: [{ path: 'a', pattern: '(' }] }, 'spec.config.match[0].pattern', /regular expression/);
    fails({ match: [{ path: 'a' }] }, 'spec.config.match[0]', /values or pattern/);
    fails({ fields: { fingerprint: ['a', 'b[*]'] } }, 'spec.config.fields.fingerprint[1]', /only in itemsField/);
    fails({ fields: { details: { x: '$nope' } } }, 'spec.config.fields.details.x', /unknown root/);
    fails({ severityMap: { a: 'urgent' } }, 'spec.config.severityMap.a', /one of/);
  });

  test('spec.informer.gvr is required; namespace and selectors come from spec.informer', () => {
    assert.throws(
      () => watchTarget(view({})),
      (e: unknown) => e instanceof ConfigError && e.field === 'spec.informer.gvr' && /is required/.test(e.message),
    );
    assert.deepEqual(
      watchTarget(
        view({
          informer: {
            gvr: { group: '', version: 'v1', resource: 'events' },
            namespace: '',
            fieldSelector: 'type=Warning',
          },
        }),
      ),
      { group: '', version: 'v1', resource: 'events', fieldSelector: 'type=Warning' },
    );
    assert.deepEqual(watchTarget(view({ informer: { gvr: CONFIGMAPS, namespace: 'kb', labelSelector: 'app=kb' } })), {
      ...CONFIGMAPS,
      namespace: 'kb',
      labelSelector: 'app=kb',
    });
  });
});
