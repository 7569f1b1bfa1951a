/**
 * Acceptance: a new informer plugin, written the way docs/plugins/AUTHORING.md says, outside the repo.
 * 1. `zen-watcher plugin new --kind informer` in a temp directory; its own tests (test kit, fake informer) pass
 *    with `npm test`, and it type-checks.
 * 2. On the real control plane (test/support/control-plane.ts; skipped with the reason when there is none, except
 *    in CI), zen-watcher in kubernetes mode loads it and the external example examples/plugins/cert-expiry through
 *    ZEN_PLUGIN_DIRS. Their Ingesters become Ready with `.status.plugin` naming plugin and version; a labelled
 *    ConfigMap and a cert-manager Certificate (a stand-in CRD) become Observations, which resolve when the finding
 *    goes away (key removed; certificate renewed).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { cleanup, type HostProcess, REPO, startHostProcess, tempDir } from '../support/host.ts';
import { waitForWith } from '../support/wait.ts';
import { scaffold, sh, show } from './author.ts';

// The control plane starts while the author-side steps run.
const controlPlane = controlPlaneOrSkip();
const tmp = tempDir('zw-author-informer-');
after(async () => {
  await (await controlPlane).cp?.stop();
  cleanup(tmp);
});

const NS = 'zen-system';
const APP_NS = 'authoring';
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const CM = { group: '', version: 'v1', plural: 'configmaps' };
const CERT = { group: 'cert-manager.io', version: 'v1', plural: 'certificates' };

interface Obs {
  metadata: { name: string };
  spec: { title: string; severity: string; eventType: string };
  status?: { phase?: string };
}

const waitFor = waitForWith({ timeoutMs: 30_000, everyMs: 200 });

/** A stand-in for cert-manager's Certificate CRD: the same group/version/kind, an open schema, a status subresource. */
const certificateCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'certificates.cert-manager.io' },
  spec: {
    group: 'cert-manager.io',
    scope: 'Namespaced',
    names: { kind: 'Certificate', listKind: 'CertificateList', plural: 'certificates', singular: 'certificate' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

describe('an informer plugin from the scaffold', () => {
  let dir = '';

  test('scaffolded outside the repo, its own tests pass and it type-checks', async () => {
    dir = await scaffold(tmp, 'acme-configmaps', 'informer');
    const t = await sh('npm test', dir);
    assert.equal(t.code, 0, show(t));
    assert.match(t.stdout, /ℹ fail 0/);
    assert.match(t.stdout, /a key removed, or the object deleted, resolves its Observation/);
    const tc = await sh('npm run typecheck', dir);
    assert.equal(tc.code, 0, show(tc));
  });

  test('on the real control plane it loads through ZEN_PLUGIN_DIRS, with cert-expiry, and makes Observations', async (t) => {
    const { cp, skip } = await controlPlane;
    if (skip || !cp) return t.skip(skip);
    if (!dir) return t.skip('scaffold failed');
    const api: KubeApi = adminKubeApi(cp);
    let host: HostProcess | undefined;
    try {
      await ensureNamespaces(api, NS, APP_NS);
      const crds = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
      await api.create({ ...crds, body: certificateCrd });
      await waitFor('the Certificate CRD to be established', async () => {
        const crd = await api.get<{ status?: { conditions?: { type: string; status: string }[] } }>({
          ...crds,
          name: certificateCrd.metadata.name,
        });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      });

      host = await startHostProcess(
        {
          ZEN_MODE: 'kubernetes',
          KUBECONFIG: cp.kubeconfigPath,
          POD_NAMESPACE: NS,
          POD_NAME: 'author-0',
          ZEN_LEASE_DURATION_SECONDS: '4',
          ZEN_RENEW_DEADLINE_SECONDS: '3',
          ZEN_RETRY_PERIOD_SECONDS: '1',
          ZEN_RESOLVE_AFTER_SECONDS: '0',
          ZEN_PLUGIN_DIRS: `${dir}:${join(REPO, 'examples/plugins/cert-expiry')}`,
          ZEN_DATA_DIR: tempDir('zw-unused-'),
        },
        60_000,
      );
      const url = host.url;
      await waitFor('this replica to lead', async () =>
        /^zen_watcher_leader\{[^}]*\} 1$/m.test(await (await fetch(`${url}/metrics`)).text()),
      );

      // The scaffolded plugin, with the Ingester it generated.
      const ingester = parse(readFileSync(join(dir, 'config', 'ingester.yaml'), 'utf8'));
      await api.create({ ...ING, namespace: NS, body: ingester });
      const status = await waitFor('the acme-configmaps Ingester to be Ready', async () => {
        const o = await api.get<{ status?: { conditions?: { type: string; status: string }[]; plugin?: unknown } }>({
          ...ING,
          namespace: NS,
          name: 'acme-configmaps',
        });
        return o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? o.status : undefined;
      });
      assert.deepEqual(status.plugin, { name: 'acme-configmaps', version: '0.1.0' });

      await api.create({
        ...CM,
        namespace: APP_NS,
        body: {
          metadata: { name: 'disk-check', labels: { 'zen-watcher/finding': 'true' } },
          data: { 'disk-full': 'high: Disk /var is 95% full', rotate: 'Rotate the logs' },
        },
      });
      await api.create({
        ...CM,
        namespace: APP_NS,
        body: { metadata: { name: 'unlabelled' }, data: { ignored: 'critical: not watched' } },
      });
      const listObs = async (source: string) =>
        (await api.list<Obs>({ ...OBS, namespace: APP_NS, labelSelector: `source=${source}` })).items;
      const found = await waitFor('two Observations from the ConfigMap', async () => {
        const items = await listObs('acme-configmaps');
        return items.length === 2 ? items : undefined;
      });
      assert.deepEqual(found.map((o) => `${o.spec.severity} ${o.spec.title}`).sort(), [
        'high Disk /var is 95% full',
        'medium Rotate the logs',
      ]);

      // The finding goes away: its Observation resolves (grace period 0 here), the other stays Active.
      await api.patch({ ...CM, namespace: APP_NS, name: 'disk-check', body: { data: { 'disk-full': null } } });
      await waitFor('the removed finding to resolve', async () => {
        const items = await listObs('acme-configmaps');
        const phase = (title: string) => items.find((o) => o.spec.title === title)?.status?.phase ?? 'Active';
        return phase('Disk /var is 95% full') === 'Resolved' && phase('Rotate the logs') === 'Active';
      });

      // The external example: an expiring Certificate, then renewed.
      const certIngester = parse(readFileSync(join(REPO, 'examples/plugins/cert-expiry/config/ingester.yaml'), 'utf8'));
      await api.create({ ...ING, namespace: NS, body: certIngester });
      const certStatus = await waitFor('the cert-expiry Ingester to be Ready', async () => {
        const o = await api.get<{ status?: { conditions?: { type: string; status: string }[]; plugin?: unknown } }>({
          ...ING,
          namespace: NS,
          name: 'cert-expiry',
        });
        return o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? o.status : undefined;
      });
      assert.deepEqual(certStatus.plugin, { name: 'cert-expiry', version: '1.1.0' });
      await api.create({
        ...CERT,
        namespace: APP_NS,
        body: {
          apiVersion: 'cert-manager.io/v1',
          kind: 'Certificate',
          metadata: { name: 'web' },
          spec: { secretName: 'web-tls', dnsNames: ['web.example.test'], issuerRef: { name: 'ca', kind: 'Issuer' } },
        },
      });
      const certStatusBody = (days: number) => ({
        status: {
          notAfter: new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'up to date' }],
        },
      });
      await api.patch({ ...CERT, namespace: APP_NS, name: 'web', subresource: 'status', body: certStatusBody(5) });
      const [expiring] = await waitFor('an Observation for the expiring Certificate', async () => {
        const items = await listObs('cert-expiry');
        return items.length === 1 ? items : undefined;
      });
      assert.equal(expiring?.spec.severity, 'high');
      assert.equal(expiring?.spec.eventType, 'certificate_expiring');
      assert.match(expiring?.spec.title ?? '', /^Certificate authoring\/web expires in [45] days$/);

      await api.patch({ ...CERT, namespace: APP_NS, name: 'web', subresource: 'status', body: certStatusBody(90) });
      await waitFor('the renewed Certificate to resolve its Observation', async () => {
        const items = await listObs('cert-expiry');
        return items.length === 1 && items[0]?.status?.phase === 'Resolved';
      });
    } finally {
      await host?.stop();
      await api.close();
    }
  });
});
