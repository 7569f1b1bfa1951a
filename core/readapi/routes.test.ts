/**
 * The read API's query parsing, unit by unit: times (RFC 3339 date-times that exist, or a duration back from now).
 * test/host/read-api-strict.test.ts checks the same over HTTP, with limits, per-route parameters and path segments.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReadApiError } from './access.ts';
import { parseTime } from './routes.ts';

const refused = (v: string) =>
  assert.throws(
    () => parseTime('since', v),
    (e: unknown) => e instanceof ReadApiError && e.code === 'ZW_ERR_BAD_QUERY' && /'since'/.test(e.message),
    v,
  );

describe('parseTime', () => {
  test('RFC 3339 date-times with Z or an offset, to the millisecond', () => {
    for (const [v, iso] of [
      ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00.000Z'],
      ['2026-12-01t10:00:00z', '2026-12-01T10:00:00.000Z'],
      ['2026-12-01T10:00:00.5Z', '2026-12-01T10:00:00.500Z'],
      ['2026-12-01T10:00:00.123456789Z', '2026-12-01T10:00:00.123Z'],
      ['2026-12-01T10:00:00+02:00', '2026-12-01T08:00:00.000Z'],
      ['2026-12-01T10:00:00-05:30', '2026-12-01T15:30:00.000Z'],
      ['2026-01-01T00:30:00+01:00', '2025-12-31T23:30:00.000Z'],
      ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
      ['0099-03-01T00:00:00Z', '0099-03-01T00:00:00.000Z'],
    ] as const)
      assert.equal(new Date(parseTime('since', v)!).toISOString(), iso, v);
  });

  test('a duration back from now', () => {
    assert.equal(parseTime('since', '30m', 10_000_000), 10_000_000 - 30 * 60_000);
    assert.equal(parseTime('since', '7d', 1e12), 1e12 - 7 * 86_400_000);
    assert.equal(parseTime('since', undefined), undefined);
  });

  test('days that do not exist, times without an offset, dates alone and other spellings are refused', () => {
    for (const v of [
      '2026-02-30T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2026-04-31T10:00:00Z',
      '2026-06-31T10:00:00Z',
      '2026-09-31T10:00:00Z',
      '2026-11-31T10:00:00Z',
      '2026-00-10T10:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-12-00T00:00:00Z',
      '2026-12-32T00:00:00Z',
      '2026-12-01T24:00:00Z',
      '2026-12-01T10:60:00Z',
      '2026-12-01T10:00:60Z',
      '2026-12-01T10:00:00+24:00',
      '2026-12-01T10:00:00+02:60',
      '2026-12-01T10:00:00+0200',
      '2026-12-01T10:00:00',
      '2026-12-01T10:00Z',
      '2026-12-01',
      '2026-12-01 10:00:00Z',
      '2026-12-01T10:00:00.Z',
      '2026-12-01T10:00:00Z ',
      ' 2026-12-01T10:00:00Z',
      '+002026-12-01T10:00:00Z',
      'Tue, 01 Dec 2026 10:00:00 GMT',
      '1764583200000',
      'yesterday',
      '1w',
      '-30m',
    ])
      refused(v);
  });
});
