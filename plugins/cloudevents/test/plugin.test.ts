/**
 * The cloudevents destination through the test kit, against a real local HTTP receiver: the event format, the
 * signature, headers, how answers become results (delivered, rejected for good, retried), and the package.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { type DeliveryError, isZwError } from 'zen-watcher/plugin-api';
import { loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import {
  packageIdentityTests,
  readmeConfigTableTest,
  readPluginPackage,
} from '../../../test/support/plugin-package.ts';
import { Receiver } from '../../../test/support/receiver.ts';
import plugin, { PLUGIN_NAME, sign } from '../index.ts';

const DIR = join(import.meta.dirname, '..');
let kit: TestPlugin;
let rx: Receiver;
before(async () => {
  kit = await loadTestPlugin(DIR);
  rx = await new Receiver({ secrets: () => ['k1'] }).start();
});
after(async () => {
  await kit.close();
  await rx.close();
});

async function observations(n: number) {
  const drafts = Array.from({ length: n }, (_, i) => ({
    severity: 'high',
    title: `t${i}`,
    fingerprint: `fp-${i}-${Math.random()}`,
  }));
  // A destination-only plugin has no source: build Observations by hand, as the host would have written them.
  return drafts.map((d, i) => ({
    name: `tool-${String(i).padStart(16, '0')}`,
    namespace: 'apps',
    labels: { source: 'tool', severity: 'high', category: 'security' },
    annotations: {},
    spec: {
      source: 'tool',
      category: 'security' as const,
      severity: 'high' as const,
      eventType: 'custom_event',
      title: d.title,
      fingerprint: d.fingerprint,
      detectedAt: '2026-01-02T03:04:05.000Z',
      ttlSecondsAfterCreation: 3600,
    },
  }));
}

describe('delivery', () => {
  test('one structured CloudEvent per Observation, signed, with custom headers and the idempotency key', async () => {
    rx.requests.length = 0;
    const obs = await observations(3);
    const res = await kit.deliver(obs, {
      url: `${rx.url}/ce`,
      headers: { 'X-Env': 'test' },
      secrets: { 'hmac-secret': 'k1' },
      config: { source: '/c1' },
    });
    assert.equal(res, undefined);
    assert.equal(rx.requests.length, 3);
    rx.requests.forEach((r, i) => {
      assert.equal(r.signatureOk, true);
      assert.equal(r.headers['x-env'], 'test');
      const ce = r.json as Record<string, unknown>;
      assert.deepEqual(
        [ce.specversion, ce.source, ce.type, ce.subject, ce.time, ce.severity],
        ['1.0', '/c1', 'io.kube-zen.observation.firing', `apps/${obs[i]!.name}`, '2026-01-02T03:04:05.000Z', 'high'],
      );
      assert.equal(ce.id, r.headers['idempotency-key']);
      assert.match(String(ce.id), /^[0-9a-f]{32}$/);
    });
  });

  test('a resolved Observation is a .resolved event at its resolution time', async () => {
    rx.requests.length = 0;
    const [o] = await observations(1);
    await kit.deliver([{ ...o!, phase: 'Resolved', resolvedAt: '2026-02-01T00:00:00.000Z' }], { url: rx.url });
    const ce = rx.requests[0]!.json as Record<string, unknown>;
    assert.equal(ce.type, 'io.kube-zen.observation.resolved');
    assert.equal(ce.time, '2026-02-01T00:00:00.000Z');
    assert.equal(rx.requests[0]!.signatureOk, false, 'no secret given: unsigned');
  });

  test('a 400 rejects that event only; a 503 is a retryable failure that says how many went through', async () => {
    rx.requests.length = 0;
    rx.failWith = 400;
    const obs = await observations(2);
    const res = await kit.deliver(obs, { url: rx.url });
    assert.equal(res?.rejected?.length, 2);
    rx.failWith = 503;
    await assert.rejects(kit.deliver(obs, { url: rx.url }), (err: unknown) => {
      assert.ok(isZwError(err));
      const e = err as DeliveryError;
      assert.equal(e.code, 'ZW_ERR_DELIVERY_FAILED');
      assert.equal(e.retryable, true);
      assert.equal(e.status, 503);
      assert.equal(e.accepted, 0);
      return true;
    });
    rx.failWith = undefined;
  });

  test('a closed port is a known failure (nothing sent); signature.required without a secret fails', async () => {
    const closed = await new Receiver().start();
    const url = closed.url;
    await closed.close();
    await assert.rejects(kit.deliver(await observations(1), { url }), (err: unknown) => {
      assert.equal((err as DeliveryError).status, 503);
      return true;
    });
    await assert.rejects(
      kit.deliver(await observations(1), { url: rx.url, config: { signature: { required: true } } }),
      /no key 'hmac-secret'/,
    );
  });

  test('sign() is HMAC-SHA256 over "<timestamp>.<body>"', () => {
    const want = createHmac('sha256', 'k').update('1.b').digest('hex');
    assert.equal(sign('k', '1', 'b'), `sha256=${want}`);
    assert.match(sign('k', '1', 'b'), /^sha256=[0-9a-f]{64}$/);
  });
});

describe('package', () => {
  const p = readPluginPackage(DIR);
  packageIdentityTests(DIR, p, {
    name: 'cloudevents',
    version: '1.0.0',
    zenWatcher: { hostApi: '^1.2.0', entry: 'index.ts', destinations: ['cloudevents'], configSchema: 'schema.json' },
    plugin,
    exported: { name: PLUGIN_NAME },
    kit: () => kit,
  });

  test('the README example is a valid Destination', () => {
    const r = kit.validateDestination(parseYaml(p.readmeBlock('destination')));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.destination.spec.type, 'cloudevents');
  });

  test('a bad config names the field', () => {
    const r = kit.validateDestination({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Destination',
      metadata: { name: 'x' },
      spec: { type: 'cloudevents', url: 'ftp://nope', config: { typePrefix: 'Bad Prefix' } },
    });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.errors.map((e) => e.path), ['spec.url', 'spec.config.typePrefix']);
  });

  readmeConfigTableTest(p);
});
