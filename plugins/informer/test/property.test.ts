/**
 * Property-based: random objects (Kubernetes-shaped or anything at all, with random JSON documents in their data)
 * never throw out of the mapping except as a typed ObjectSkip, every draft is one the host accepts, and the
 * informer handlers never throw through the real pipeline and resolver (kit), whatever the config.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { ObservationDraft } from 'zen-watcher/plugin-api';
import type { TestPlugin } from 'zen-watcher/testkit';
import { compileConfig } from '../config.ts';
import { mapObject, ObjectSkip } from '../map.ts';
import { configOf, load, sampleSpec, severityOf } from './helpers.ts';

const CONFIGS: Record<string, Record<string, unknown>> = {
  defaults: {},
  object: {
    fields: { severity: 'status.level', title: 'metadata.name', resource: 'spec.target', details: 'spec' },
    severityMap: { bad: 'high' },
    defaults: { severity: 'low' },
  },
  items: {
    itemsField: 'spec.items',
    match: [{ path: 'kind', pattern: '^a' }],
    fields: { fingerprint: ['id', '$parent.x', '$object.metadata.uid'], details: { a: 'a', b: '$object.kind' } },
    defaults: { severity: 'info', category: 'cost' },
  },
  document: {
    jsonDocument: { key: 'results.json' },
    itemsField: 'Controls[*].tests[*].results',
    match: [{ path: 'status', values: ['FAIL', 'WARN'] }],
    fields: { severity: 'status', title: 'test_desc', fingerprint: 'test_number' },
    severityMap: { FAIL: 'high', WARN: 'medium' },
  },
  kubeBench: sampleSpec('zen_v1alpha1_ingester_informer_kube_bench.yaml').config as Record<string, unknown>,
  events: sampleSpec('zen_v1alpha1_ingester_informer_events.yaml').config as Record<string, unknown>,
};

const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double());
const value = fc.oneof(scalar, fc.anything({ maxDepth: 3 }));
const severityish = fc.oneof(
  fc.constantFrom('FAIL', 'WARN', 'PASS', 'Warning', 'Normal', 'high', 'bad', 'critical', ''),
  value,
);
const result = fc.record(
  {
    test_number: value,
    test_desc: value,
    status: severityish,
    remediation: value,
    kind: fc.oneof(fc.constantFrom('a', 'ab', 'b'), value),
    id: value,
  },
  { requiredKeys: [] },
);
const kubeBenchDoc = fc.record({
  Controls: fc.oneof(
    fc.array(
      fc.record(
        {
          id: value,
          version: value,
          tests: fc.oneof(fc.array(fc.record({ section: value, results: fc.oneof(fc.array(result), value) })), value),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    ),
    value,
  ),
});
const documentText = fc.oneof(
  kubeBenchDoc.map((d) => JSON.stringify(d)),
  fc.json(),
  fc.string({ maxLength: 40 }),
  fc.constant('{"Controls": ['),
);
const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), value);
const kubeObject = fc.record(
  {
    apiVersion: fc.oneof(fc.constant('v1'), value),
    kind: fc.oneof(fc.constantFrom('ConfigMap', 'Event', 'Thing'), value),
    metadata: fc.oneof(
      fc.record(
        {
          name,
          namespace: fc.oneof(fc.constantFrom('default', 'shop', ''), value),
          uid: value,
          labels: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })),
          managedFields: value,
        },
        { requiredKeys: ['name'] },
      ),
      value,
    ),
    data: fc.oneof(fc.record({ 'results.json': documentText }), fc.dictionary(fc.string(), value)),
    binaryData: fc.oneof(fc.record({ 'results.json': fc.base64String() }), value),
    status: fc.record({ level: severityish }, { requiredKeys: [] }),
    spec: fc.record(
      {
        target: fc.oneof(fc.record({ kind: value, name: value, namespace: value, apiVersion: value }), value),
        items: fc.oneof(fc.array(fc.oneof(result, value), { maxLength: 6 }), value),
      },
      { requiredKeys: [] },
    ),
    involvedObject: fc.record({ uid: value, kind: value, name: value, namespace: value }, { requiredKeys: [] }),
    reason: value,
    message: value,
    type: severityish,
    lastTimestamp: fc.oneof(fc.constant('2025-06-01T12:00:00Z'), value),
    count: value,
  },
  { requiredKeys: [] },
);
const anyValue = fc.oneof({ weight: 4, arbitrary: kubeObject }, { weight: 1, arbitrary: fc.anything() });
/** What an informer can deliver: always an object (the kit reads metadata.namespace to route it). */
const anyObject = fc.oneof({ weight: 4, arbitrary: kubeObject }, { weight: 1, arbitrary: fc.object() });

function assertValidDraft(d: ObservationDraft) {
  assert.ok(['critical', 'high', 'medium', 'low', 'info'].includes(d.severity), `severity ${d.severity}`);
  assert.equal(typeof d.title, 'string');
  assert.ok(d.title.trim() !== '', 'title not blank');
  assert.ok(typeof d.fingerprint === 'string' && d.fingerprint !== '', 'fingerprint');
  if (d.message !== undefined) assert.equal(typeof d.message, 'string');
  if (d.category !== undefined)
    assert.ok(['security', 'compliance', 'performance', 'operations', 'cost'].includes(d.category));
  if (d.details !== undefined) assert.ok(d.details && typeof d.details === 'object' && !Array.isArray(d.details));
  for (const v of Object.values(d.resource ?? {})) assert.equal(typeof v, 'string');
  if (d.detectedAt !== undefined) assert.ok(!Number.isNaN(Date.parse(String(d.detectedAt))));
}

describe('mapping never throws except ObjectSkip, and its drafts are valid', () => {
  for (const [label, config] of Object.entries(CONFIGS)) {
    const cfg = compileConfig(configOf(config));
    test(label, () => {
      fc.assert(
        fc.property(anyValue, (obj) => {
          try {
            const r = mapObject(obj, cfg, severityOf, { apiVersion: 'v1' });
            for (const d of r.drafts) assertValidDraft(d);
            assert.equal(r.drafts.length + r.unmatched + r.skipped.length >= 0, true);
          } catch (err) {
            if (!(err instanceof ObjectSkip)) throw err;
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});

describe('informer handlers never throw (real pipeline and resolver)', () => {
  let kit: TestPlugin;
  before(async () => {
    kit = await load();
    for (const [label, config] of Object.entries(CONFIGS)) {
      kit.ingester({
        name: `p-${label.toLowerCase()}`,
        source: `p-${label.toLowerCase()}`,
        spec: { informer: { gvr: { group: 'example.com', version: 'v1', resource: 'things' } } },
        config,
      });
    }
    await kit.startLeading();
  });
  after(() => kit.close());

  test('random add / update / delete / relist sequences', async () => {
    assert.equal(kit.informers('things').length, Object.keys(CONFIGS).length);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('add', 'update', 'remove', 'relist'), anyObject), {
          minLength: 1,
          maxLength: 5,
        }),
        async (ops) => {
          for (const [op, obj] of ops) {
            const o = obj as Record<string, unknown>;
            if (op === 'add') await kit.add('things', o);
            else if (op === 'update') await kit.update('things', o);
            else if (op === 'remove') await kit.remove('things', o);
            else await kit.relist('things', [o]);
          }
        },
      ),
      { numRuns: 120 },
    );
    for (const o of kit.observations()) {
      assert.ok(['critical', 'high', 'medium', 'low', 'info'].includes(o.spec.severity));
      assert.ok(o.spec.title.length > 0);
    }
  });
});
