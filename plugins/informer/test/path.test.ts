/** Field paths: parsing, reading with roots, item expansion, and the schema pattern agreeing with the parser. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  expandItems,
  FIELD_PATH_PATTERN,
  ITEMS_PATH_PATTERN,
  ItemsShapeError,
  type PathContext,
  PathError,
  parsePath,
  readPath,
} from '../path.ts';

const ctx = (item: unknown, object: unknown = { kind: 'ConfigMap' }, document: unknown = item): PathContext => ({
  item,
  object,
  document,
});
const read = (item: unknown, path: string, c: PathContext = ctx(item)) => readPath(c, parsePath(path));

describe('readPath', () => {
  test('dot paths and [n] indexes, as in the webhook plugin', () => {
    const o = { a: { b: [{ c: 1 }, { c: 2 }] }, x: 'y' };
    assert.equal(read(o, 'x'), 'y');
    assert.equal(read(o, 'a.b[1].c'), 2);
    assert.deepEqual(read(o, 'a.b[0]'), { c: 1 });
    assert.equal(read(o, 'a.b[5].c'), undefined);
    assert.equal(read(o, 'a.missing.c'), undefined);
    assert.equal(read(o, 'x.length'), undefined, 'no properties of strings');
    assert.equal(read(o, 'a.b.length'), undefined, 'no properties of arrays');
  });

  test('quoted keys reach label keys with dots and slashes', () => {
    const o = { metadata: { labels: { 'app.kubernetes.io/name': 'web', "it's": 'q' } } };
    assert.equal(read(o, 'metadata.labels["app.kubernetes.io/name"]'), 'web');
    assert.equal(read(o, "metadata.labels['app.kubernetes.io/name']"), 'web');
    assert.equal(read(o, `metadata.labels["it's"]`), 'q');
    assert.equal(read({ 'a.b': 1 }, '["a.b"]'), 1);
  });

  test('only own properties: no prototype reads', () => {
    assert.equal(read({}, 'constructor'), undefined);
    assert.equal(read({}, '__proto__'), undefined);
    assert.equal(read({}, 'toString'), undefined);
  });

  test('roots: $object, $document, $item, $parent (repeatable)', () => {
    const object = { metadata: { name: 'cm' } };
    const document = { version: 'cis-1.9' };
    const grand: PathContext = { item: { id: 'g' }, object, document };
    const parent: PathContext = { item: { id: 'p', section: '1.1' }, object, document, parent: grand };
    const c: PathContext = { item: { id: 'i' }, object, document, parent };
    assert.equal(readPath(c, parsePath('id')), 'i');
    assert.equal(readPath(c, parsePath('$item.id')), 'i');
    assert.deepEqual(readPath(c, parsePath('$item')), { id: 'i' });
    assert.equal(readPath(c, parsePath('$object.metadata.name')), 'cm');
    assert.equal(readPath(c, parsePath('$document.version')), 'cis-1.9');
    assert.equal(readPath(c, parsePath('$parent.section')), '1.1');
    assert.equal(readPath(c, parsePath('$parent.$parent.id')), 'g');
    assert.equal(readPath(c, parsePath('$parent.$parent.$parent.id')), undefined, 'above the top: undefined');
    assert.equal(readPath(c, parsePath('$parent["section"]')), '1.1');
  });

  test('invalid paths name the problem', () => {
    for (const [p, why] of [
      ['', /empty/],
      ['a..b', /field name/],
      ['.a', /field name/],
      ['a.', /field name/],
      ['a[', /not closed/],
      ['a[x]', /expected \[n\]/],
      ['a]', /unexpected '\]'/],
      ['a[0]b', /unexpected 'b'/],
      ['a.$object', /only at the start/],
      ['$foo.a', /unknown root/],
      ['$parentx', /unknown root/],
      ['a[*]', /only in itemsField/],
      ['["a"b"]', /quote inside|expected/],
    ] as const) {
      assert.throws(
        () => parsePath(p),
        (e: unknown) => e instanceof PathError && why.test(e.message),
        p,
      );
    }
    assert.doesNotThrow(() => parsePath('a[*].b', { wildcards: true }));
  });
});

describe('expandItems', () => {
  const doc = {
    Controls: [
      {
        id: '1',
        tests: [
          { section: '1.1', results: [{ n: 'a' }, { n: 'b' }] },
          { section: '1.2', results: [] },
        ],
      },
      { id: '4', tests: [{ section: '4.1', results: [{ n: 'c' }] }, { section: '4.2' }] },
    ],
  };
  const base = ctx(doc, { metadata: { name: 'cm' } });

  test('[*] flattens nested arrays; the last step is iterated implicitly; $parent reaches enclosing elements', () => {
    const items = expandItems(base, parsePath('Controls[*].tests[*].results', { wildcards: true }), 100);
    assert.deepEqual(
      items.map((i) => [
        (i.item as { n: string }).n,
        readPath(i.ctx, parsePath('$parent.section')),
        readPath(i.ctx, parsePath('$parent.$parent.id')),
        readPath(i.ctx, parsePath('$object.metadata.name')),
        i.index,
      ]),
      [
        ['a', '1.1', '1', 'cm', '0.0.0'],
        ['b', '1.1', '1', 'cm', '0.0.1'],
        ['c', '4.1', '4', 'cm', '1.0.0'],
      ],
    );
    const same = expandItems(base, parsePath('Controls[*].tests[*].results[*]', { wildcards: true }), 100);
    assert.deepEqual(
      same.map((i) => i.item),
      items.map((i) => i.item),
    );
  });

  test('an absent or null array gives no items; another type is a shape error; the limit is enforced', () => {
    assert.deepEqual(expandItems(ctx({}), parsePath('results'), 10), []);
    assert.deepEqual(expandItems(ctx({ results: null }), parsePath('results'), 10), []);
    assert.throws(
      () => expandItems(ctx({ results: 'x' }), parsePath('results'), 10),
      (e: unknown) => e instanceof ItemsShapeError && /'results'/.test(e.message),
    );
    assert.throws(
      () => expandItems(ctx({ a: [{ b: {} }] }), parsePath('a[*].b', { wildcards: true }), 10),
      (e: unknown) => e instanceof ItemsShapeError && /'a\[0\]\.b'/.test(e.message),
    );
    assert.throws(() => expandItems(ctx({ r: [1, 2, 3] }), parsePath('r'), 2), RangeError);
    assert.equal(expandItems(ctx({ r: [1, 2, 3] }), parsePath('r'), 3).length, 3);
  });
});

describe('the schema pattern accepts exactly what the parser accepts', () => {
  const field = new RegExp(FIELD_PATH_PATTERN, 'u');
  const items = new RegExp(ITEMS_PATH_PATTERN, 'u');
  const parses = (p: string, wildcards: boolean) => {
    try {
      parsePath(p, { wildcards });
      return true;
    } catch {
      return false;
    }
  };
  const piece = fc.oneof(
    fc.constantFrom('.', '[', ']', '*', '$', '"', "'", '0', '12', 'a', 'metadata', 'name', 'x.y'),
    fc.constantFrom('$object', '$document', '$item', '$parent', '.$parent', '[*]', '[0]', '["a.b"]', "['k']"),
    fc.string({ maxLength: 3 }),
  );
  test('random paths', () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (parts) => {
        const p = parts.join('');
        assert.equal(field.test(p), parses(p, false), `field path ${JSON.stringify(p)}`);
        assert.equal(items.test(p), parses(p, true), `items path ${JSON.stringify(p)}`);
      }),
      { numRuns: 3000 },
    );
  });
});
