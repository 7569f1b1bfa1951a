/**
 * The alertmanager destination through the test kit, against a real Alertmanager (built from its Go module,
 * test/support/alertmanager.ts): firing alerts with the labels routing needs, resolution by endsAt, re-opening,
 * static labels, and the package. Without an Alertmanager binary the real-receiver tests are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { DeliveryError, Observation } from 'zen-watcher/plugin-api';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import { type Alertmanager, alertmanagerOrSkip } from '../../../test/support/alertmanager.ts';
import {
  packageIdentityTests,
  readmeConfigTableTest,
  readPluginPackage,
} from '../../../test/support/plugin-package.ts';
import { Receiver } from '../../../test/support/receiver.ts';
import plugin, { type AlertmanagerConfig, PLUGIN_NAME, toAlert } from '../index.ts';

const DIR = join(import.meta.dirname, '..');
let kit: TestPlugin;
let am: Alertmanager | string;
before(async () => {
  kit = await loadTestPlugin(DIR);
  am = await alertmanagerOrSkip();
});
after(async () => {
  await kit.close();
  if (typeof am !== 'string') await am.stop();
});

let n = 0;
function observation(over: Partial<Observation['spec']> = {}): Observation {
  n++;
  return {
    name: `trivy-${String(n).padStart(16, '0')}`,
    namespace: 'shop',
    labels: {},
    annotations: {},
    spec: {
      source: 'trivy',
      category: 'security',
      severity: 'critical',
      eventType: 'vulnerability',
      title: `CVE-2026-${n} in openssl`,
      message: 'upgrade openssl',
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' },
      fingerprint: `fp-${n}`,
      detectedAt: new Date(Date.now() - 60_000).toISOString(),
      ttlSecondsAfterCreation: 3600,
      ...over,
    },
  };
}

const CONFIG: AlertmanagerConfig = {
  alertname: 'ZenWatcherFinding',
  labels: {},
  generatorURL: '',
  bearerTokenKey: '',
  basicAuth: false,
};

describe('the alert', () => {
  test('labels from source, severity, category, namespace and resource; endsAt = expiry; resolved = resolvedAt', () => {
    const o = observation();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const a = toAlert(
      { key: 'k1', event: 'firing', observation: { ...o, phase: 'Active', createdAt: o.spec.detectedAt, expiresAt } },
      { ...CONFIG, labels: { cluster: 'c1', severity: 'ignored' }, generatorURL: 'https://ui/{namespace}/{name}' },
    );
    assert.deepEqual(a.labels, {
      cluster: 'c1',
      alertname: 'ZenWatcherFinding',
      source: 'trivy',
      severity: 'critical',
      category: 'security',
      event_type: 'vulnerability',
      namespace: 'shop',
      resource_kind: 'Deployment',
      resource_name: 'web',
      observation: o.name,
      observation_namespace: 'shop',
    });
    assert.equal(a.endsAt, expiresAt);
    assert.equal(a.startsAt, o.spec.detectedAt);
    assert.equal(a.generatorURL, `https://ui/shop/${o.name}`);
    const resolvedAt = new Date(Date.now() - 120_000).toISOString(); // before detectedAt: clock skew
    const r = toAlert(
      {
        key: 'k2',
        event: 'resolved',
        observation: { ...o, phase: 'Resolved', resolvedAt, createdAt: o.spec.detectedAt, expiresAt },
      },
      CONFIG,
    );
    assert.equal(r.endsAt, resolvedAt);
    assert.ok(Date.parse(r.startsAt) < Date.parse(r.endsAt), 'startsAt before endsAt, as Alertmanager requires');
  });
});

describe('against a real Alertmanager', () => {
  test('an Active Observation is a firing alert with its labels; Resolved ends it; re-opened fires again', async (t) => {
    if (typeof am === 'string') return t.skip(am);
    const o = observation();
    const dest = { url: am.url, config: { labels: { cluster: 'test' } } };
    await kit.deliver([o], dest);
    const firing = await am.alerts([`observation="${o.name}"`]);
    assert.equal(firing.length, 1);
    assert.equal(firing[0]!.status.state, 'active');
    assert.equal(firing[0]!.labels.severity, 'critical');
    assert.equal(firing[0]!.labels.source, 'trivy');
    assert.equal(firing[0]!.labels.namespace, 'shop');
    assert.equal(firing[0]!.labels.resource_name, 'web');
    assert.equal(firing[0]!.labels.cluster, 'test');
    assert.equal(firing[0]!.annotations.summary, o.spec.title);

    await kit.deliver([{ ...o, phase: 'Resolved', resolvedAt: new Date().toISOString() }], dest);
    assert.deepEqual(await am.alerts([`observation="${o.name}"`]), [], 'resolved: no longer listed as an alert');

    await kit.deliver([o], dest);
    assert.equal((await am.alerts([`observation="${o.name}"`])).length, 1, 're-opened: firing again');
  });

  test('a batch is one request; the same batch again changes nothing (idempotent)', async (t) => {
    if (typeof am === 'string') return t.skip(am);
    const batch = [observation({ severity: 'high' }), observation({ severity: 'low' }), observation()];
    await kit.deliver(batch, { url: am.url });
    await kit.deliver(batch, { url: am.url });
    const got = await am.alerts(['source="trivy"']);
    for (const o of batch) assert.equal(got.filter((a) => a.labels.observation === o.name).length, 1);
  });

  test('Alertmanager down: a known failure (nothing sent), retried by the host', async (t) => {
    if (typeof am === 'string') return t.skip(am);
    const url = am.url;
    await am.stop(true);
    try {
      await assert.rejects(kit.deliver([observation()], { url }), (e: unknown) => {
        assert.equal((e as DeliveryError).retryable, true);
        assert.equal((e as DeliveryError).status, 503);
        return true;
      });
    } finally {
      await am.start();
    }
  });
});

describe('credentials', () => {
  test('bearer token and basic auth from the credentials', async () => {
    const rx = await new Receiver().start();
    try {
      await kit.deliver([observation()], {
        url: rx.url,
        config: { bearerTokenKey: 'token' },
        secrets: { token: 't1' },
      });
      assert.equal(rx.requests.at(-1)!.headers.authorization, 'Bearer t1');
      assert.equal(rx.requests.at(-1)!.path, '/api/v2/alerts');
      await kit.deliver([observation()], {
        url: rx.url,
        config: { basicAuth: true },
        secrets: { username: 'u', password: 'p' },
      });
      assert.equal(rx.requests.at(-1)!.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
      await assert.rejects(
        kit.deliver([observation()], { url: rx.url, config: { basicAuth: true } }),
        /username and password/,
      );
    } finally {
      await rx.close();
    }
  });
});

describe('package', () => {
  const p = readPluginPackage(DIR);
  packageIdentityTests(DIR, p, {
    name: 'alertmanager',
    version: '1.0.0',
    zenWatcher: { hostApi: '^1.2.0', entry: 'index.ts', destinations: ['alertmanager'], configSchema: 'schema.json' },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('the README example is a valid Destination', () => {
    const r = kit.validateDestination(parseYaml(p.readmeBlock('destination')));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  });

  readmeConfigTableTest(p);
});
