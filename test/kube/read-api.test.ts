/**
 * The read API and UI in kubernetes mode, on the real control plane: the index is fed by a watch (no LIST per
 * request, counted on the API server), and Kubernetes RBAC decides who sees what — callers authenticated with
 * tokens the API server knows, checked by TokenReview and SubjectAccessReview:
 *   bob    no permission at all            → sees nothing (lists empty, detail 404), in the API and in the UI
 *   alice  list observations in `team-a`   → sees team-a only, never team-b, also in the live stream
 *   carol  list observations cluster-wide  → sees everything
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createKubeApi, type KubeApi } from '../../core/kube/api.ts';
import type { ControlPlane } from '../controlplane/harness.ts';
import { browserMissing, launchChromium } from '../support/browser.ts';
import { cleanup, startTestHost, type TestHost, tempDir } from '../support/host.ts';
import { makeObservation, observationObject } from '../support/observations.ts';
import { waitFor } from '../support/wait.ts';

const TOKENS = { alice: 'alice-token-1', bob: 'bob-token-1', carol: 'carol-token-1' };
let cp: ControlPlane | undefined;
let skip: string | undefined;
try {
  const { startControlPlane } = await import('../controlplane/harness.ts');
  cp = await startControlPlane({
    crdDir: join(import.meta.dirname, '../../config/crd/bases'),
    extraTokens: Object.entries(TOKENS).map(([user, tok]) => `${tok},${user},${user}-uid`),
  });
} catch (err) {
  if (process.env.CI === 'true') throw err;
  skip = `no test control plane (${(err as Error).message})`;
}
after(async () => cp?.stop());

const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };

async function observation(api: KubeApi, ns: string, title: string, kind = 'Deployment', name = 'payments') {
  const o = makeObservation({
    source: ns === 'team-a' ? 'trivy' : 'falco',
    severity: 'high',
    title,
    namespace: ns,
    resource: { kind, name },
    detectedAt: new Date(),
  });
  await api.create({ ...OBS, namespace: ns, body: observationObject(o) });
  return o.name;
}

/** LIST requests for observations the API server has answered so far (its own metrics). */
async function observationLists(): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      `${cp!.server}/metrics`,
      { headers: { authorization: `Bearer ${cp!.token}` }, ...(cp!.caPem ? { ca: cp!.caPem } : {}) },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
  let n = 0;
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm))
    if (/resource="observations"/.test(m[1]!) && /verb="LIST"/.test(m[1]!)) n += Number(m[2]);
  return n;
}

describe('read API in kubernetes mode: RBAC decides who sees what', { skip }, () => {
  let api: KubeApi;
  let th: TestHost;
  let url: string;
  const dirs: string[] = [];

  before(async () => {
    api = createKubeApi(
      (await import('../../core/kube/client.ts')).loadKubeConfig({ kubeconfigPath: cp!.kubeconfigPath }),
    );
    for (const ns of ['team-a', 'team-b', 'zen-system'])
      await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: ns } } });
    const rule = { apiGroups: ['zen.kube-zen.io'], resources: ['observations'], verbs: ['get', 'list', 'watch'] };
    const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1' };
    await api.create({
      ...rbac,
      plural: 'roles',
      namespace: 'team-a',
      body: { metadata: { name: 'obs-reader' }, rules: [rule] },
    });
    await api.create({
      ...rbac,
      plural: 'rolebindings',
      namespace: 'team-a',
      body: {
        metadata: { name: 'alice-reads' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'obs-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    });
    await api.create({ ...rbac, plural: 'clusterroles', body: { metadata: { name: 'zw-obs-reader' }, rules: [rule] } });
    await api.create({
      ...rbac,
      plural: 'clusterrolebindings',
      body: {
        metadata: { name: 'carol-reads' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'zw-obs-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'carol' }],
      },
    });
    for (let i = 0; i < 3; i++) await observation(api, 'team-a', `team-a finding ${i}`);
    for (let i = 0; i < 2; i++) await observation(api, 'team-b', `team-b finding ${i}`);
    const config = tempDir('zw-cfg-');
    dirs.push(config);
    th = await startTestHost({
      configDir: config,
      env: {
        ZEN_MODE: 'kubernetes',
        KUBECONFIG: cp!.kubeconfigPath,
        POD_NAMESPACE: 'zen-system',
        POD_NAME: 'read-api-test',
        ZEN_READ_AUTH_CACHE_SECONDS: '1',
      },
    });
    assert.ok(th.host.readPort, 'the read API has its own port');
    assert.notEqual(th.host.readPort, th.host.port);
    url = `http://127.0.0.1:${th.host.readPort}`;
    await waitFor('read index synced', async () => {
      const r = await fetch(`${url}/api/v1/observations`, { headers: auth('carol') });
      return r.status === 200 && ((await r.json()) as { total: number }).total === 5;
    });
  });
  after(async () => {
    await th?.stop();
    cleanup(...dirs);
  });

  const auth = (who: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[who]}` });
  const get = async (path: string, who?: keyof typeof TOKENS) => {
    const r = await fetch(`${url}${path}`, { headers: who ? auth(who) : {} });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  test('no token or an unknown token: 401; the webhook port does not serve the read API', async () => {
    assert.equal((await get('/api/v1/summary')).status, 401);
    const r = await fetch(`${url}/api/v1/summary`, { headers: { authorization: 'Bearer nobody' } });
    assert.equal(r.status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${th.host.port}/api/v1/summary`)).status, 404);
  });

  test('denied (bob): nothing, in lists, summaries, details and the resource view', async () => {
    const who = await get('/api/v1/whoami', 'bob');
    assert.deepEqual(who.body, { user: 'bob', mode: 'kubernetes', namespaces: [] });
    assert.equal((await get('/api/v1/observations', 'bob')).body.total, 0);
    assert.equal((await get('/api/v1/summary', 'bob')).body.total, 0);
    const any = (await get('/api/v1/observations?limit=1', 'carol')).body.items as {
      namespace: string;
      name: string;
    }[];
    assert.equal((await get(`/api/v1/observations/${any[0]!.namespace}/${any[0]!.name}`, 'bob')).status, 404);
    assert.deepEqual((await get('/api/v1/resources/team-a/Deployment/payments', 'bob')).body.items, []);
  });

  test('partial (alice): team-a only; team-b answers as if it did not exist', async () => {
    const list = await get('/api/v1/observations', 'alice');
    const items = list.body.items as { namespace: string; name: string }[];
    assert.equal(list.body.total, 3);
    assert.ok(items.every((i) => i.namespace === 'team-a'));
    assert.deepEqual((await get('/api/v1/summary', 'alice')).body.byNamespace, { 'team-a': 3 });
    assert.equal((await get('/api/v1/observations?namespace=team-b', 'alice')).body.total, 0);
    const b = ((await get('/api/v1/observations?namespace=team-b', 'carol')).body.items as { name: string }[])[0]!;
    assert.equal((await get(`/api/v1/observations/team-b/${b.name}`, 'alice')).status, 404);
    const a = await get(`/api/v1/observations/team-a/${items[0]!.name}`, 'alice');
    assert.equal(a.status, 200);
    assert.equal((a.body.observation as { metadata: { managedFields?: unknown } }).metadata.managedFields, undefined);
    assert.equal(((await get('/api/v1/resources/team-b/Deployment/payments', 'alice')).body.items as []).length, 0);
    assert.equal(((await get('/api/v1/resources/team-a/Deployment/payments', 'alice')).body.items as []).length, 3);
  });

  test('allowed (carol): everything', async () => {
    assert.equal((await get('/api/v1/observations', 'carol')).body.total, 5);
    assert.deepEqual((await get('/api/v1/summary', 'carol')).body.byNamespace, { 'team-a': 3, 'team-b': 2 });
    assert.equal((await get('/api/v1/whoami', 'carol')).body.namespaces, 'all');
  });

  test('the live stream carries only what the caller may see', async () => {
    const ac = new AbortController();
    const res = await fetch(`${url}/api/v1/stream`, { headers: auth('alice'), signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await observation(api, 'team-b', 'streamed to team-b');
    await observation(api, 'team-a', 'streamed to team-a');
    let text = '';
    while (!text.includes('streamed to team-a')) text += (await reader.read()).value ?? '';
    ac.abort();
    assert.doesNotMatch(text, /streamed to team-b/);
  });

  test('a finding changed after its creation (count, resolution) shows through the watch', async () => {
    const name = await observation(api, 'team-a', 'repeated and resolved later');
    await api.patch({
      ...OBS,
      namespace: 'team-a',
      name,
      subresource: 'status',
      body: {
        status: {
          count: 12,
          firstSeen: '2026-01-01T00:00:00.000Z',
          lastSeen: '2026-01-02T00:00:00.000Z',
          phase: 'Resolved',
          resolvedAt: '2026-01-03T00:00:00.000Z',
          reason: 'the source reported this finding resolved',
        },
      },
    });
    const d = await waitFor('the detail view shows the patched status', async () => {
      const r = await get(`/api/v1/observations/team-a/${name}`, 'alice');
      return (r.body.item as { phase?: string } | undefined)?.phase === 'Resolved' ? r.body : undefined;
    });
    assert.deepEqual(d.occurrences, {
      count: 12,
      observations: 1,
      firstSeen: '2026-01-01T00:00:00.000Z',
      lastSeen: '2026-01-02T00:00:00.000Z',
    });
    const list = await get('/api/v1/observations?q=repeated%20and%20resolved', 'alice');
    assert.deepEqual(
      (list.body.items as { count: number; phase: string; resolvedAt: string }[]).map((i) => [
        i.count,
        i.phase,
        i.resolvedAt,
      ]),
      [[12, 'Resolved', '2026-01-03T00:00:00.000Z']],
    );
    await api.delete({ ...OBS, namespace: 'team-a', name });
    await waitFor(
      'deleted from the index',
      async () => (await get(`/api/v1/observations/team-a/${name}`, 'alice')).status === 404,
    );
  });

  test('answers come from the watch-fed index: no LIST of observations per request', async () => {
    // Three LISTs at start, none after: the read index, the leader's first GC pass, and the resolver's cache once
    // informer work started (ADR 0011; sharded, per epoch: ADR 0020).
    const before = await waitFor('the read index, GC and the resolver cache listed observations', async () => {
      const n = await observationLists();
      return n >= 3 ? n : undefined;
    });
    for (let i = 0; i < 20; i++) {
      await get('/api/v1/observations?limit=5', 'carol');
      await get('/api/v1/summary', 'alice');
    }
    assert.equal(await observationLists(), before);
  });

  test('the UI with a partial token shows only that namespace', { skip: browserMissing() }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.addInitScript(`sessionStorage.setItem('zen-watcher-token', '${TOKENS.alice}')`);
      await page.goto(`${url}/ui/`);
      await page.locator('[data-testid="count-total"]').waitFor();
      const visible = (await get('/api/v1/summary', 'alice')).body.total as number;
      assert.equal(
        Number((await page.locator('[data-testid="count-total"] .n').textContent())?.replace(/\D/g, '')),
        visible,
      );
      await page.goto(`${url}/ui/#/findings`);
      await page.locator('table.findings tbody tr').first().waitFor();
      const text = (await page.locator('main').textContent()) ?? '';
      assert.doesNotMatch(text, /team-b/);
      assert.match(text, /team-a/);
      // Without a token the UI says so and offers to take one.
      const anon = await browser.newPage();
      await anon.goto(`${url}/ui/`);
      await anon.getByRole('alert').waitFor();
      assert.match((await anon.getByRole('alert').textContent()) ?? '', /401/);
    } finally {
      await browser.close();
    }
  });
});
