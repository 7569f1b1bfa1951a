/**
 * The README and the shipped Ingester files say what the code does: every YAML example parses and validates, the
 * example audit policy logs what the built-in rules need (checked with the API server's policy matching), the
 * kubeconfigs target the Ingester path, and the built-in rule table matches DEFAULT_RULES. The real policies and
 * kubeconfigs of the corpus go through the same checks, so the README's statements about them stay true.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../../core/config/env.ts';
import { listFiles, readText, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { DEFAULT_RULES } from '../default-rules.ts';
import { atLeast, type Kubeconfig, type Policy, policyFor, webhookTarget } from './audit-policy.ts';
import { load, PLUGIN_DIR } from './helpers.ts';

const README = readFileSync(join(PLUGIN_DIR, 'README.md'), 'utf8');
const INGEST_PATH = '/ingest/k8s-audit';

function yamlBlocks(markdown: string): Array<Record<string, unknown>> {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
}

const blocks = yamlBlocks(README);
const byKind = (kind: string) => blocks.filter((b) => b.kind === kind);

test('README: every YAML block parses and is an Ingester, a Policy or a kubeconfig', () => {
  assert.equal(blocks.length, 4);
  assert.deepEqual(blocks.map((b) => b.kind).sort(), ['Config', 'Config', 'Ingester', 'Policy']);
});

test('README Ingester example and the shipped Ingester files validate against the host and plugin schemas', async () => {
  const kit = await load();
  try {
    const files = [
      join(REPO_ROOT, 'config/standalone/audit.yaml'),
      join(REPO_ROOT, 'config/samples/zen_v1alpha1_ingester_audit.yaml'),
    ];
    const docs = [
      ...byKind('Ingester'),
      ...files.flatMap((f) =>
        parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, unknown>),
      ),
    ];
    assert.equal(docs.length, 3);
    for (const doc of docs) {
      const res = kit.validateIngester(doc);
      assert.ok(res.ok, JSON.stringify(res));
      const spec = res.ingester.spec;
      assert.equal(spec.source, 'audit');
      assert.equal(spec.webhook?.path, INGEST_PATH);
      assert.equal(spec.deduplication?.window, '0s', 'retries must stay duplicates at any delay');
    }
    // The standalone file uses the built-in rules.
    const standalone = docs[1]!.spec as { config: Record<string, unknown> };
    assert.equal(standalone.config.rules, undefined);
  } finally {
    await kit.close();
  }
});

test('README: the built-in rule table lists DEFAULT_RULES in order with their severities', () => {
  const table = README.slice(README.indexOf('### Built-in rules'), README.indexOf('## The Observation'));
  const rows = [...table.matchAll(/^\| `([a-z-]+)`\s*\| (\w+)\s*\|/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(
    rows,
    DEFAULT_RULES.map((r) => [r.name, r.severity]),
  );
});

test('README: the configuration table covers every field of schema.json', () => {
  const schema = JSON.parse(readFileSync(join(PLUGIN_DIR, 'schema.json'), 'utf8')) as {
    properties: Record<string, { default?: unknown }>;
    $defs: { matcher: { properties: Record<string, unknown> } };
  };
  for (const field of Object.keys(schema.properties))
    assert.match(README, new RegExp(`\\| \`${field}\`\\s*\\|`), field);
  for (const field of Object.keys(schema.$defs.matcher.properties))
    assert.match(README, new RegExp(`\`${field}\``), field);
  assert.match(README, /\| `maxEvents`\s*\| `10000`\s*\|/);
});

/** The requests behind each built-in rule, and the audit level each rule needs. */
const NEEDS = [
  {
    what: 'privileged-pod: pod create by a controller',
    q: {
      user: 'system:serviceaccount:kube-system:replicaset-controller',
      verb: 'create',
      group: '',
      resource: 'pods',
      namespace: 'shop',
    },
    min: 'Request',
  },
  {
    what: 'cluster-admin-binding: ClusterRoleBinding create',
    q: { user: 'alice', verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
    min: 'Request',
  },
  {
    what: 'pod-exec',
    q: {
      user: 'alice',
      verb: 'create',
      group: '',
      resource: 'pods',
      subresource: 'exec',
      namespace: 'shop',
      name: 'p',
    },
    min: 'Metadata',
  },
  {
    what: 'rbac-change: Role update',
    q: {
      user: 'alice',
      verb: 'update',
      group: 'rbac.authorization.k8s.io',
      resource: 'roles',
      namespace: 'dev',
      name: 'r',
    },
    min: 'Metadata',
  },
  {
    what: 'delete: Deployment',
    q: { user: 'dave', verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'shop', name: 'web' },
    min: 'Metadata',
  },
  {
    what: 'authz-denied: a read of a Secret',
    q: {
      user: 'system:serviceaccount:dev:default',
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace: 'kube-system',
      name: 's',
    },
    min: 'Metadata',
  },
] as const;

test('README audit policy: logs what each built-in rule needs, at a stage it decides at, never Secret or ConfigMap bodies', () => {
  const [policy] = byKind('Policy') as unknown as Policy[];
  assert.equal(policy!.apiVersion, 'audit.k8s.io/v1');
  for (const n of NEEDS) {
    const { level, omitStages } = policyFor(policy!, n.q);
    assert.ok(atLeast(level, n.min), `${n.what}: ${level}`);
    // Every request has ResponseComplete (or Panic); long-running ones (exec) also ResponseStarted. Either decides.
    assert.ok(!omitStages.includes('ResponseComplete'), n.what);
  }
  for (const resource of ['secrets', 'configmaps']) {
    for (const verb of ['create', 'update', 'patch', 'get']) {
      const { level } = policyFor(policy!, { user: 'alice', verb, group: '', resource, namespace: 'x', name: 'y' });
      assert.equal(level, 'Metadata', `${verb} ${resource}`);
    }
  }
  assert.equal(policyFor(policy!, { user: 'system:anonymous', verb: 'get', path: '/healthz' }).level, 'None');
  assert.equal(policyFor(policy!, { user: 'system:anonymous', verb: 'get', path: '/readyz/etcd' }).level, 'None');
  assert.equal(
    policyFor(policy!, { user: 'system:node:n1', groups: ['system:nodes'], verb: 'watch', group: '', resource: 'pods' })
      .level,
    'None',
  );
  assert.equal(
    policyFor(policy!, {
      user: 'system:kube-scheduler',
      verb: 'update',
      group: 'coordination.k8s.io',
      resource: 'leases',
    }).level,
    'None',
  );
});

test('real audit policies: what they give the built-in rules (the README states it)', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const policies = Object.fromEntries(
    listFiles(dir, /^audit-policy-.*\.yaml$/).map((f) => [
      f.slice(f.lastIndexOf('/') + 1),
      parse(readText(f)) as Policy,
    ]),
  );
  assert.deepEqual(Object.keys(policies).sort(), [
    'audit-policy-falco-k8saudit.yaml',
    'audit-policy-k8s-docs-example.yaml',
  ]);
  const levels = (p: Policy) => NEEDS.map((n) => policyFor(p, n.q).level);
  // privileged-pod, cluster-admin-binding, pod-exec, rbac-change, delete, authz-denied
  assert.deepEqual(levels(policies['audit-policy-k8s-docs-example.yaml']!), [
    'RequestResponse',
    'Metadata', // cluster-admin-binding undecided: the binding shows as rbac-change (README)
    'Request', // pods/exec: the "core group" Request rule
    'Metadata',
    'Metadata',
    'Metadata',
  ]);
  assert.deepEqual(levels(policies['audit-policy-falco-k8saudit.yaml']!), [
    'RequestResponse',
    'RequestResponse',
    'Request',
    'Metadata',
    'Metadata',
    'Metadata',
  ]);
  for (const p of Object.values(policies)) {
    assert.deepEqual(p.omitStages, ['RequestReceived'], 'both keep ResponseStarted: pod-exec works');
  }
  // Falco's policy logs ConfigMap bodies (the README warns); the docs' policy does not.
  const cm = { user: 'alice', verb: 'create', group: '', resource: 'configmaps', namespace: 'default' };
  assert.equal(policyFor(policies['audit-policy-falco-k8saudit.yaml']!, cm).level, 'RequestResponse');
  assert.equal(policyFor(policies['audit-policy-k8s-docs-example.yaml']!, cm).level, 'Metadata');
});

test('README kubeconfigs: the current context resolves and posts to the Ingester path', () => {
  const configs = byKind('Config') as unknown as Kubeconfig[];
  assert.equal(configs.length, 2);
  const [plain, tls] = configs.map(webhookTarget);
  for (const target of [plain!, tls!]) {
    assert.equal(target.url.pathname, INGEST_PATH);
    assert.ok(target.userFound);
  }
  assert.equal(plain!.url.protocol, 'http:');
  assert.equal(plain!.url.port, '8080', 'zen-watcher listens on 8080');
  assert.equal(tls!.url.protocol, 'https:');
  assert.equal(tls!.user, 'kube-apiserver');
  const tlsConfig = configs[1]!;
  assert.ok(tlsConfig.clusters![0]!.cluster['certificate-authority'], 'https needs the CA that signed the proxy cert');
  assert.ok(tlsConfig.users![0]!.user['client-certificate'] && tlsConfig.users![0]!.user['client-key']);
});

test('real webhook kubeconfigs read the same way (and the 1.7 docs example has a user typo)', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const targets = Object.fromEntries(
    listFiles(dir, /^webhook-kubeconfig-.*\.yaml$/).map((f) => [
      f.slice(f.lastIndexOf('/') + 1),
      webhookTarget(parse(readText(f)) as Kubeconfig),
    ]),
  );
  const falco = targets['webhook-kubeconfig-falco-k8saudit.yaml']!;
  assert.equal(falco.server, 'http://$FALCO_SERVICE_CLUSTERIP:8765/k8s-audit');
  assert.equal(falco.url.protocol, 'http:', 'plain http to a Service ClusterIP, as our first example');
  assert.equal(falco.userFound, true);
  const gardener = targets['webhook-kubeconfig-gardener-auditlog-forwarder-mtls.yaml']!;
  assert.equal(gardener.url.protocol, 'https:');
  assert.equal(gardener.user, 'kube-apiserver');
  assert.equal(gardener.userFound, true, 'mTLS client cert, as our second example');
  const docs = targets['webhook-kubeconfig-k8s-docs-v1.7-example.yaml']!;
  assert.equal(docs.server, 'https://audit.example.com/audit');
  assert.equal(docs.user, 'name-of-api-sever');
  assert.equal(docs.userFound, false, "the docs' context names a user that is not defined");
});
