/**
 * The hot-path versions of parseTime and fingerprintOf (issue #18) against the definitions they replace: the same
 * time for every spelling, and the same fingerprint, byte for byte, so Observation names stay the same across an
 * upgrade (dedup works across restarts on those names).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from 'zen-watcher/plugin-api';
import { type FalcoAlert, fingerprintOf, parseAlert, parseTime } from '../map.ts';

/** fingerprintOf as first written: canonicalJson of a copy of output_fields without the derived time fields. */
function referenceFingerprint(alert: FalcoAlert): string {
  // A null prototype: a `__proto__` output field (JSON.parse makes it an own key) stays a key here too, as it does in
  // the hot path; on `{}` the assignment would set the prototype and drop the field from the reference.
  const fields: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(alert.outputFields)) {
    if (!/^evt\.(time|rawtime|datetime)(\.|$)/.test(k)) fields[k] = v;
  }
  const basis = canonicalJson({
    v: 1,
    source: alert.source?.trim() || 'syscall',
    hostname: alert.hostname ?? '',
    rule: alert.rule,
    time: alert.instant,
    fields,
  });
  return `falco:${createHash('sha256').update(basis).digest('hex')}`;
}

const isoTime = fc
  .tuple(
    fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
    fc.stringMatching(/^[0-9]{0,12}$/),
  )
  .map(([d, frac]) => `${d.toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`);

describe('falco hot paths give the same results as their definitions', () => {
  test('parseTime: the UTC fast path agrees with the general parser (which a leading space forces)', () => {
    fc.assert(
      fc.property(isoTime, (t) => {
        assert.deepEqual(parseTime(t), parseTime(` ${t}`));
      }),
      { numRuns: 2000 },
    );
    for (const t of [
      '2024-02-29T23:59:59.5Z',
      '2025-02-29T00:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-02-10T24:00:00Z',
      '2025-02-10T09:15:60Z',
      '0050-01-01T00:00:00Z',
      '2025-02-10T09:15:40.Z',
      '2025-02-10T09:15:40.12a4Z',
      '2025-02-1xT09:15:40Z',
      '2025-02-10T09:15:4Z',
    ]) {
      assert.deepEqual(parseTime(t), parseTime(` ${t}`), t);
    }
    assert.equal(parseTime('2025-02-10T09:15:40.698757Z')?.instant, '1739178940.698757000');
  });

  test('fingerprintOf: byte-for-byte the canonical JSON of the alert identity', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }),
    );
    const key = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        'evt.time',
        'evt.time.s',
        'evt.rawtime',
        'evt.datetime',
        'evt.num',
        'proc.name',
        'k8s.ns.name',
        '__proto__',
        '42',
        '',
      ),
    );
    fc.assert(
      fc.property(
        fc.dictionary(key, value, { maxKeys: 30 }),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        isoTime,
        (fields, source, hostname, time) => {
          const alert = parseAlert(
            { rule: 'Some rule', priority: 'Notice', time, output_fields: fields, source, hostname },
            '',
          );
          assert.equal(fingerprintOf(alert), referenceFingerprint(alert));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('fingerprintOf: a `__proto__` output field is part of the identity (found by the property above)', () => {
    const withField = parseAlert(
      JSON.parse('{"rule":"R","priority":"Notice","time":"1970-01-01T00:00:00Z","output_fields":{"__proto__":null}}'),
      '',
    );
    const without = parseAlert({ rule: 'R', priority: 'Notice', time: '1970-01-01T00:00:00Z', output_fields: {} }, '');
    assert.equal(fingerprintOf(withField), referenceFingerprint(withField));
    assert.notEqual(fingerprintOf(withField), fingerprintOf(without));
  });
});
