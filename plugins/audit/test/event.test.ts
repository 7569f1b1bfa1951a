/**
 * parseEvent's timestamp check skips Date.parse for the API server's own spelling (RFC 3339, UTC): it must keep
 * exactly the strings Date.parse accepts, near that spelling (out-of-range fields, offsets, odd fractions) included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { timestamp } from '../event.ts';

const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, '0'));
const rfc3339ish = fc
  .tuple(
    digits(4),
    fc.oneof(digits(2), digits(1)),
    digits(2),
    fc.constantFrom('T', 't', ' '),
    digits(2),
    digits(2),
    digits(2),
    fc.oneof(fc.constant(''), digits(1), digits(3), digits(6), digits(9), digits(12)).map((f) => (f ? `.${f}` : '')),
    fc.constantFrom('Z', 'z', '+00:00', '-07:30', ''),
  )
  .map(([y, mo, d, t, h, mi, s, f, z]) => `${y}-${mo}-${d}${t}${h}:${mi}:${s}${f}${z}`);

test('timestamp keeps exactly what Date.parse accepts', () => {
  fc.assert(
    fc.property(fc.oneof(rfc3339ish, fc.string()), (s) => {
      assert.equal(timestamp({ t: s }, 't'), Number.isNaN(Date.parse(s)) ? undefined : s, s);
    }),
    { numRuns: 5000 },
  );
  for (const s of [
    '2024-02-31T00:00:00Z',
    '2024-02-29T24:00:00Z',
    '2024-01-01T00:00:00.123456789Z',
    '0000-01-01T00:00:00Z',
  ])
    assert.equal(timestamp({ t: s }, 't'), Number.isNaN(Date.parse(s)) ? undefined : s, s);
  assert.equal(timestamp({ t: 5 }, 't'), undefined);
});
