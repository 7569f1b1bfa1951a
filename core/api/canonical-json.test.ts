/**
 * canonicalJson writes plain data through one JSON.stringify of a key-sorted copy (issue #18): the output must be
 * the same, byte for byte, as writing it out piece by piece (the reference below, the implementation before), for
 * any value: Dates and other toJSON objects, class instances, Maps, boxed values, sparse arrays, null prototypes,
 * `__proto__` and integer-like keys, undefined, functions, symbols and bigints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from './helpers.ts';

function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + member(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${member(v)}`;
    first = false;
  }
  return `${out}}`;
}
const member = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : reference(v));

const outcome = (f: () => string): string => {
  try {
    return f();
  } catch (err) {
    return `threw ${(err as Error).name}`;
  }
};

const keys = fc.oneof(
  fc.string(),
  fc.constantFrom('__proto__', 'toJSON', '0', '1', '10', '9', '01', '-1', '1.5', '4294967295', 'a', 'B', 'é', ''),
);
const anything = fc.anything({
  key: keys,
  maxDepth: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});

test('canonicalJson is the same text as writing it out piece by piece, for any value', () => {
  fc.assert(
    fc.property(fc.oneof(anything, fc.jsonValue()), (v) => {
      assert.equal(
        outcome(() => canonicalJson(v)),
        outcome(() => reference(v)),
      );
    }),
    { numRuns: 3000 },
  );
  const fn = () => 1;
  const odd = [
    { b: 1, a: [undefined, new Array(3), fn, Symbol('s'), { d: undefined, c: new Date(0) }] },
    { z: { toJSON: () => 'x' }, y: 1 },
    JSON.parse('{"__proto__": {"b": 1, "a": 2}, "x": [3]}'),
    Object.assign(Object.create(null), { b: 1, a: { d: 1, c: 2 } }),
    { b: fn, a: Symbol('s') },
    { b: 1, '10': 2, a: 3, '9': 4 },
    [{ y: 1, x: [{ q: 1, p: 2 }] }, 'é\u0000\ud800'],
  ];
  const withToJson = Object.assign([{ a: 1, b: 2 }], { toJSON: () => 'x' });
  odd.push(withToJson, { a: withToJson });
  for (const v of odd) assert.equal(canonicalJson(v), reference(v));
  assert.throws(() => canonicalJson({ a: 1n }), TypeError);
});
