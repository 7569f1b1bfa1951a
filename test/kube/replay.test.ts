/**
 * HMAC replay protection in kubernetes mode (#14 item 4), two replicas on the real control plane: a captured
 * signed request replayed on the replica that accepted it is refused (401); replayed on another replica (or
 * after a restart: a replica that never saw it), past the dedup window, it derives the same Observation name
 * from its signed timestamp and is a duplicate — no second Observation. Standalone: test/security/replay.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { type HostProcess, post } from '../support/host.ts';
import { type KubeReplicas, kubeReplicas, OBS } from '../support/kube-replicas.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-replay';
const SECRET = 'kube-replay-secret-41f0';

function signed(body: string, ts: number) {
  const sig = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  return { 'content-type': 'application/json', 'x-timestamp': String(ts), 'x-signature-256': `sha256=${sig}` };
}

describe('HMAC replay protection, kubernetes mode, two replicas', { skip }, () => {
  let kube: KubeReplicas;
  let api: KubeApi;
  let procs: HostProcess[] = [];
  before(async () => {
    kube = await kubeReplicas(cp!, {
      namespace: NS,
      electionId: 'replay-e2e',
      route: '/ingest/signed',
      env: { WATCH_NAMESPACE: NS },
    });
    api = kube.api;
    await api.create({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hook-hmac', namespace: NS },
        stringData: { secret: SECRET },
      },
    });
    await kube.ingester('signed', {
      source: 'signed',
      plugin: 'webhook',
      ingester: 'webhook',
      webhook: {
        path: '/ingest/signed',
        auth: { type: 'hmac', secretRef: { name: 'hook-hmac' }, hmac: { timestampHeader: 'X-Timestamp' } },
      },
      // A short window: the replay below arrives after it has passed.
      deduplication: { window: '1s' },
    });
    procs = await kube.startAll(['replay-a', 'replay-b']);
  });
  after(async () => kube?.close());

  test('a replay is refused on the same replica and is a duplicate on another, past the dedup window', async () => {
    const [a, b] = procs as [HostProcess, HostProcess];
    const body = JSON.stringify({ severity: 'high', title: 'captured request' });
    const headers = signed(body, Math.floor(Date.now() / 1000));
    await waitFor('the Secret to be loaded', async () => {
      const r = await post(`${a.url}/ingest/signed`, body, headers);
      assert.notEqual(r.status, 401, r.text); // 401 here would be a replay or a bad signature: a bug either way
      return r.status === 200;
    });
    const count = async () =>
      (
        await api.list<{ spec: { title: string } }>({ ...OBS, namespace: NS, labelSelector: 'source=signed' })
      ).items.filter((o) => o.spec.title === 'captured request').length;
    assert.equal(await count(), 1);
    // Past the 1 s dedup window (and well inside the 300 s timestamp tolerance).
    await sleep(2_500);
    const same = await post(`${a.url}/ingest/signed`, body, headers);
    assert.equal(same.status, 401, same.text);
    assert.match(String(same.json?.reason), /replayed/);
    const other = await post(`${b.url}/ingest/signed`, body, headers);
    assert.equal(other.status, 200, other.text);
    assert.equal(other.json?.created, 0, other.text);
    assert.equal(other.json?.duplicates, 1, other.text);
    assert.equal(await count(), 1, 'the replay created no second Observation');
  });
});
