/**
 * cert-expiry through the zen-watcher test kit: loaded from its directory like a drop-in plugin, leader term,
 * a fake informer the test drives, the real pipeline and resolver (grace period 0). Time is mocked for the
 * re-check timer and the discovery retry.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { afterEach, describe, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import { type Certificate, DAY_MS } from '../certificate.ts';
import { DISCOVERY_RETRY_MS } from '../index.ts';

const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const T0 = Date.parse('2025-06-01T12:00:00Z');

function certificate(name: string, notAfterDays: number, ready = 'True', namespace = 'shop'): Certificate {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name, namespace },
    spec: { secretName: `${name}-tls`, issuerRef: { name: 'ca', kind: 'Issuer' } },
    status: {
      notAfter: new Date(T0 + notAfterDays * DAY_MS).toISOString(),
      conditions: [{ type: 'Ready', status: ready, ...(ready === 'False' ? { reason: 'Failed' } : {}) }],
    },
  };
}
const obj = (c: Certificate) => c as Record<string, unknown>;

let kit: TestPlugin | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
  mock.timers.reset();
});

/** The plugin with one Ingester, leading, at T0 (Date and timers mocked). */
async function leading(spec: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
  mock.timers.enable({ apis: ['Date', 'setInterval', 'setTimeout'], now: T0 });
  kit = await loadTestPlugin(PLUGIN_DIR);
  kit.ingester({ name: 'certs', namespace: 'zen-system', spec, config });
  await kit.startLeading();
  return kit;
}

const summary = (k: TestPlugin) =>
  k
    .observations()
    .map((o) => `${o.spec.eventType} ${o.spec.severity} ${o.phase}`)
    .sort();

describe('cert-expiry', () => {
  test('the leader watches cert-manager Certificates, scoped as the Ingester says', async () => {
    const k = await leading({ informer: { namespace: 'shop', labelSelector: 'team=web' } });
    const [inf, ...more] = k.informers('certificates');
    assert.equal(more.length, 0);
    assert.deepEqual(inf?.options, {
      group: 'cert-manager.io',
      version: 'v1',
      resource: 'certificates',
      namespace: 'shop',
      labelSelector: 'team=web',
    });
    await k.stopLeading();
    assert.deepEqual(k.informers(), []);
  });

  test('expiring soon → Observation; renewed → Resolved', async () => {
    const k = await leading();
    const old = certificate('web', 10);
    await k.add('certificates', obj(old));
    assert.deepEqual(summary(k), ['certificate_expiring medium Active']);
    const [o] = k.observations();
    assert.equal(o?.spec.source, 'cert-expiry');
    assert.deepEqual(o?.spec.resource, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      name: 'web',
      namespace: 'shop',
    });
    assert.equal(o?.namespace, 'shop');

    await k.update('certificates', obj(certificate('web', 90)), obj(old));
    assert.deepEqual(summary(k), ['certificate_expiring medium Resolved']);
  });

  test('Ready=False → Observation; Ready again → Resolved; Certificate deleted → everything Resolved', async () => {
    const k = await leading();
    await k.add('certificates', obj(certificate('api', 3, 'False')));
    assert.deepEqual(summary(k), ['certificate_expiring high Active', 'certificate_not_ready high Active']);
    await k.update('certificates', obj(certificate('api', 3, 'True')));
    assert.deepEqual(summary(k), ['certificate_expiring high Active', 'certificate_not_ready high Resolved']);
    await k.remove('certificates', obj(certificate('api', 3, 'True')));
    assert.deepEqual(summary(k), ['certificate_expiring high Resolved', 'certificate_not_ready high Resolved']);
  });

  test('a relist is idempotent; a Certificate missing from it is resolved', async () => {
    const k = await leading();
    const a = obj(certificate('a', 5));
    const b = obj(certificate('b', 5));
    await k.add('certificates', a);
    await k.add('certificates', b);
    await k.relist('certificates', [a, b]);
    assert.deepEqual(summary(k), ['certificate_expiring high Active', 'certificate_expiring high Active']);
    await k.relist('certificates', [a]); // b was deleted while no replica watched
    assert.deepEqual(summary(k), ['certificate_expiring high Active', 'certificate_expiring high Resolved']);
  });

  test('time passing: the re-check moves a Certificate into the window, then into a more severe band', async () => {
    const k = await leading({}, { recheckMinutes: 60 });
    await k.add('certificates', obj(certificate('web', 35)));
    assert.deepEqual(summary(k), []);
    mock.timers.tick(6 * DAY_MS); // 29 days left: every hourly re-check ran; the last one found it
    await k.settle();
    assert.deepEqual(summary(k), ['certificate_expiring medium Active']);
    mock.timers.tick(23 * DAY_MS); // 6 days left: urgent replaces expiring
    await k.settle();
    assert.deepEqual(summary(k), ['certificate_expiring high Active', 'certificate_expiring medium Resolved']);
  });

  test('cert-manager not installed: no watch until its API is served', async () => {
    mock.timers.enable({ apis: ['Date', 'setInterval', 'setTimeout'], now: T0 });
    const k = await loadTestPlugin(PLUGIN_DIR);
    kit = k;
    k.serve([]);
    k.ingester({ name: 'certs', namespace: 'zen-system' });
    await k.startLeading();
    assert.deepEqual(k.informers(), []);
    k.serve(['certificates']);
    mock.timers.tick(DISCOVERY_RETRY_MS);
    await k.settle();
    assert.equal(k.informers('certificates').length, 1);
  });

  test('spec.config is validated against schema.json, with defaults', async () => {
    const k = await loadTestPlugin(PLUGIN_DIR);
    kit = k;
    const bad = k.validateIngester({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'bad', namespace: 'zen-system' },
      spec: { source: 'certs', plugin: 'cert-expiry', ingester: 'informer', config: { warnDays: 0, colour: 'red' } },
    });
    assert.equal(bad.ok, false);
    assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => e.path).sort(), [
      'spec.config.colour',
      'spec.config.warnDays',
    ]);
    const ok = k.ingester({ name: 'certs', config: { warnDays: 14 } });
    assert.deepEqual(ok.view.config, {
      warnDays: 14,
      urgentDays: 7,
      notReady: true,
      notReadySeverity: 'high',
      recheckMinutes: 60,
    });
  });
});
