/**
 * plainJsonBytesBound lets normalizeDraft skip writing details out as JSON: it must never be below the real size,
 * must say -1 for what it cannot vouch for (too deep, toJSON, class instances, bigint), and normalizeDraft must give
 * the same details with it as the exact way (boundDetails after tooDeepPath).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, plainJsonBytesBound, tooDeepPath } from './json-depth.ts';
import { boundDetails, normalizeDraft } from './normalize.ts';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');
// Strings of any UTF-16 code units: control characters, lone surrogates, astral characters.
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
);
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('any'), { maxLength: 5 }),
    fc.dictionary(text, tie('any'), { maxKeys: 5 }),
  ),
})).any;

test('plainJsonBytesBound is at least the UTF-8 size of JSON.stringify, for any plain value', () => {
  fc.assert(
    fc.property(value, (v) => {
      const b = plainJsonBytesBound(v);
      assert.ok(b >= bytes(v), `bound ${b} < ${bytes(v)} for ${JSON.stringify(v)}`);
    }),
    { numRuns: 2000 },
  );
});

test('plainJsonBytesBound says -1 for what it cannot vouch for', () => {
  assert.equal(plainJsonBytesBound({ a: new Date(0) }), -1);
  assert.equal(plainJsonBytesBound({ a: { toJSON: () => 'x'.repeat(100) } }), -1);
  assert.equal(plainJsonBytesBound({ a: new Map() }), -1);
  assert.equal(plainJsonBytesBound({ a: [new String('xx')] }), -1);
  assert.equal(plainJsonBytesBound({ a: 1n }), -1);
  assert.equal(plainJsonBytesBound({ a: [{ b: 1 }] }, 3) > 0, true);
  assert.equal(plainJsonBytesBound({ a: [{ b: {} }] }, 3), -1); // 4 levels
  const deep = JSON.parse(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`);
  assert.equal(plainJsonBytesBound(deep), -1);
  assert.notEqual(tooDeepPath(deep), undefined);
  const proto = JSON.parse('{"__proto__": {"a": "b"}, "c": [1, "\\u0000"]}');
  assert.ok(plainJsonBytesBound(proto) >= bytes(proto));
  assert.ok(plainJsonBytesBound(Object.assign(Object.create(null), { a: 'b' })) >= 9);
});

test('normalizeDraft bounds details exactly as boundDetails does', () => {
  fc.assert(
    fc.property(fc.dictionary(text, value, { maxKeys: 8 }), fc.integer({ min: 16, max: 4096 }), (details, max) => {
      const res = normalizeDraft({ severity: 'high', title: 't', details }, { maxDetailsBytes: max, now: 0 });
      assert.ok(res.ok);
      assert.deepEqual(res.draft.details, boundDetails(details, max));
    }),
    { numRuns: 1000 },
  );
});
