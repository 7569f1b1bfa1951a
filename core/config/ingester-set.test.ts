import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveConflicts } from './ingester-set.ts';
import { createAjv, type IngesterConfig, IngesterValidator } from './validate.ts';

const handlers = new Map([
  ['webhook', { handler: 'webhook', plugin: 'webhook', pluginVersion: '1.0.0', ingesterTypes: ['webhook'] as const }],
]);
const validator = new IngesterValidator({
  ajv: createAjv(),
  handlers: (h) => handlers.get(h),
  knownHandlers: () => [...handlers.keys()],
});

function ingester(name: string, path: string, source = 'webhook', namespace = 'default'): IngesterConfig {
  const r = validator.validate({
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Ingester',
    metadata: { name, namespace },
    spec: { source, plugin: 'webhook', ingester: 'webhook', webhook: { path } },
  });
  assert.ok(r.ok, JSON.stringify(r));
  return r.ingester;
}

describe('resolveConflicts', () => {
  test('a second Ingester with the same namespace/name is a Conflict; the first in load order keeps it', () => {
    const first = ingester('generic-webhook', '/ingest/a', 'first');
    const second = ingester('generic-webhook', '/ingest/b', 'second');
    const { active, rejected } = resolveConflicts([first, second], ['a.yaml', 'b.yaml']);
    assert.deepEqual(active, [first]);
    assert.equal(rejected.length, 1);
    const [r] = rejected;
    assert.equal(r!.key, 'default/generic-webhook');
    assert.equal(r!.source, 'second');
    assert.equal(r!.reason, 'Conflict');
    assert.equal(r!.origin, 'b.yaml');
    assert.equal(r!.errors[0]!.path, 'metadata.name');
    assert.match(r!.errors[0]!.message, /Ingester default\/generic-webhook is already defined in a\.yaml/);
    // The load order decides, not the content: reversed, the other one is kept.
    const reversed = resolveConflicts([second, first], ['b.yaml', 'a.yaml']);
    assert.deepEqual(reversed.active, [second]);
    assert.equal(reversed.rejected[0]!.origin, 'a.yaml');
  });
  test('without origins the message names neither definition', () => {
    const { rejected } = resolveConflicts([ingester('x', '/a'), ingester('x', '/b'), ingester('x', '/c')]);
    assert.equal(rejected.length, 2);
    for (const r of rejected) {
      assert.equal(r.origin, undefined);
      assert.match(r.errors[0]!.message, /Ingester default\/x is defined more than once; the first definition read/);
    }
  });
  test('a rejected duplicate does not claim its webhook path; the same name in two namespaces is no conflict', () => {
    const kept = ingester('x', '/a');
    const dup = ingester('x', '/b');
    const other = ingester('y', '/b');
    const elsewhere = ingester('x', '/c', 'webhook', 'team-b');
    const { active, rejected } = resolveConflicts([kept, dup, other, elsewhere]);
    assert.deepEqual(active.map((i) => `${i.key} ${i.spec.webhook?.path}`).sort(), [
      'default/x /a',
      'default/y /b',
      'team-b/x /c',
    ]);
    assert.deepEqual(
      rejected.map((r) => r.errors[0]!.path),
      ['metadata.name'],
    );
  });
  test('webhook path conflicts still go to the first by namespace/name (unique keys, as in kubernetes mode)', () => {
    const b = ingester('b', '/same');
    const a = ingester('a', '/same');
    const { active, rejected } = resolveConflicts([b, a]);
    assert.deepEqual(
      active.map((i) => i.key),
      ['default/a'],
    );
    assert.equal(rejected[0]!.key, 'default/b');
    assert.equal(rejected[0]!.errors[0]!.path, 'spec.webhook.path');
    assert.match(rejected[0]!.errors[0]!.message, /'\/same' is already served by Ingester default\/a/);
  });
});
