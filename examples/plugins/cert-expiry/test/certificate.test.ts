/** certificate.ts on its own: expiry bands and their boundaries, Ready=False, stable fingerprints. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configFromSchema } from 'zen-watcher/testkit';
import { bandOf, type CertExpiryConfig, type Certificate, DAY_MS, evaluate, scopeOf } from '../certificate.ts';
import schema from '../schema.json' with { type: 'json' };

/** spec.config as the host hands it over: validated against schema.json, defaults applied. */
const DEFAULT_CONFIG = configFromSchema<CertExpiryConfig>(schema);

const NOW = Date.parse('2025-06-01T12:00:00Z');
const at = (days: number) => new Date(NOW + days * DAY_MS).toISOString();

export function certificate(
  name: string,
  status: Certificate['status'] = {},
  namespace = 'shop',
): Certificate & { metadata: { name: string; namespace: string } } {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name, namespace },
    spec: {
      secretName: `${name}-tls`,
      dnsNames: [`${name}.example.test`],
      issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' },
    },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }], ...status },
  };
}

describe('expiry bands', () => {
  const cases: [string, number, string | undefined][] = [
    ['far away', 31, undefined],
    ['exactly warnDays away', 30, 'expiring'],
    ['inside warnDays', 12, 'expiring'],
    ['exactly urgentDays away', 7, 'urgent'],
    ['hours away', 0.25, 'urgent'],
    ['right now', 0, 'expired'],
    ['in the past', -3, 'expired'],
  ];
  for (const [what, days, band] of cases) {
    test(`${what} (${days} d): ${band ?? 'no finding'}`, () => {
      assert.equal(bandOf(NOW + days * DAY_MS, NOW, DEFAULT_CONFIG), band);
    });
  }
  test('urgentDays above warnDays is clamped to warnDays', () => {
    assert.equal(bandOf(NOW + 20 * DAY_MS, NOW, { ...DEFAULT_CONFIG, warnDays: 10, urgentDays: 30 }), undefined);
    assert.equal(bandOf(NOW + 9 * DAY_MS, NOW, { ...DEFAULT_CONFIG, warnDays: 10, urgentDays: 30 }), 'urgent');
  });
});

describe('evaluate', () => {
  test('a healthy Certificate has no findings', () => {
    assert.deepEqual(evaluate(certificate('web', { notAfter: at(80) }), NOW, DEFAULT_CONFIG), []);
  });

  test('expiring: severity by band, the Certificate as resource, details for the operator', () => {
    const [d, ...rest] = evaluate(certificate('web', { notAfter: at(12.5), renewalTime: at(-1) }), NOW, DEFAULT_CONFIG);
    assert.equal(rest.length, 0);
    assert.equal(d?.severity, 'medium');
    assert.equal(d?.eventType, 'certificate_expiring');
    assert.equal(d?.title, 'Certificate shop/web expires in 12 days');
    assert.match(d?.message ?? '', /was due to renew it at .* Check the Certificate/);
    assert.deepEqual(d?.resource, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      name: 'web',
      namespace: 'shop',
    });
    assert.equal(d?.details?.secretName, 'web-tls');
    assert.equal(d?.details?.issuer, 'ClusterIssuer/letsencrypt');
    assert.equal(d?.details?.daysLeft, 12);
    assert.equal(evaluate(certificate('web', { notAfter: at(2) }), NOW, DEFAULT_CONFIG)[0]?.severity, 'high');
    const expired = evaluate(certificate('web', { notAfter: at(-1.5) }), NOW, DEFAULT_CONFIG)[0];
    assert.equal(expired?.severity, 'critical');
    assert.equal(expired?.eventType, 'certificate_expired');
    assert.equal(expired?.title, 'Certificate shop/web expired 1 day ago');
  });

  test('fingerprint: stable for one state, new for a renewal or a more severe band', () => {
    const fp = (days: number, now = NOW) =>
      evaluate(certificate('web', { notAfter: at(days) }), now, DEFAULT_CONFIG)[0]?.fingerprint;
    assert.equal(fp(12), fp(12));
    assert.equal(
      fp(12),
      evaluate(certificate('web', { notAfter: at(12) }), NOW + 3_600_000, DEFAULT_CONFIG)[0]?.fingerprint,
    );
    assert.notEqual(fp(12), fp(13)); // renewed: a new notAfter
    assert.notEqual(fp(12), fp(12, NOW + 6 * DAY_MS)); // 6 days later the same notAfter is urgent
  });

  test('Ready=False is a finding (severity from config); Unknown is not', () => {
    const failing = certificate('api', {
      notAfter: at(80),
      conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'issuer not found' }],
    });
    const [d] = evaluate(failing, NOW, DEFAULT_CONFIG);
    assert.equal(d?.eventType, 'certificate_not_ready');
    assert.equal(d?.severity, 'high');
    assert.equal(d?.title, 'Certificate shop/api is not Ready (Failed)');
    assert.equal(d?.message, 'issuer not found');
    assert.equal(evaluate(failing, NOW, { ...DEFAULT_CONFIG, notReadySeverity: 'low' })[0]?.severity, 'low');
    assert.deepEqual(evaluate(failing, NOW, { ...DEFAULT_CONFIG, notReady: false }), []);
    const pending = certificate('api', { conditions: [{ type: 'Ready', status: 'Unknown' }] });
    assert.deepEqual(evaluate(pending, NOW, DEFAULT_CONFIG), []);
  });

  test('not issued yet, or an unreadable notAfter: no expiry finding', () => {
    assert.deepEqual(evaluate(certificate('new', {}), NOW, DEFAULT_CONFIG), []);
    assert.deepEqual(evaluate(certificate('odd', { notAfter: 'tomorrow' }), NOW, DEFAULT_CONFIG), []);
  });

  test('scope is the identity, not the uid', () => {
    assert.equal(scopeOf(certificate('web')), 'shop/web');
  });
});
