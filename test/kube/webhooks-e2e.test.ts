/**
 * Webhook sources on the real control plane with two replicas: every real Falco and audit fixture POSTed to BOTH
 * replicas yields the Observations the plugin's own tests expect, exactly once; and per-Ingester authentication
 * from a Kubernetes Secret, rotated with no restart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeApi } from '../../core/kube/api.ts';
import { loadTestPlugin } from '../../core/testkit/index.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { listFiles, realFixturesDir } from '../support/fixtures.ts';
import { cleanup, type HostProcess, post, REPO, startHostProcess, tempDir } from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip: noCluster } = await controlPlaneOrSkip();
after(async () => cp?.stop());
const corpus = realFixturesDir();
if (!corpus && process.env.CI === 'true') throw new Error('the real fixture corpus is required under CI=true');
const skip = noCluster ?? (corpus ? undefined : 'real fixture corpus not found (set ZEN_REAL_FIXTURES)');

const NS = 'zen-system';
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };

/** The body exactly as a sender would post the file, and its content type. */
function fileBody(file: string): { body: string; contentType: string } {
  const text = readFileSync(file, 'utf8');
  try {
    JSON.parse(text);
    return { body: text, contentType: 'application/json' };
  } catch {
    return { body: text, contentType: 'application/x-ndjson' };
  }
}

/** What the plugin's own pipeline (the test kit) makes of the files: (title, severity) pairs, sorted. */
async function expected(pluginDir: string, files: string[], input: Record<string, unknown>): Promise<string[]> {
  const kit = await loadTestPlugin(pluginDir);
  try {
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      let body: unknown;
      let jsonLines = false;
      try {
        body = JSON.parse(text);
      } catch {
        body = text
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as unknown);
        jsonLines = true;
      }
      await kit.webhook(body, { ...input, jsonLines });
    }
    return kit
      .observations()
      .map((o) => `${o.spec.severity} ${o.spec.title}`)
      .sort();
  } finally {
    await kit.close();
  }
}

describe('webhook sources in kubernetes mode, two replicas', { skip }, () => {
  let api: KubeApi;
  const procs: HostProcess[] = [];
  const dirs: string[] = [];
  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS);
    const ingester = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name, namespace: NS },
      spec,
    });
    await api.create({
      ...ING,
      namespace: NS,
      body: ingester('falco', { source: 'falco', ingester: 'webhook', webhook: { path: '/ingest/falco' } }),
    });
    await api.create({
      ...ING,
      namespace: NS,
      body: ingester('audit', {
        source: 'audit',
        ingester: 'webhook',
        webhook: { path: '/ingest/k8s-audit' },
        deduplication: { window: '0s' },
      }),
    });
    await api.create({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hook-token', namespace: NS },
        stringData: { token: 'first-token' },
      },
    });
    await api.create({
      ...ING,
      namespace: NS,
      body: ingester('secured', {
        source: 'secured',
        plugin: 'webhook',
        ingester: 'webhook',
        webhook: { path: '/ingest/secured', auth: { type: 'bearer', secretRef: { name: 'hook-token' } } },
      }),
    });
    for (const name of ['wh-a', 'wh-b']) {
      const data = tempDir('zw-unused-');
      dirs.push(data);
      procs.push(
        await startHostProcess(
          {
            ZEN_MODE: 'kubernetes',
            KUBECONFIG: cp!.kubeconfigPath,
            POD_NAMESPACE: NS,
            POD_NAME: name,
            ZEN_LEADER_ELECTION_ID: 'webhooks-e2e',
            ZEN_DATA_DIR: data,
          },
          60_000,
        ),
      );
    }
    for (const p of procs) {
      await waitFor(`${p.url} serves the webhooks`, async () => (await fetch(`${p.url}/ingest/falco`)).status === 405);
    }
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await api?.close();
    cleanup(...dirs);
  });

  const listTitles = async (source: string) =>
    (await api.list<{ spec: { severity: string; title: string } }>({ ...OBS, labelSelector: `source=${source}` })).items
      .map((o) => `${o.spec.severity} ${o.spec.title}`)
      .sort();

  test('every real Falco alert file, posted to both replicas, gives the expected Observations once', async () => {
    const files = listFiles(join(corpus!, 'falco'), /\.jsonl?$/);
    assert.ok(files.length >= 5);
    for (const f of files) {
      const { body, contentType } = fileBody(f);
      const answers = await Promise.all(
        procs.map((p) => post(`${p.url}/ingest/falco`, body, { 'content-type': contentType })),
      );
      for (const a of answers) assert.ok(a.status >= 200 && a.status < 300, `${f}: ${a.status} ${a.text}`);
    }
    const want = await expected(join(REPO, 'plugins/falco'), files, { source: 'falco', namespace: NS });
    assert.ok(want.length > 0);
    assert.deepEqual(await listTitles('falco'), want);
  });

  test('every real audit event file, posted to both replicas, gives the expected Observations once', async () => {
    const files = listFiles(join(corpus!, 'audit'), /\.jsonl?$/);
    for (const f of files) {
      const { body, contentType } = fileBody(f);
      const answers = await Promise.all(
        procs.map((p) => post(`${p.url}/ingest/k8s-audit`, body, { 'content-type': contentType })),
      );
      for (const a of answers) assert.ok(a.status >= 200 && a.status < 300, `${f}: ${a.status} ${a.text}`);
    }
    const want = await expected(join(REPO, 'plugins/audit'), files, {
      source: 'audit',
      namespace: NS,
      spec: { deduplication: { window: '0s' } },
    });
    assert.ok(want.length > 0);
    assert.deepEqual(await listTitles('audit'), want);
  });

  test('bearer auth from a Secret: rotation without restart, old and new accepted during it', async () => {
    const send = (p: HostProcess, token: string, title: string) =>
      post(`${p.url}/ingest/secured`, JSON.stringify({ severity: 'low', title }), {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
    for (const p of procs) {
      await waitFor('the Secret to be loaded', async () => (await send(p, 'first-token', 'first')).status === 200);
      assert.equal((await send(p, 'nope', 'x')).status, 401);
    }
    await api.patch({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      name: 'hook-token',
      body: { stringData: { token: 'first-token\nsecond-token' } },
    });
    for (const p of procs) {
      await waitFor(
        'the new token to be accepted',
        async () => (await send(p, 'second-token', 'second')).status === 200,
      );
      assert.equal(
        (await send(p, 'first-token', 'still-first')).status,
        200,
        'the old token still works during the rotation',
      );
    }
    await api.patch({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      name: 'hook-token',
      body: { stringData: { token: 'second-token' } },
    });
    for (const p of procs) {
      await waitFor('the old token to be refused', async () => (await send(p, 'first-token', 'late')).status === 401);
      assert.equal((await send(p, 'second-token', 'after')).status, 200);
    }
  });
});
