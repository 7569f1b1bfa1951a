import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyOf, ObjectStore } from './store.ts';

const obj = (name: string, rv: string, uid = `uid-${name}`, namespace = 'ns') => ({
  metadata: { name, namespace, resourceVersion: rv, uid },
});
type O = ReturnType<typeof obj>;
const show = (ds: { type: string; obj: O }[]) =>
  ds.map((d) => `${d.type}:${d.obj.metadata.name}@${d.obj.metadata.resourceVersion}`);

describe('ObjectStore', () => {
  test('keys: namespace/name, or name for cluster-scoped objects', () => {
    assert.equal(keyOf(obj('a', '1')), 'ns/a');
    assert.equal(keyOf({ metadata: { name: 'n' } }), 'n');
    assert.equal(keyOf(null), '');
  });

  test('replace: first list adds everything; a relist reports adds, updates (rv), replacements (uid), deletes', () => {
    const s = new ObjectStore<O>();
    assert.deepEqual(show(s.replace([obj('a', '1'), obj('b', '1'), obj('c', '1')])), ['add:a@1', 'add:b@1', 'add:c@1']);
    const deltas = s.replace([obj('a', '1'), obj('b', '2'), obj('c', '3', 'uid-c2'), obj('d', '4')]);
    assert.deepEqual(show(deltas), ['update:b@2', 'delete:c@1', 'add:c@3', 'add:d@4']);
    const upd = deltas[0];
    assert.ok(upd?.type === 'update' && upd.old.metadata.resourceVersion === '1', 'update carries the old object');
    assert.deepEqual(show(s.replace([obj('d', '4')])), ['delete:a@1', 'delete:b@2', 'delete:c@3']);
    assert.equal(s.size, 1);
    assert.deepEqual(s.replace([obj('d', '4')]), [], 'an identical relist changes nothing');
  });

  test('apply: watch events, repeats ignored, deletes of unknown objects ignored', () => {
    const s = new ObjectStore<O>();
    assert.deepEqual(show(s.apply('ADDED', obj('a', '1'))), ['add:a@1']);
    assert.deepEqual(s.apply('ADDED', obj('a', '1')), [], 'same rv again');
    assert.deepEqual(show(s.apply('MODIFIED', obj('a', '2'))), ['update:a@2']);
    assert.deepEqual(show(s.apply('MODIFIED', obj('b', '3'))), ['add:b@3'], 'MODIFIED of an unknown object is an add');
    assert.deepEqual(show(s.apply('ADDED', obj('a', '4', 'other'))), ['delete:a@2', 'add:a@4'], 'new uid');
    assert.deepEqual(show(s.apply('DELETED', obj('a', '5', 'other'))), ['delete:a@5'], 'final state of the object');
    assert.deepEqual(s.apply('DELETED', obj('zz', '6')), []);
    assert.deepEqual(
      s.values().map((o) => o.metadata.name),
      ['b'],
    );
  });
});
