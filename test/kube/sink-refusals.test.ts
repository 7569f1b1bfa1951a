/**
 * Issue #14 item 1, Kubernetes side, on the real control plane: a write the cluster refuses for good — a
 * ResourceQuota on Observations exceeded, a ValidatingAdmissionPolicy denial, a validating admission webhook's
 * denial (a real HTTPS webhook the API server calls), etcd out of space (its NOSPACE alarm, raised on the real
 * embedded etcd) — is never acknowledged as processed.
 * The webhook gets 503 with Retry-After (the sender retries), the refusal is counted by reason, nothing is created,
 * and once the cluster allows it the retry is written (the failed write did not leave a dedup entry behind).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeApi } from '../../core/kube/api.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { cleanup, type HostProcess, post, tempDir } from '../support/host.ts';
import { type KubeReplicas, kubeReplicas, OBS } from '../support/kube-replicas.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-refusals';
const QUOTA = { group: '', version: 'v1', plural: 'resourcequotas' };
const COUNT = 'count/observations.zen.kube-zen.io';

describe('kubernetes sink: writes the cluster refuses are not acknowledged', { skip }, () => {
  let kube: KubeReplicas;
  let api: KubeApi;
  let p: HostProcess;
  const titles = async () =>
    (await api.list<{ spec: { title: string } }>({ ...OBS, namespace: NS })).items.map((o) => o.spec.title).sort();
  const send = (title: string) => post(`${p.url}/ingest/refusals`, JSON.stringify({ severity: 'high', title }));
  const refusedMetric = async (reason: string) => {
    const text = await (await fetch(`${p.url}/metrics`)).text();
    const m = new RegExp(
      `zen_watcher_observations_refused_total\\{source="refusals",reason="${reason}"\\} (\\d+)`,
    ).exec(text);
    return m ? Number(m[1]) : 0;
  };
  /** Waits until a direct create with this title is denied (admission configuration takes effect asynchronously). */
  let probes = 0;
  const deniedFromNowOn = (title: string, denied: RegExp) =>
    waitFor(`creates titled '${title}' to be denied`, async () => {
      const name = `admission-probe-${probes++}`;
      try {
        await api.create({
          ...OBS,
          namespace: NS,
          body: {
            apiVersion: 'zen.kube-zen.io/v1alpha1',
            kind: 'Observation',
            metadata: { name, namespace: NS },
            spec: {
              source: 'probe',
              category: 'security',
              severity: 'low',
              eventType: 'probe',
              title,
              fingerprint: 'f'.repeat(64),
              ttlSecondsAfterCreation: 60,
              detectedAt: new Date().toISOString(),
            },
          },
        });
      } catch (err) {
        if (denied.test(String((err as Error).message))) return true;
        throw err;
      }
      await api.delete({ ...OBS, namespace: NS, name });
      return false;
    });
  /** The quota's limit; its status is set by hand, as the quota controller (not run here) would. */
  const setQuota = async (hard: number, used?: number) => {
    await api.patch({
      ...QUOTA,
      namespace: NS,
      name: 'observations',
      body: { spec: { hard: { [COUNT]: String(hard) } } },
    });
    await api.patch({
      ...QUOTA,
      namespace: NS,
      name: 'observations',
      subresource: 'status',
      body: {
        status: { hard: { [COUNT]: String(hard) }, ...(used !== undefined ? { used: { [COUNT]: String(used) } } : {}) },
      },
    });
  };

  before(async () => {
    kube = await kubeReplicas(cp!, { namespace: NS, electionId: 'sink-refusals', route: '/ingest/refusals' });
    api = kube.api;
    await api.create({
      ...QUOTA,
      namespace: NS,
      body: {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'observations' },
        spec: { hard: { [COUNT]: '1' } },
      },
    });
    await setQuota(1, 0);
    await kube.ingester('refusals', {
      source: 'refusals',
      plugin: 'webhook',
      ingester: 'webhook',
      webhook: { path: '/ingest/refusals' },
    });
    p = await kube.start('refusals-0');
  });
  after(async () => kube?.close());

  test('ResourceQuota exceeded: 503 + Retry-After, counted, nothing created; written once the quota allows', async () => {
    const first = await send('within quota');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json?.created, 1);

    const over = await send('over quota');
    assert.equal(over.status, 503, over.text);
    assert.ok(Number(over.headers.get('retry-after')) > 0, 'Retry-After');
    assert.equal(over.json?.error, 'ZW_ERR_NOT_READY');
    assert.match(String(over.json?.reason), /quota_exceeded: .*exceeded quota/);
    assert.equal(await refusedMetric('quota_exceeded'), 1);
    assert.deepEqual(await titles(), ['within quota'], 'nothing written over the quota, not even elsewhere');

    await setQuota(10);
    const retried = await send('over quota');
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json?.created, 1, 'the retry is written, not taken for a duplicate');
    assert.deepEqual(await titles(), ['over quota', 'within quota']);
  });

  test('a ValidatingAdmissionPolicy denial: 503 + Retry-After, counted, nothing created', async () => {
    const VAP = { group: 'admissionregistration.k8s.io', version: 'v1' };
    // No quota controller runs here, so nothing gives back the quota the probes below use while the policy is
    // not yet in effect (each probe is created, then deleted); on a slow machine they used up the previous
    // test's 10 and the quota, not the policy, refused the webhook. Lift the quota out of this test's way.
    await setQuota(1_000_000, 0);
    await api.create({
      ...VAP,
      plural: 'validatingadmissionpolicies',
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: 'zw-deny-title' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: ['zen.kube-zen.io'],
                apiVersions: ['*'],
                operations: ['CREATE'],
                resources: ['observations'],
              },
            ],
          },
          validations: [
            {
              expression: "!object.spec.title.startsWith('denied')",
              message: 'titles starting with denied are refused here',
            },
          ],
        },
      },
    });
    await api.create({
      ...VAP,
      plural: 'validatingadmissionpolicybindings',
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'zw-deny-title' },
        spec: {
          policyName: 'zw-deny-title',
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } },
        },
      },
    });
    await deniedFromNowOn('denied probe', /denied/);

    const before = await titles();
    const denied = await send('denied by policy');
    assert.equal(denied.status, 503, denied.text);
    assert.ok(Number(denied.headers.get('retry-after')) > 0, 'Retry-After');
    assert.match(String(denied.json?.reason), /admission_denied: .*titles starting with denied are refused here/);
    assert.equal(await refusedMetric('admission_denied'), 1);
    assert.deepEqual(await titles(), before, 'nothing created');
    const allowed = await send('allowed by policy');
    assert.equal(allowed.status, 200, allowed.text);
  });

  test('a validating admission webhook denial: 503 + Retry-After, counted, nothing created', async () => {
    // A real webhook over HTTPS (a throwaway self-signed certificate for 127.0.0.1, its own CA bundle) that denies
    // Observations whose title starts with "hooked", with the status code a webhook may choose (403 here).
    const dir = tempDir('zw-admission-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    let reviewed = 0;
    const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('end', () => {
        reviewed++;
        const review = JSON.parse(body) as { request: { uid: string; object: { spec: { title: string } } } };
        const deny = review.request.object.spec.title.startsWith('hooked');
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request.uid,
              allowed: !deny,
              ...(deny ? { status: { code: 403, message: 'hooked titles are refused by the zw test webhook' } } : {}),
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const WH = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations' };
    try {
      await api.create({
        ...WH,
        body: {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingWebhookConfiguration',
          metadata: { name: 'zw-deny-hooked' },
          webhooks: [
            {
              name: 'deny-hooked.zen.test',
              clientConfig: {
                url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/validate`,
                caBundle: cert.toString('base64'),
              },
              rules: [
                {
                  apiGroups: ['zen.kube-zen.io'],
                  apiVersions: ['*'],
                  operations: ['CREATE'],
                  resources: ['observations'],
                },
              ],
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
              failurePolicy: 'Fail',
              sideEffects: 'None',
              admissionReviewVersions: ['v1'],
              timeoutSeconds: 5,
            },
          ],
        },
      });
      await deniedFromNowOn('hooked probe', /admission webhook "deny-hooked\.zen\.test" denied the request/);

      const before = await titles();
      const counted = await refusedMetric('admission_denied');
      const denied = await send('hooked by the webhook');
      assert.equal(denied.status, 503, denied.text);
      assert.ok(Number(denied.headers.get('retry-after')) > 0, 'Retry-After');
      assert.equal(denied.json?.error, 'ZW_ERR_NOT_READY');
      assert.match(String(denied.json?.reason), /admission_denied: .*hooked titles are refused by the zw test webhook/);
      assert.equal(await refusedMetric('admission_denied'), counted + 1);
      assert.deepEqual(await titles(), before, 'nothing created');
      const allowed = await send('allowed by the webhook');
      assert.equal(allowed.status, 200, allowed.text);
      assert.ok(reviewed >= 2, 'the API server called the webhook');
    } finally {
      await api.delete({ ...WH, name: 'zw-deny-hooked' }).catch(() => {});
      server.close();
      cleanup(dir);
    }
  });

  test('etcd out of space (the NOSPACE alarm): 503 + Retry-After, counted, nothing created; written once it clears', async (t) => {
    if (cp!.external) return t.skip('needs the test control plane’s own etcd');
    // The alarm etcd raises when its backend reaches --quota-backend-bytes, raised through etcd's own maintenance
    // API (the JSON gateway on its client port): every write then fails with "mvcc: database space exceeded", as on
    // a full etcd, until the alarm is disarmed.
    const port = /etcd ready on 127\.0\.0\.1:(\d+)/.exec(readFileSync(cp!.logPath!, 'utf8'))?.[1];
    assert.ok(port, 'the control plane log names the etcd client port');
    const etcd = async (path: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as { header: { member_id: string }; alarms?: { alarm: string }[] };
    };
    const memberID = (await etcd('/v3/maintenance/status', {})).header.member_id;
    const alarm = (action: 'ACTIVATE' | 'DEACTIVATE') =>
      etcd('/v3/maintenance/alarm', { action, memberID, alarm: 'NOSPACE' });
    const before = await titles();
    await alarm('ACTIVATE');
    try {
      const full = await send('etcd is full');
      assert.equal(full.status, 503, full.text);
      assert.ok(Number(full.headers.get('retry-after')) > 0, 'Retry-After');
      assert.equal(full.json?.error, 'ZW_ERR_NOT_READY');
      assert.match(String(full.json?.reason), /storage_full: .*database space exceeded/);
      assert.equal(await refusedMetric('storage_full'), 1);
    } finally {
      await alarm('DEACTIVATE');
    }
    assert.deepEqual(await titles(), before, 'nothing created while etcd was full');
    const retried = await send('etcd is full');
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.json?.created, 1, 'the retry is written, not taken for a duplicate');
  });
});
