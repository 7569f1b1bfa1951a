/**
 * iso-time.ts is `toISOString`/`Date.parse` with caches: the same strings and numbers, in any order of calls (the
 * caches are process-wide), for every time value, including the ones outside years 0–9999, fractions and NaN.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isoString, parseIso } from './iso-time.ts';

const reference = (ms: number): string | RangeError => {
  try {
    return new Date(ms).toISOString();
  } catch (err) {
    return err as RangeError;
  }
};
const ours = (ms: number): string | RangeError => {
  try {
    return isoString(ms);
  } catch (err) {
    return err as RangeError;
  }
};
const same = (a: string | RangeError, b: string | RangeError) =>
  typeof a === 'string'
    ? assert.equal(b, a)
    : assert.ok(b instanceof RangeError, `expected a RangeError, got ${String(b)}`);

const MAX = 8.64e15;
const time = fc.oneof(
  fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), // now-ish: runs of the same second
  fc.integer({ min: -MAX, max: MAX }),
  fc.integer({ min: -MAX - 1000, max: MAX + 1000 }),
  fc.double({ min: -1e13, max: 1e13, noNaN: false }),
  fc.constantFrom(
    0,
    -1,
    999,
    1000,
    -1000,
    -62_167_219_200_000,
    -62_167_219_200_001,
    253_402_300_799_999,
    253_402_300_800_000,
    Number.NaN,
    Infinity,
    -Infinity,
    -0,
  ),
);

test('isoString(ms) is new Date(ms).toISOString(), in any sequence of calls', () => {
  fc.assert(
    fc.property(fc.array(time, { minLength: 1, maxLength: 40 }), (list) => {
      for (const ms of list) {
        same(reference(ms), ours(ms));
        same(reference(ms + 1), ours(ms + 1)); // the same second again, mostly
      }
    }),
    { numRuns: 2000 },
  );
});

test('parseIso(s) is Date.parse(s), for formatted, parsed-before and arbitrary strings', () => {
  const str = fc.oneof(
    time.map((ms) => reference(ms)).filter((s): s is string => typeof s === 'string'),
    fc.string(),
    fc.constantFrom(
      '',
      'Z',
      '__proto__',
      'constructor',
      '2026-02-30T00:00:00.000Z',
      '2026-12-07T04:00:00Z',
      '2026-12-07T04:00:00.000+01:00',
      '2026-12-07 04:00:00.000Z',
      'not a dateZ',
    ),
  );
  fc.assert(
    fc.property(fc.array(fc.oneof(str, time), { minLength: 1, maxLength: 40 }), (list) => {
      for (const x of list) {
        if (typeof x === 'number') {
          const s = ours(x);
          if (typeof s === 'string') assert.ok(Object.is(parseIso(s), Date.parse(s)));
          continue;
        }
        assert.ok(Object.is(parseIso(x), Date.parse(x)), `parseIso(${JSON.stringify(x)})`);
        assert.ok(Object.is(parseIso(x), Date.parse(x)), `parseIso(${JSON.stringify(x)}) again`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('a time value formatted here parses back to itself from the cache', () => {
  const ms = Date.UTC(2026, 11, 7, 4, 40, 0, 123);
  const s = isoString(ms);
  assert.equal(s, '2026-12-07T04:40:00.123Z');
  assert.equal(parseIso(s), ms);
  assert.equal(isoString(ms + 1), '2026-12-07T04:40:00.124Z');
  assert.equal(isoString(Date.UTC(10_000, 0, 1)), '+010000-01-01T00:00:00.000Z');
  assert.throws(() => isoString(Number.NaN), RangeError);
});
