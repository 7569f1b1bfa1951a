/**
 * The generated CRDs (config/crd/bases/, from core/config/*-schema.ts by scripts/gen-crds.ts) on a real
 * kube-apiserver (test/controlplane/harness.ts applies them; with ZEN_TEST_KUBECONFIG this suite creates or
 * replaces them in that cluster itself). Everything runs in one fresh namespace.
 *
 * Documented behaviour checked here:
 * - the API server rejects what the host's schema rejects (422, the field path in the message), including the
 *   cross-field rules of core/config/validate.ts (CEL);
 * - an unknown field is rejected with `fieldValidation=Strict` (400) and pruned otherwise (the default, `Warn`);
 * - Ingester and Observation status are kept when written through the status subresource (the Go original
 *   pruned Ingester status), and ignored on create;
 * - Observations written the way the pipeline builds them are accepted, and labels make `-l severity=critical`
 *   work; selectableFields make `kubectl get obs -A --field-selector spec.severity=critical` return exactly the
 *   critical ones (the list request kubectl sends; kubectl itself too where it is installed); the Table view
 *   carries the printer columns;
 * - every Ingester in config/samples/*.yaml passes a server-side dry-run create.
 *
 * Without a control plane (no Go toolchain, build failure) the suite is skipped with the reason, except in CI
 * (CI=true), where that is a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import type { Observation, ObservationDraft } from '../../core/api/index.ts';
import { ingesterDocumentSchema } from '../../core/config/ingester-schema.ts';
import { createAjv, IngesterValidator } from '../../core/config/validate.ts';
import { sha256Hex } from '../../core/pipeline/fingerprint.ts';
import { Pipeline } from '../../core/pipeline/pipeline.ts';
import type { ObservationSink } from '../../core/sinks/types.ts';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import type { ControlPlane } from '../controlplane/harness.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CRD_DIR = join(ROOT, 'config', 'crd', 'bases');
const SAMPLES_DIR = join(ROOT, 'config', 'samples');
const GROUP = 'zen.kube-zen.io';
const VERSION = 'v1alpha1';
const NS = `zen-crds-${randomBytes(4).toString('hex')}`;
const OBS = { group: GROUP, version: VERSION, plural: 'observations', namespace: NS } as const;
const ING = { group: GROUP, version: VERSION, plural: 'ingesters', namespace: NS } as const;

async function controlPlane(): Promise<{ cp?: ControlPlane; skip?: string }> {
  try {
    const { startControlPlane } = await import('../controlplane/harness.ts');
    return { cp: await startControlPlane({ crdDir: CRD_DIR }) };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skip: `no test control plane (${(err as Error).message}); set ZEN_TEST_KUBECONFIG or install Go` };
  }
}

const { cp, skip } = await controlPlane();
after(async () => cp?.stop());

let kc: KubeConfig;
let custom: CustomObjectsApi;
let crdApi: ApiextensionsV1Api;

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

interface Status {
  code?: number;
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

/** Awaits a request that must fail; returns the HTTP code and the Status body. */
async function rejection(p: Promise<unknown>): Promise<{ code: number; status: Status }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = err.body as unknown;
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as Status;
    return { code: err.code, status };
  }
  assert.fail('the API server accepted the object');
}

function observation(name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): Obj {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Observation',
    metadata: { name, namespace: NS, labels },
    spec: {
      source: 'trivy',
      category: 'security',
      severity: 'high',
      eventType: 'vulnerability',
      title: 'CVE-2024-0001 in openssl',
      message: 'openssl 3.0.1 is affected; fixed in 3.0.2',
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: NS },
      details: {
        cve: 'CVE-2024-0001',
        score: 9.8,
        packages: [{ name: 'openssl', fixed: ['3.0.2'] }],
        nested: { a: null },
      },
      fingerprint: sha256Hex(name),
      detectedAt: '2026-01-02T03:04:05.678Z',
      ttlSecondsAfterCreation: 604800,
      ...spec,
    },
  };
}

function ingester(name: string, spec: Record<string, unknown>): Obj {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Ingester', metadata: { name, namespace: NS }, spec };
}

const create = (gvr: typeof OBS | typeof ING, body: Obj, opts: { fieldValidation?: string; dryRun?: string } = {}) =>
  custom.createNamespacedCustomObject({ ...gvr, body, ...opts }) as Promise<Obj>;
const get = (gvr: typeof OBS | typeof ING, name: string) =>
  custom.getNamespacedCustomObject({ ...gvr, name }) as Promise<Obj>;

/**
 * A raw request with the kubeconfig's credentials (token or client certificate) and CA: for the Table view, and
 * to send the CRD YAML as it is (client-node's typed serializer would drop keys like `enum` from a parsed file).
 */
async function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(path, kc.getCurrentCluster()!.server);
  const opts: import('node:https').RequestOptions = {
    method,
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    headers,
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((res, rej) => {
    const req = request(opts, (resp) => {
      let text = '';
      resp.setEncoding('utf8');
      resp.on('data', (c: string) => {
        text += c;
      });
      resp.on('end', () => res({ status: resp.statusCode ?? 0, body: text }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

interface Table {
  kind: string;
  columnDefinitions: { name: string; type: string; priority: number }[];
  rows: { cells: unknown[]; object: { metadata: { name: string } } }[];
}

async function table(
  plural: string,
): Promise<{ columns: string[]; priority: Map<string, number>; rows: Map<string, Record<string, unknown>> }> {
  const r = await raw('GET', `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${plural}`, {
    Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
  });
  assert.equal(r.status, 200, r.body);
  const t = JSON.parse(r.body) as Table;
  assert.equal(t.kind, 'Table');
  const columns = t.columnDefinitions.map((c) => c.name);
  const rows = new Map<string, Record<string, unknown>>();
  for (const row of t.rows) {
    rows.set(row.object.metadata.name, Object.fromEntries(columns.map((c, i) => [c, row.cells[i]])));
  }
  return { columns, priority: new Map(t.columnDefinitions.map((c) => [c.name, c.priority])), rows };
}

/** ZEN_TEST_KUBECONFIG: nothing applied the CRDs; server-side apply them as committed, then wait for Established. */
async function installCrds(): Promise<void> {
  for (const file of (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort()) {
    const text = await readFile(join(CRD_DIR, file), 'utf8');
    const name = (parse(text) as { metadata: { name: string } }).metadata.name;
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    const r = await raw(
      'PATCH',
      `${path}?fieldManager=zen-watcher-tests&force=true&fieldValidation=Strict`,
      { 'Content-Type': 'application/apply-patch+yaml', Accept: 'application/json' },
      text,
    );
    assert.ok(r.status === 200 || r.status === 201, `apply ${file}: ${r.status} ${r.body}`);
    assert.equal((await established(name)).status?.conditions?.find((c) => c.type === 'Established')?.status, 'True');
  }
}

async function established(name: string, timeoutMs = 30_000): Promise<V1CustomResourceDefinition> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd = await crdApi.readCustomResourceDefinition({ name });
    const ok = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    if (ok || Date.now() > deadline) return crd;
    await sleep(200);
  }
}

/**
 * `kubectl get ARGS` against the control plane with its request log (-v=6), or undefined when kubectl is not
 * installed. `names`: the object names of `-o name`, sorted.
 */
function kubectlGet(args: string[]): { names: string[]; log: string } | undefined {
  const r = spawnSync('kubectl', ['--kubeconfig', cp!.kubeconfigPath, 'get', ...args, '-v=6'], { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
  assert.equal(r.status, 0, `kubectl get ${args.join(' ')}: ${r.stderr}`);
  const names = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(l.indexOf('/') + 1))
    .sort();
  return { names, log: r.stderr };
}

describe('CRDs on a real kube-apiserver', { skip }, () => {
  before(async () => {
    kc = new KubeConfig();
    kc.loadFromFile(cp!.kubeconfigPath);
    custom = kc.makeApiClient(CustomObjectsApi);
    crdApi = kc.makeApiClient(ApiextensionsV1Api);
    if (cp!.external) await installCrds();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  });
  after(async () => {
    // A local control plane has no namespace controller (the namespace would stay Terminating): only clean up
    // an external cluster.
    if (cp?.external)
      await kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: NS })
        .catch(() => {});
  });

  test('both CRDs are Established with their names, short names and the status subresource', async () => {
    for (const [name, shortNames] of [
      [`ingesters.${GROUP}`, ['ing', 'ingester']],
      [`observations.${GROUP}`, ['obs', 'obsv']],
    ] as const) {
      const crd = await established(name);
      const cond = (type: string) => crd.status?.conditions?.find((c) => c.type === type)?.status;
      assert.equal(cond('Established'), 'True', `${name} Established`);
      assert.equal(cond('NamesAccepted'), 'True', `${name} NamesAccepted`);
      assert.deepEqual(crd.spec.names.shortNames, shortNames);
      assert.equal(crd.spec.scope, 'Namespaced');
      const v = crd.spec.versions.find((x) => x.name === VERSION);
      assert.ok(v?.served && v.storage, `${VERSION} served and storage`);
      assert.deepEqual(v.subresources?.status, {});
    }
  });

  describe('Observation', () => {
    test('a complete Observation is stored as sent (details kept, nothing pruned)', async () => {
      const body = observation('obs-complete');
      await create(OBS, body, { fieldValidation: 'Strict' });
      const got = await get(OBS, 'obs-complete');
      assert.deepEqual(got.spec, body.spec);
    });

    test('a minimal Observation (required fields only) is accepted', async () => {
      const {
        message: _m,
        resource: _r,
        details: _d,
        ttlSecondsAfterCreation: _t,
        ...minimal
      } = observation('x').spec!;
      await create(OBS, { ...observation('obs-minimal'), spec: minimal }, { fieldValidation: 'Strict' });
    });

    const invalid: [string, Record<string, unknown>, string][] = [
      ['severity urgent', { severity: 'urgent' }, 'spec.severity'],
      ['severity in upper case', { severity: 'HIGH' }, 'spec.severity'],
      ['an unknown category', { category: 'fun' }, 'spec.category'],
      ['an eventType with a dash', { eventType: 'policy-violation' }, 'spec.eventType'],
      ['an eventType over 63 characters', { eventType: 'a'.repeat(64) }, 'spec.eventType'],
      ['a source with upper case', { source: 'Trivy' }, 'spec.source'],
      ['a title over 256 characters', { title: 't'.repeat(257) }, 'spec.title'],
      ['an empty title', { title: '' }, 'spec.title'],
      ['a message over 4096 characters', { message: 'm'.repeat(4097) }, 'spec.message'],
      ['a fingerprint that is not sha256 hex', { fingerprint: 'abc' }, 'spec.fingerprint'],
      ['detectedAt that is not a date-time', { detectedAt: 'yesterday' }, 'spec.detectedAt'],
      ['ttlSecondsAfterCreation 0', { ttlSecondsAfterCreation: 0 }, 'spec.ttlSecondsAfterCreation'],
      ['details that is not an object', { details: 'text' }, 'spec.details'],
      ['no title', { title: undefined }, 'spec.title'],
      ['no fingerprint', { fingerprint: undefined }, 'spec.fingerprint'],
    ];
    for (const [name, patch, field] of invalid) {
      test(`rejects ${name} with 422 naming ${field}`, async () => {
        const body = observation(`obs-bad-${randomBytes(3).toString('hex')}`, patch);
        const { code, status } = await rejection(create(OBS, JSON.parse(JSON.stringify(body)) as Obj));
        assert.equal(code, 422, status.message);
        assert.match(status.message ?? '', new RegExp(`${field.replace('.', '\\.')}\\b`));
        assert.ok(
          status.details?.causes?.some((c) => c.field === field),
          JSON.stringify(status.details),
        );
      });
    }

    test('an unknown spec field is rejected with fieldValidation=Strict (400) and pruned otherwise', async () => {
      const body = observation('obs-unknown', { bogus: 1, resource: { kind: 'Pod', name: 'p', uid: 'u' } });
      const strict = await rejection(create(OBS, body, { fieldValidation: 'Strict' }));
      assert.equal(strict.code, 400, strict.status.message);
      assert.match(strict.status.message ?? '', /unknown field "spec\.bogus"/);
      assert.match(strict.status.message ?? '', /unknown field "spec\.resource\.uid"/);

      await create(OBS, body); // default fieldValidation (Warn): dropped with a warning
      const got = await get(OBS, 'obs-unknown');
      assert.equal(got.spec?.bogus, undefined);
      assert.deepEqual(got.spec?.resource, { kind: 'Pod', name: 'p' });
    });

    test('status is ignored on create and kept when written through the status subresource', async () => {
      await create(OBS, { ...observation('obs-status'), status: { phase: 'Resolved' } });
      const created = await get(OBS, 'obs-status');
      assert.deepEqual(
        created.status,
        { phase: 'Active', count: 1 },
        'the status subresource makes create ignore status; the server fills in the defaults',
      );
      const status = { phase: 'Resolved', resolvedAt: '2026-01-03T00:00:00Z', reason: 'ReportDeleted' };
      await custom.replaceNamespacedCustomObjectStatus({ ...OBS, name: 'obs-status', body: { ...created, status } });
      assert.deepEqual((await get(OBS, 'obs-status')).status, { ...status, count: 1 });
      const bad = await rejection(
        custom.replaceNamespacedCustomObjectStatus({
          ...OBS,
          name: 'obs-status',
          body: { ...(await get(OBS, 'obs-status')), status: { phase: 'Gone' } },
        }),
      );
      assert.equal(bad.code, 422);
      assert.match(bad.status.message ?? '', /status\.phase/);
    });

    test('what the pipeline writes is accepted; labels select by severity; the Table has the printer columns', async () => {
      // The real pipeline with a sink that only captures; the objects are then created as the Kubernetes sink does.
      const captured: Observation[] = [];
      const sink: ObservationSink = {
        kind: 'kubernetes',
        async write(obs) {
          captured.push(obs);
          return 'created';
        },
        ready: () => true,
        close: async () => {},
      };
      const handlers = new Map([
        ['trivy', { handler: 'trivy', plugin: 'trivy', pluginVersion: '1.0.0', ingesterTypes: ['informer'] as const }],
      ]);
      const validator = new IngesterValidator({ handlers: (h) => handlers.get(h), knownHandlers: () => ['trivy'] });
      const v = validator.validate({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Ingester',
        metadata: { name: 'trivy', namespace: NS },
        spec: { source: 'trivy', ingester: 'informer' },
      });
      assert.ok(v.ok, JSON.stringify(v));
      const pipeline = new Pipeline({
        sink,
        metrics: createMetrics(),
        dropLog: () => {},
        maxDetailsBytes: 16384,
        defaultTtlSeconds: 604800,
        dedupMaxEntries: 100,
        maxQueue: 100,
        webhookWindowMs: 60_000,
      });
      const draft = (severity: string, name: string): ObservationDraft => ({
        severity,
        title: `Finding on ${name}`,
        eventType: 'Vulnerability Report',
        resource: { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: NS },
        details: { report: { vulnerabilities: [{ id: 'CVE-1' }] } },
        labels: { team: 'a' },
      });
      const r = await pipeline.process(
        pipeline.compile(v.ingester),
        [draft('CRITICAL', 'api'), draft('high', 'web'), draft('Emergency', 'db'), draft('low', 'cache')],
        'informer',
      );
      assert.equal(r.created, 4);
      for (const obs of captured) {
        await create(
          OBS,
          {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'Observation',
            metadata: {
              name: obs.name,
              namespace: obs.namespace,
              labels: obs.labels,
              annotations: obs.annotations,
            } as Obj['metadata'],
            spec: obs.spec as unknown as Record<string, unknown>,
          },
          { fieldValidation: 'Strict' },
        );
        assert.deepEqual((await get(OBS, obs.name)).spec, obs.spec, 'stored unchanged');
      }

      const critical = (await custom.listNamespacedCustomObject({ ...OBS, labelSelector: 'severity=critical' })) as {
        items: Obj[];
      };
      const names = critical.items.map((o) => o.metadata.name).sort();
      const want = captured
        .filter((o) => o.spec.severity === 'critical')
        .map((o) => o.name)
        .sort();
      assert.equal(want.length, 2);
      assert.deepEqual(names, want);
      assert.ok(critical.items.every((o) => o.metadata.labels?.severity === 'critical'));
      // selectableFields: `kubectl get obs -A --field-selector spec.severity=critical` (the server filters).
      const selected = async (fieldSelector: string) =>
        ((await custom.listClusterCustomObject({ ...OBS, fieldSelector })) as { items: Obj[] }).items
          .map((o) => o.metadata.name)
          .sort();
      assert.deepEqual(await selected('spec.severity=critical'), want);
      // The command itself, where kubectl is installed (CI does not install it: the list above is the request it
      // sends, which its request log shows here; -v=6 logs it as `GET <url> 200 OK`, or `"Response" url="<url>"`
      // from client-go 1.33 on).
      const kubectl = kubectlGet(['obs', '-A', '--field-selector', 'spec.severity=critical', '-o', 'name']);
      if (kubectl) {
        assert.deepEqual(kubectl.names, want, 'kubectl get obs -A --field-selector spec.severity=critical');
        const request =
          /https:\/\/[^\s"/]+(\/apis\/zen\.kube-zen\.io\/v1alpha1\/observations\?fieldSelector=spec\.severity%3Dcritical[^\s"]*)/.exec(
            kubectl.log,
          );
        assert.ok(request, kubectl.log);
        console.log(
          `kubectl get obs -A --field-selector spec.severity=critical: ${kubectl.names.length} (${request[1]})`,
        );
      } else console.log('kubectl is not installed: the field selector was checked with the request it sends');
      assert.deepEqual(await selected('spec.severity=critical,spec.resource.name=api'), [
        captured.find((o) => o.spec.resource?.name === 'api')!.name,
      ]);
      assert.deepEqual(await selected('spec.source=trivy,spec.resource.kind=Deployment,spec.resource.name=cache'), [
        captured.find((o) => o.spec.resource?.name === 'cache')!.name,
      ]);
      assert.equal((await selected(`spec.resource.namespace=${NS},spec.category=compliance`)).length, 0);
      const unknown = await rejection(custom.listClusterCustomObject({ ...OBS, fieldSelector: 'spec.title=x' }));
      assert.equal(unknown.code, 400, 'a field that is not selectable is refused');

      const t = await table('observations');
      assert.deepEqual(t.columns, [
        'Name',
        'Source',
        'Severity',
        'Category',
        'Type',
        'Kind',
        'Resource',
        'Phase',
        'Count',
        'Last Seen',
        'Detected',
        'Age',
      ]);
      for (const c of ['Category', 'Detected']) assert.equal(t.priority.get(c), 1, `${c} is a wide column`);
      for (const c of ['Source', 'Severity', 'Type', 'Kind', 'Resource', 'Phase', 'Count', 'Last Seen', 'Age'])
        assert.equal(t.priority.get(c), 0);
      const api = captured.find((o) => o.spec.resource?.name === 'api')!;
      const row = t.rows.get(api.name);
      assert.ok(row, `row for ${api.name}`);
      assert.equal(row.Name, api.name);
      assert.equal(row.Source, 'trivy');
      assert.equal(row.Severity, 'critical');
      assert.equal(row.Category, 'security');
      assert.equal(row.Type, 'vulnerability_report');
      assert.equal(row.Kind, 'Deployment');
      assert.equal(row.Resource, 'api');
      assert.equal(t.rows.get('obs-status')?.Phase, 'Resolved');
      assert.deepEqual(await selected('status.phase=Resolved'), ['obs-status']);
      assert.ok((await selected('status.phase=Active')).includes(api.name), 'the defaulted phase is selectable');
      assert.equal(row.Phase, 'Active', 'defaulted');
      assert.equal(row.Count, 1, 'defaulted: seen once');
    });
  });

  describe('Ingester', () => {
    const webhookSpec = { source: 'falco', ingester: 'webhook', webhook: { path: '/ingest/falco' } };

    test('a valid Ingester is accepted; the server applies schema defaults the host accepts', async () => {
      await create(
        ING,
        ingester('falco', {
          ...webhookSpec,
          destinations: [{ type: 'crd' }],
          config: { minPriority: 'notice', any: { nested: [1] } },
        }),
        {
          fieldValidation: 'Strict',
        },
      );
      const got = await get(ING, 'falco');
      const spec = got.spec as { webhook: { methods: string[] }; destinations: { value: string }[]; config: unknown };
      assert.deepEqual(spec.webhook.methods, ['POST'], 'default from the schema');
      assert.equal(spec.destinations[0]?.value, 'observations', 'default inside a list item');
      assert.deepEqual(spec.config, { minPriority: 'notice', any: { nested: [1] } }, 'spec.config is kept as is');
      const validate = createAjv().compile(ingesterDocumentSchema);
      assert.ok(validate(got), JSON.stringify(validate.errors));
    });

    test('an informer Ingester with every section is accepted', async () => {
      await create(
        ING,
        ingester('trivy', {
          source: 'trivy',
          ingester: 'informer',
          informer: {
            gvr: { group: 'aquasecurity.github.io', version: 'v1alpha1', resource: 'vulnerabilityreports' },
          },
          filters: { minSeverity: 'medium', includeSeverity: ['critical', 'high'], excludeNamespaces: ['kube-system'] },
          deduplication: { strategy: 'hybrid', fields: ['resource.name'], window: '0s' },
          ttl: { default: '7d', min: '1h', max: '30d' },
          rateLimit: { requestsPerSecond: 5, burst: 10 },
          destinations: [{ type: 'crd', value: 'observations', namespace: NS }],
        }),
        { fieldValidation: 'Strict' },
      );
    });

    const invalid: [string, Record<string, unknown>, RegExp, number?][] = [
      [
        'ingester: logs (not in the enum)',
        { source: 'x', ingester: 'logs' },
        /spec\.ingester: Unsupported value: "logs"/,
      ],
      [
        'a webhook Ingester without spec.webhook',
        { source: 'x', ingester: 'webhook' },
        /spec\.webhook: Required value: is required when spec\.ingester is webhook/,
      ],
      [
        'an informer Ingester with spec.webhook',
        { source: 'x', ingester: 'informer', webhook: { path: '/x' } },
        /spec\.webhook: Forbidden: must not be set when spec\.ingester is informer/,
      ],
      [
        'a webhook Ingester with spec.informer',
        { ...webhookSpec, informer: { namespace: 'a' } },
        /spec\.informer: Forbidden: must not be set when spec\.ingester is webhook/,
      ],
      [
        'deduplication strategy key without fields',
        { ...webhookSpec, deduplication: { strategy: 'key' } },
        /spec\.deduplication\.fields: Required value: is required for strategy key/,
      ],
      [
        'duplicate webhook methods (a set)',
        { ...webhookSpec, webhook: { path: '/x', methods: ['POST', 'POST'] } },
        /spec\.webhook\.methods\[1\]: Duplicate value/,
      ],
      ['a webhook path without a leading slash', { ...webhookSpec, webhook: { path: 'x' } }, /spec\.webhook\.path/],
      ['a bad duration', { ...webhookSpec, ttl: { default: '1 week' } }, /spec\.ttl\.default/],
      [
        'two destinations of type crd',
        { ...webhookSpec, destinations: [{ type: 'crd' }, { type: 'crd' }] },
        /spec\.destinations: Invalid value: .*may hold at most one item of type crd/,
      ],
      [
        'a destination use without a name',
        { ...webhookSpec, destinations: [{ type: 'destination', minSeverity: 'high' }] },
        /spec\.destinations\[0\]\.name: Required value: is required for type destination/,
      ],
      [
        'filters on a crd item',
        { ...webhookSpec, destinations: [{ type: 'crd', minSeverity: 'high' }] },
        /spec\.destinations\[0\]: Forbidden: name, minSeverity, sources, namespaces and categories are only for type destination/,
      ],
      ['no source', { ingester: 'webhook', webhook: { path: '/x' } }, /spec\.source: Required value/],
    ];
    for (const [name, spec, message] of invalid) {
      test(`rejects ${name}`, async () => {
        const { code, status } = await rejection(
          create(ING, ingester(`ing-bad-${randomBytes(3).toString('hex')}`, spec)),
        );
        assert.equal(code, 422, status.message);
        assert.match(status.message ?? '', message);
      });
    }

    test('an unknown spec field is rejected with fieldValidation=Strict (400) and pruned otherwise', async () => {
      const body = ingester('ing-unknown', { ...webhookSpec, webhook: { path: '/u', secret: 'x' }, logs: {} });
      const strict = await rejection(create(ING, body, { fieldValidation: 'Strict' }));
      assert.equal(strict.code, 400, strict.status.message);
      assert.match(strict.status.message ?? '', /unknown field "spec\.logs"/);
      assert.match(strict.status.message ?? '', /unknown field "spec\.webhook\.secret"/);
      await create(ING, body);
      const got = await get(ING, 'ing-unknown');
      assert.deepEqual(got.spec, { ...webhookSpec, webhook: { path: '/u', methods: ['POST'] } });
    });

    test('status written through the status subresource is kept (not pruned) and shows in the Table', async () => {
      const created = await get(ING, 'falco');
      const status = {
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Ready',
            message: 'serving /ingest/falco',
            lastTransitionTime: '2026-01-02T03:04:05Z',
            observedGeneration: 1,
          },
        ],
        plugin: { name: 'falco', version: '1.2.3' },
        webhookPath: '/ingest/falco',
        lastEventTime: '2026-01-02T03:05:00Z',
      };
      await custom.replaceNamespacedCustomObjectStatus({ ...ING, name: 'falco', body: { ...created, status } });
      const got = await get(ING, 'falco');
      assert.deepEqual(got.status, status);
      assert.deepEqual(got.spec, created.spec, 'a status write leaves spec alone');

      const t = await table('ingesters');
      assert.deepEqual(t.columns, ['Name', 'Source', 'Type', 'Plugin', 'Path', 'Ready', 'Reason', 'Age']);
      assert.equal(t.priority.get('Plugin'), 1);
      assert.deepEqual(
        { ...t.rows.get('falco'), Age: undefined },
        {
          Name: 'falco',
          Source: 'falco',
          Type: 'webhook',
          Plugin: 'falco',
          Path: '/ingest/falco',
          Ready: 'True',
          Reason: 'Ready',
          Age: undefined,
        },
      );

      const bad = await rejection(
        custom.replaceNamespacedCustomObjectStatus({
          ...ING,
          name: 'falco',
          body: { ...got, status: { conditions: [{ ...status.conditions[0], status: 'Maybe' }] } },
        }),
      );
      assert.equal(bad.code, 422);
      assert.match(bad.status.message ?? '', /status\.conditions\[0\]\.status/);
    });

    test('a status on create is ignored (status subresource)', async () => {
      await create(ING, { ...ingester('ing-status-create', webhookSpec), status: { webhookPath: '/x' } });
      assert.equal((await get(ING, 'ing-status-create')).status, undefined);
    });

    test('every Ingester in config/samples/*.yaml passes a server-side dry-run create (Strict)', async (t) => {
      const files = (await readdir(SAMPLES_DIR).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml')).sort();
      let checked = 0;
      for (const file of files) {
        for (const doc of parseAllDocuments(await readFile(join(SAMPLES_DIR, file), 'utf8'))) {
          const obj = doc.toJS() as Obj | null;
          if (obj?.kind !== 'Ingester') continue;
          // The sample's namespace (e.g. zen-system) need not exist here: dry-run in the test namespace, under a
          // name no other test uses.
          const body = { ...obj, metadata: { ...obj.metadata, name: `sample-${obj.metadata.name}`, namespace: NS } };
          await assert.doesNotReject(
            create(ING, body, { dryRun: 'All', fieldValidation: 'Strict' }),
            `${file} (${obj.metadata.name})`,
          );
          checked++;
        }
      }
      if (checked === 0) t.skip('no Ingester samples in config/samples/');
    });
  });
});
