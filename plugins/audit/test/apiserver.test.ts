/**
 * Every built-in rule against a REAL kube-apiserver's audit webhook backend (test/controlplane, batch mode), whatever
 * stages and level the audit policy keeps. One policy gives each test namespace its own stages and level (policy rules
 * with `omitStages`); a second policy omits stages globally, as trimmed production policies do. The test performs real
 * API requests (exec/attach/portforward are audited although they fail without a kubelet), waits until zen-watcher
 * has received every event the API server generated (apiserver_audit_event_total against the plugin's event
 * counter), and asserts exactly one Observation per request, with the rule the request deserves.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { SqliteStore, type StoredObservation } from '../../../core/sinks/sqlite-store.ts';
import type { ControlPlane } from '../../../test/controlplane/harness.ts';
import { cleanup, startTestHost, type TestHost, writeConfigDir } from '../../../test/support/host.ts';
import { waitFor } from '../../../test/support/wait.ts';

const BOB = 'bob-tok-0123456789';

/** One audit-policy rule per namespace: the stages and the level it keeps. */
interface Case {
  ns: string;
  level: 'Metadata' | 'Request' | 'RequestResponse';
  /** Stages the policy keeps for this namespace (the rest are omitted). */
  stages: Array<'RequestReceived' | 'ResponseStarted' | 'ResponseComplete'>;
}

const ALL = ['RequestReceived', 'ResponseStarted', 'ResponseComplete'] as const;

/** Policy A: per-namespace rules with their own omitStages. */
const CASES_A: Case[] = [
  { ns: 'all-metadata', level: 'Metadata', stages: [...ALL] },
  { ns: 'all-request', level: 'Request', stages: [...ALL] },
  { ns: 'no-started-request', level: 'Request', stages: ['RequestReceived', 'ResponseComplete'] },
  { ns: 'complete-only-rr', level: 'RequestResponse', stages: ['ResponseComplete'] },
  { ns: 'started-only-metadata', level: 'Metadata', stages: ['ResponseStarted'] },
  { ns: 'received-only-rr', level: 'RequestResponse', stages: ['RequestReceived'] },
];
/** Policy B: `omitStages: [RequestReceived, ResponseStarted]` for the whole policy, one Metadata rule. */
const CASE_B: Case = { ns: 'trimmed-metadata', level: 'Metadata', stages: ['ResponseComplete'] };

function policyA(): string {
  const rules = CASES_A.map((c) => ({
    level: c.level,
    namespaces: [c.ns],
    omitStages: ALL.filter((s) => !c.stages.includes(s)),
  }));
  // Nothing else: non-resource URLs (/metrics, /readyz) and the API server's own requests stay out.
  return JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    rules: [{ level: 'None', nonResourceURLs: ['*'] }, ...rules, { level: 'None' }],
  });
}

function policyB(): string {
  return JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived', 'ResponseStarted'],
    rules: [
      { level: 'None', nonResourceURLs: ['*'] },
      { level: CASE_B.level, namespaces: [CASE_B.ns] },
      { level: 'None' },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A raw HTTPS client: the Audit-ID response header names the request in the audit stream.

interface Reply {
  code: number;
  auditID: string;
  text: string;
}

function call(
  cp: ControlPlane,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; token?: string } = {},
): Promise<Reply> {
  const u = new URL(path, cp.server);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        ca: cp.caPem,
        headers: {
          authorization: `Bearer ${opts.token ?? cp.token}`,
          'content-type': 'application/json',
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ code: res.statusCode ?? 0, auditID: String(res.headers['audit-id'] ?? ''), text }),
        );
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(JSON.stringify(opts.body));
    req.end();
  });
}

async function ok(r: Promise<Reply>, what: string, codes: number[] = [200, 201]): Promise<Reply> {
  const reply = await r;
  assert.ok(codes.includes(reply.code), `${what}: HTTP ${reply.code} ${reply.text.slice(0, 300)}`);
  assert.ok(reply.auditID, `${what}: no Audit-ID header`);
  return reply;
}

// ---------------------------------------------------------------------------------------------------------------
// The requests, and the rule each deserves

/** A performed request: its Audit-ID, how to recognize it, and which rule it must give (undefined: none). */
interface Action {
  what: string;
  auditID: string;
  verb: string;
  resource: string;
  rule: string | undefined;
  /** A long-running request (exec, attach, portforward): it also has a ResponseStarted stage. */
  longRunning: boolean;
}

/** Needs the request body: decided only at level Request or RequestResponse. */
const needsBody = (c: Case) => c.level !== 'Metadata';

async function perform(cp: ControlPlane, c: Case): Promise<Action[]> {
  const ns = c.ns;
  const api = `/api/v1/namespaces/${ns}`;
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}`;
  const actions: Action[] = [];
  const add = (what: string, r: Reply, verb: string, resource: string, rule: string | undefined, lr = false) =>
    actions.push({ what, auditID: r.auditID, verb, resource, rule, longRunning: lr });

  await ok(call(cp, 'POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } }), `namespace ${ns}`);
  // A client may choose its own Audit-ID: two requests with the same one must stay two Observations.
  const chosen = { 'audit-id': `client-chosen-${ns}` };
  let r = await ok(
    call(cp, 'POST', `${api}/configmaps`, { body: { metadata: { name: 'c1' }, data: { a: 'b' } }, headers: chosen }),
    'create configmap',
  );
  assert.equal(r.auditID, `client-chosen-${ns}`, 'the API server takes the client Audit-ID');
  add('create configmap', r, 'create', 'configmaps', 'configmap-change');
  r = await ok(
    call(cp, 'POST', `${api}/secrets`, {
      body: { metadata: { name: 's1' }, stringData: { password: 'hunter2' } },
      headers: chosen,
    }),
    'create secret',
  );
  add('create secret (same client Audit-ID)', r, 'create', 'secrets', 'secret-change');
  r = await ok(
    call(cp, 'POST', `${rbac}/roles`, {
      body: { metadata: { name: 'r1' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
    }),
    'create role',
  );
  add('create role', r, 'create', 'roles', 'rbac-change');
  r = await ok(
    call(cp, 'POST', `${rbac}/rolebindings`, {
      body: {
        metadata: { name: 'rb-admin' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'mallory' }],
      },
    }),
    'create cluster-admin rolebinding',
  );
  // At level Metadata the roleRef is not in the event: cluster-admin-binding is undecided, rbac-change matches.
  add('bind cluster-admin', r, 'create', 'rolebindings', needsBody(c) ? 'cluster-admin-binding' : 'rbac-change');
  r = await ok(
    call(cp, 'POST', `${api}/pods`, {
      body: {
        metadata: { name: 'p1' },
        spec: { hostPID: true, containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
      },
    }),
    'create privileged pod',
  );
  add('create privileged pod', r, 'create', 'pods', needsBody(c) ? 'privileged-pod' : undefined);
  r = await ok(
    call(cp, 'POST', `${api}/pods`, {
      body: { metadata: { name: 'p2' }, spec: { containers: [{ name: 'c', image: 'x' }] } },
    }),
    'create plain pod',
  );
  add('create plain pod', r, 'create', 'pods', undefined);
  // Server-side apply creates with PATCH (201). JSON body: a YAML one makes the API server drop its whole audit batch
  // (README, "What each rule needs from the policy"), so it is not sent here.
  r = await ok(
    call(cp, 'PATCH', `${api}/pods/p3?fieldManager=test`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p3' },
        spec: { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] },
      },
      headers: { 'content-type': 'application/apply-patch+yaml' },
    }),
    'server-side apply of a host-network pod',
    [201],
  );
  add('apply host-network pod', r, 'patch', 'pods', needsBody(c) ? 'privileged-pod' : undefined);
  // kubectl debug --profile=sysadmin: a privileged ephemeral container in a running pod.
  r = await ok(
    call(cp, 'PATCH', `${api}/pods/p2/ephemeralcontainers`, {
      body: {
        spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox', securityContext: { privileged: true } }] },
      },
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
    }),
    'privileged ephemeral container',
    [200],
  );
  add(
    'privileged debug container',
    r,
    'patch',
    'pods/ephemeralcontainers',
    needsBody(c) ? 'privileged-pod' : undefined,
  );
  // No kubelet: these fail with 400 ("does not have a host assigned") after authorization, and are audited.
  for (const [sub, method, query] of [
    ['exec', 'POST', '?command=sh&stdin=true&stdout=true&tty=true'],
    ['exec', 'GET', '?command=id&stdout=true'],
    ['attach', 'POST', '?stdout=true'],
    ['portforward', 'POST', '?ports=8080'],
  ] as const) {
    r = await ok(call(cp, method, `${api}/pods/p1/${sub}${query}`), `${method} pods/${sub}`, [400]);
    add(`${method} pods/${sub}`, r, method === 'GET' ? 'get' : 'create', `pods/${sub}`, 'pod-exec', true);
  }
  r = await ok(call(cp, 'POST', `${api}/pods/p1/exec?command=sh&stdout=true`, { token: BOB }), 'exec as bob', [403]);
  add('exec denied', r, 'create', 'pods/exec', 'authz-denied', true);
  r = await ok(
    call(cp, 'GET', `${api}/configmaps`, {
      headers: { 'impersonate-user': 'bob', 'impersonate-group': 'system:masters' },
    }),
    'impersonated list',
  );
  add('impersonated list', r, 'list', 'configmaps', 'impersonation');
  r = await ok(call(cp, 'GET', `${api}/secrets`, { token: BOB }), 'list secrets as bob', [403]);
  add('list denied', r, 'list', 'secrets', 'authz-denied');
  r = await ok(call(cp, 'DELETE', `${api}/pods/p2`), 'delete pod');
  add('delete pod', r, 'delete', 'pods', 'delete');
  r = await ok(call(cp, 'DELETE', `${api}/configmaps/c1`), 'delete configmap');
  add('delete configmap', r, 'delete', 'configmaps', 'configmap-change');
  r = await ok(call(cp, 'GET', `${api}/configmaps`), 'plain list');
  add('plain list', r, 'list', 'configmaps', undefined);
  return actions;
}

/** The rule the action gives when the policy keeps only `stages` for its namespace. */
function expectedRule(a: Action, c: Case): string | undefined {
  const decisive = c.stages.filter((s) => s === 'ResponseComplete' || (s === 'ResponseStarted' && a.longRunning));
  return decisive.length ? a.rule : undefined;
}

// ---------------------------------------------------------------------------------------------------------------

function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function ingester(name: string): string {
  return `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: ${name}, namespace: default }
spec:
  source: ${name}
  plugin: audit
  ingester: webhook
  webhook: { path: /ingest/${name} }
  deduplication: { window: 0s }
`;
}

describe('audit rules against a real kube-apiserver audit webhook backend', { timeout: 240_000 }, () => {
  let host: TestHost | undefined;
  let configDir = '';
  const planes: ControlPlane[] = [];
  let skip: string | undefined;

  before(async () => {
    configDir = writeConfigDir({ 'a.yaml': ingester('audit-a'), 'b.yaml': ingester('audit-b') });
    host = await startTestHost({ configDir });
    try {
      const { startControlPlane } = await import('../../../test/controlplane/harness.ts');
      if (process.env.ZEN_TEST_KUBECONFIG) {
        skip = 'needs an audit policy on the API server: not possible with ZEN_TEST_KUBECONFIG';
        return;
      }
      for (const [source, policy] of [
        ['audit-a', policyA()],
        ['audit-b', policyB()],
      ] as const) {
        planes.push(
          await startControlPlane({
            audit: { policy, webhookUrl: `${host.url}/ingest/${source}` },
            extraTokens: [`${BOB},bob,bob-uid`],
          }),
        );
      }
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      skip = `no test control plane (${(err as Error).message})`;
    }
  });
  after(async () => {
    await Promise.all(planes.map((p) => p.stop()));
    await host?.stop();
    cleanup(configDir, host?.dataDir ?? '');
  });

  /** Waits until zen-watcher has received every audit event the API server generated. */
  async function drained(cp: ControlPlane, source: string): Promise<void> {
    await waitFor(
      `every audit event of ${source} delivered`,
      async () => {
        const sent = metricSum((await call(cp, 'GET', '/metrics')).text, 'apiserver_audit_event_total', {});
        const got = metricSum(
          await (await fetch(`${host!.url}/metrics`)).text(),
          'zen_watcher_plugin_audit_events_total',
          {
            source,
          },
        );
        return sent > 0 && got >= sent;
      },
      60_000,
    );
  }

  /**
   * drained() sees the events counted when the plugin maps them; their writes to the store may still be in flight (the
   * store commits on its worker thread). Reads the store until every case checks out, up to 30 s; a case that never
   * does fails with check()'s own assertion.
   */
  async function stored(source: string, cases: [Case, Action[]][]): Promise<StoredObservation[]> {
    return await waitFor(
      `the Observations of ${source} in the store`,
      () => {
        const all = observations(source);
        for (const [c, actions] of cases) check(c, actions, all);
        return all;
      },
      30_000,
      200,
    );
  }

  function observations(source: string): StoredObservation[] {
    const store = new SqliteStore(host!.dataDir, { readOnly: true });
    try {
      return store.list({ source, limit: 10_000 });
    } finally {
      void store.close();
    }
  }

  function check(c: Case, actions: Action[], all: StoredObservation[]): void {
    const mine = all.filter(
      (o) => (o.spec.details?.objectRef as { namespace?: string } | undefined)?.namespace === c.ns,
    );
    const of = (a: Action) =>
      mine.filter((o) => {
        const d = o.spec.details as {
          auditID: string;
          verb: string;
          objectRef: { resource: string; subresource?: string };
        };
        const res = d.objectRef.subresource
          ? `${d.objectRef.resource}/${d.objectRef.subresource}`
          : d.objectRef.resource;
        return d.auditID === a.auditID && d.verb === a.verb && res === a.resource;
      });
    const got = actions.map((a) => ({ what: a.what, rules: of(a).map((o) => o.spec.details?.rule) }));
    const want = actions.map((a) => {
      const rule = expectedRule(a, c);
      return { what: a.what, rules: rule ? [rule] : [] };
    });
    assert.deepEqual(got, want, `${c.ns} (${c.level}, stages ${c.stages.join('+')})`);
    assert.equal(mine.length, want.filter((w) => w.rules.length).length, `${c.ns}: no other Observations`);
    for (const o of mine) {
      const stage = o.spec.details?.stage as string;
      assert.ok(c.stages.includes(stage as Case['stages'][number]), `${c.ns}: stage ${stage} was kept by the policy`);
      assert.equal(o.spec.details?.level, c.level);
    }
    if (c.level === 'Metadata' && expectedRule(actions.find((a) => a.what === 'bind cluster-admin')!, c)) {
      const bind = mine.find((o) => o.spec.details?.rule === 'rbac-change' && o.spec.resource?.name === 'rb-admin');
      assert.deepEqual(bind?.spec.details?.undecidedRules, ['cluster-admin-binding'], 'undecided for lack of a body');
    }
  }

  test('policy A: one namespace per (stages, level); every rule fires at the stages kept, once per request', async (t) => {
    if (skip) return t.skip(skip);
    const cp = planes[0]!;
    const performed = new Map<string, Action[]>();
    for (const c of CASES_A) performed.set(c.ns, await perform(cp, c));
    await drained(cp, 'audit-a');
    const all = await stored(
      'audit-a',
      CASES_A.map((c) => [c, performed.get(c.ns)!]),
    );
    for (const c of CASES_A) await t.test(c.ns, () => check(c, performed.get(c.ns)!, all));
    // Bodies were missing at level Metadata: counted, not silent.
    const m = await (await fetch(`${host!.url}/metrics`)).text();
    assert.ok(
      metricSum(m, 'zen_watcher_plugin_audit_rule_undecided_total', {
        source: 'audit-a',
        rule: 'privileged-pod',
        why: 'no_request_object',
      }) >= 1,
    );
    // Only RequestReceived kept: nothing can be decided, and it is counted as skipped by stage.
    assert.ok(
      metricSum(m, 'zen_watcher_plugin_audit_events_total', { source: 'audit-a', result: 'stage_skipped' }) > 0,
    );
  });

  test('policy B: omitStages [RequestReceived, ResponseStarted] for the whole policy, level Metadata', async (t) => {
    if (skip) return t.skip(skip);
    const cp = planes[1]!;
    const actions = await perform(cp, CASE_B);
    await drained(cp, 'audit-b');
    check(CASE_B, actions, await stored('audit-b', [[CASE_B, actions]]));
  });
});
