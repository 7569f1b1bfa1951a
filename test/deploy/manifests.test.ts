/**
 * The shipped manifests, rendered by the real kustomize and helm (scripts/build-tools.sh): their shape (kubebuilder
 * layout, restricted pods, probes, timings), that the chart's CRDs are the generated ones, that bad chart values
 * fail at render time, and that the real kube-apiserver accepts every rendered object (server-side apply with
 * dryRun=All and strict field validation, after the namespaces and CRDs are applied for real).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { REPO } from '../support/host.ts';
import {
  Api,
  byKind,
  CHART,
  helmTemplate,
  helmTemplateError,
  KUBE_VERSION,
  type KubeObject,
  kustomizeBuild,
  kustomizeDefaultWith,
  one,
  parseObjects,
  type RbacRule,
  toolsOrSkip,
} from './support.ts';

const run = promisify(execFile);
const { tools, skip: toolSkip } = await toolsOrSkip();
const { cp, skip: cpSkip } = toolSkip ? { cp: undefined, skip: toolSkip } : await controlPlaneOrSkip();
after(async () => cp?.stop());

const VALUES = (name: string) => join(REPO, 'test/deploy', `values-${name}.yaml`);
const renders = new Map<string, KubeObject[]>();

type Container = {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string; scheme?: string } };
  readinessProbe?: { httpGet?: { path: string; port: string; scheme?: string } };
  startupProbe?: { httpGet?: { path: string; port: string; scheme?: string } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds: number;
  topologySpreadConstraints?: { topologyKey: string }[];
  initContainers?: Container[];
  containers: Container[];
  volumes: { name: string; emptyDir?: unknown; image?: { reference: string } }[];
};
const podSpec = (d: KubeObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;
const probe = (p: Container['livenessProbe']) => `${p?.httpGet?.path} ${p?.httpGet?.port}`;
const envOf = (c: Container) => new Map((c.env ?? []).map((e) => [e.name, e]));

describe('deployment manifests', { skip: toolSkip }, () => {
  before(async () => {
    const t = tools!;
    renders.set('kustomize config/default', await kustomizeBuild(t.kustomize, 'config/default'));
    renders.set('kustomize config/sharded', await kustomizeBuild(t.kustomize, 'config/sharded'));
    renders.set('kustomize config/default + [PROMETHEUS]', await kustomizeDefaultWith(t.kustomize, ['PROMETHEUS']));
    renders.set('helm defaults', await helmTemplate(t.helm));
    renders.set('helm values-production', await helmTemplate(t.helm, { valuesFiles: [VALUES('production')] }));
    renders.set(
      'helm values-sharded',
      await helmTemplate(t.helm, { release: 'shard-a', valuesFiles: [VALUES('sharded')] }),
    );
  });

  test('config/default: kubebuilder layout, names from namePrefix, everything namespaced in zen-system', () => {
    const objs = renders.get('kustomize config/default')!;
    const ids = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
    assert.deepEqual(ids, [
      'ClusterRole//zen-watcher-ingester-editor-role',
      'ClusterRole//zen-watcher-ingester-viewer-role',
      'ClusterRole//zen-watcher-manager-role',
      'ClusterRole//zen-watcher-observation-viewer-role',
      'ClusterRoleBinding//zen-watcher-manager-rolebinding',
      'CustomResourceDefinition//destinations.zen.kube-zen.io',
      'CustomResourceDefinition//ingesters.zen.kube-zen.io',
      'CustomResourceDefinition//observations.zen.kube-zen.io',
      'Deployment/zen-system/zen-watcher-controller-manager',
      'Namespace//zen-system',
      'NetworkPolicy/zen-system/zen-watcher-allow-egress',
      'NetworkPolicy/zen-system/zen-watcher-allow-webhook-traffic',
      'PodDisruptionBudget/zen-system/zen-watcher-controller-manager',
      'Role/zen-system/zen-watcher-leader-election-role',
      'RoleBinding/zen-system/zen-watcher-leader-election-rolebinding',
      'Service/zen-system/zen-watcher-webhook',
      'ServiceAccount/zen-system/zen-watcher-controller-manager',
    ]);
    const ns = one(objs, 'Namespace');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    // The Service, PDB and NetworkPolicies select exactly the Deployment's pods.
    const deploy = one(objs, 'Deployment');
    const podLabels = (deploy.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
      .labels;
    const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
    assert.ok(selects((one(objs, 'Service').spec as { selector: Record<string, string> }).selector));
    assert.ok(
      selects(
        (one(objs, 'PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> } }).selector
          .matchLabels,
      ),
    );
    for (const np of byKind(objs, 'NetworkPolicy'))
      assert.ok(selects((np.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels));
  });

  test('every Deployment: restricted pod, probes on the http port, downward API identity, timings that fit', () => {
    const envSource = readFileSync(join(REPO, 'core/config/env.ts'), 'utf8');
    for (const [name, objs] of renders) {
      const d = one(objs, 'Deployment');
      const spec = podSpec(d);
      const c = spec.containers.find((x) => x.name === 'manager')!;
      assert.ok(c, `${name}: manager container`);
      assert.ok((d.spec as { replicas: number }).replicas >= 2, `${name}: at least 2 replicas`);
      assert.deepEqual(c.args, ['run'], name);
      assert.deepEqual(spec.securityContext.seccompProfile, { type: 'RuntimeDefault' }, name);
      assert.equal(spec.securityContext.runAsNonRoot, true, name);
      assert.equal(spec.securityContext.runAsUser, 65532, name);
      for (const x of [...spec.containers, ...(spec.initContainers ?? [])]) {
        assert.equal(x.securityContext?.allowPrivilegeEscalation, false, `${name}/${x.name}`);
        assert.equal(x.securityContext?.readOnlyRootFilesystem, true, `${name}/${x.name}`);
        assert.deepEqual(x.securityContext?.capabilities, { drop: ['ALL'] }, `${name}/${x.name}`);
      }
      assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], name);
      assert.deepEqual(probe(c.livenessProbe), '/healthz http', name);
      assert.deepEqual(probe(c.readinessProbe), '/readyz http', name);
      assert.deepEqual(probe(c.startupProbe), '/healthz http', name);
      assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, name);
      const env = envOf(c);
      assert.equal(env.get('ZEN_MODE')?.value, 'kubernetes', name);
      assert.equal(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', name);
      assert.equal(env.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace', name);
      assert.match(env.get('ZEN_PLUGIN_DIRS')?.value ?? '', /^\/plugins(:|$)/, name);
      // Only variables the code reads (core/config/env.ts is the only place that reads process.env), and Node's own
      // NODE_OPTIONS: V8's heap limit, below the container's memory limit (values.yaml heapLimitMb).
      for (const v of env.keys())
        assert.ok(
          v.startsWith('POD_') ||
            v === 'NODE_OPTIONS' ||
            envSource.includes(`'${v}'`) ||
            envSource.includes(`env.${v}`),
          v,
        );
      const heap = /--max-old-space-size=(\d+)/.exec(env.get('NODE_OPTIONS')?.value ?? '')?.[1];
      if (heap !== undefined) {
        const limit = String((c as { resources?: { limits?: { memory?: string } } }).resources?.limits?.memory ?? '');
        const limitMb = /^(\d+)Mi$/.exec(limit)?.[1];
        if (limitMb) assert.ok(Number(heap) <= Number(limitMb) * 0.75, `${name}: heap ${heap} MB vs limit ${limit}`);
      }
      const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
      const vols = new Map(spec.volumes.map((v) => [v.name, v]));
      for (const path of ['/plugins', '/tmp']) assert.ok(vols.get(mounts.get(path)!)?.emptyDir, `${name}: ${path}`);
      assert.ok(
        (spec.topologySpreadConstraints ?? []).some((t) => /hostname|zone/.test(t.topologyKey)),
        `${name}: spread`,
      );
      // The grace period covers preStop + leader work stopping (renew deadline) + draining writes.
      const secs = (k: string, def: number) => Number(env.get(k)?.value ?? def);
      const stop =
        (c.lifecycle?.preStop?.sleep?.seconds ?? 0) +
        secs('ZEN_RENEW_DEADLINE_SECONDS', 10) +
        secs('ZEN_SHUTDOWN_TIMEOUT_SECONDS', 10);
      assert.ok(spec.terminationGracePeriodSeconds > stop, `${name}: grace ${spec.terminationGracePeriodSeconds}`);
      const [lease, renew, retry] = [
        'ZEN_LEASE_DURATION_SECONDS',
        'ZEN_RENEW_DEADLINE_SECONDS',
        'ZEN_RETRY_PERIOD_SECONDS',
      ].map((k) => secs(k, Number.NaN)) as [number, number, number];
      assert.ok(lease > renew && renew > 1.2 * retry, `${name}: ${lease}/${renew}/${retry}`);
    }
  });

  test('no role grants a wildcard, secrets (except named webhook-auth Secrets), or write access to sources', () => {
    for (const [name, objs] of renders) {
      for (const role of [...byKind(objs, 'ClusterRole'), ...byKind(objs, 'Role')]) {
        const where = `${name}: ${role.kind} ${role.metadata.name}`;
        for (const r of (role.rules ?? []) as RbacRule[]) {
          for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const)
            assert.ok(!(r[field] ?? []).some((x) => x.includes('*')), `${where}: wildcard in ${field}`);
          assert.equal(r.nonResourceURLs, undefined, where);
          if (r.resources?.includes('secrets')) {
            assert.ok(r.resourceNames?.length, `${where}: secrets without resourceNames`);
            assert.deepEqual(r.verbs, ['get', 'list', 'watch'], where);
          }
          const writes = r.verbs.filter((v) => !['get', 'list', 'watch'].includes(v));
          // Reviews (TokenReview, SubjectAccessReview: the read API's callers) are questions, not writes: create only.
          const review =
            (r.apiGroups ?? []).every((g) => ['authentication.k8s.io', 'authorization.k8s.io'].includes(g)) &&
            (r.resources ?? []).every((x) => ['tokenreviews', 'subjectaccessreviews'].includes(x)) &&
            r.verbs.join() === 'create';
          if (writes.length && !review && !/editor/.test(role.metadata.name)) {
            for (const g of r.apiGroups ?? [])
              assert.ok(
                ['zen.kube-zen.io', 'coordination.k8s.io'].includes(g),
                `${where}: writes ${writes} in ${g || 'core'}`,
              );
          }
        }
      }
    }
  });

  test('the read API port (8081, ZEN_READ_PORT) is reached by port-forward only: no Service or NetworkPolicy opens it', () => {
    const readPort = 8081;
    for (const [name, objs] of renders) {
      for (const d of byKind(objs, 'Deployment'))
        for (const c of podSpec(d).containers) {
          const env = new Map((c.env ?? []).map((e) => [e.name, e.value]));
          assert.ok(
            !env.has('ZEN_READ_PORT') || env.get('ZEN_READ_PORT') === String(readPort),
            `${name}: ZEN_READ_PORT`,
          );
          assert.ok(
            !(c.ports ?? []).some((p) => p.containerPort === readPort),
            `${name}: ${c.name} declares the read port`,
          );
        }
      for (const svc of byKind(objs, 'Service')) {
        const ports = (svc.spec as { ports: { port: number; targetPort?: number | string }[] }).ports;
        for (const p of ports)
          assert.ok(
            p.port !== readPort && p.targetPort !== readPort,
            `${name}: Service ${svc.metadata.name} exposes ${readPort}`,
          );
      }
      const policies = byKind(objs, 'NetworkPolicy');
      for (const np of policies) {
        const ingress = (np.spec as { ingress?: { ports?: { port?: number | string }[] }[] }).ingress ?? [];
        for (const rule of ingress) {
          assert.ok(
            rule.ports?.length,
            `${name}: NetworkPolicy ${np.metadata.name} has an ingress rule for every port`,
          );
          for (const p of rule.ports!)
            assert.ok(p.port !== readPort, `${name}: NetworkPolicy ${np.metadata.name} opens the read port`);
        }
      }
    }
  });

  test("the chart's CRDs are the generated ones (config/crd/bases), byte for byte", () => {
    const bases = join(REPO, 'config/crd/bases');
    const crds = join(CHART, 'crds');
    assert.deepEqual(readdirSync(crds).sort(), readdirSync(bases).sort());
    for (const f of readdirSync(bases))
      assert.equal(readFileSync(join(crds, f), 'utf8'), readFileSync(join(bases, f), 'utf8'), `${f} differs: cp it`);
  });

  test('[PROMETHEUS] adds a ServiceMonitor selecting the webhook Service, and the alert rules', () => {
    const objs = renders.get('kustomize config/default + [PROMETHEUS]')!;
    assert.equal(one(objs, 'PrometheusRule').metadata.namespace, 'zen-system');
    const sm = one(objs, 'ServiceMonitor');
    assert.equal(sm.metadata.namespace, 'zen-system');
    assert.equal(sm.metadata.name, 'zen-watcher-controller-manager-metrics-monitor');
    const svc = one(objs, 'Service');
    const sel = (sm.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    for (const [k, v] of Object.entries(sel)) assert.equal(svc.metadata.labels?.[k], v, k);
  });

  test('values-production: plugin init container, Ingesters, webhook Secret by name, narrowed NetworkPolicy', () => {
    const objs = renders.get('helm values-production')!;
    const spec = podSpec(one(objs, 'Deployment'));
    assert.equal(
      spec.containers[0]!.image,
      'registry.example.com/security/zen-watcher@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    const manager = spec.containers[0]!;
    assert.equal(manager.readinessProbe?.httpGet?.scheme, 'HTTPS');
    assert.equal(envOf(manager).get('ZEN_TLS_CLIENT_CA_FILE')?.value, '/etc/zen-watcher/tls/ca.crt');
    const init = spec.initContainers?.[0];
    assert.deepEqual(init?.command, ['cp', '-R', '/plugin/.', '/plugins/acme-scanner/']);
    assert.deepEqual(
      byKind(objs, 'Ingester').map((i) => `${i.metadata.namespace}/${i.metadata.name}`),
      ['zen-system/falco', 'zen-system/generic'],
    );
    const secrets = one(objs, 'Role', 'zen-watcher-webhook-secrets');
    assert.deepEqual(secrets.rules, [
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['falco-webhook-token'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    assert.equal(one(objs, 'ServiceMonitor').metadata.labels?.release, 'kube-prometheus-stack');
    assert.equal((one(objs, 'PodDisruptionBudget').spec as { minAvailable: number }).minAvailable, 2);
  });

  test('values-sharded: Roles in the watched namespaces only, WATCH_NAMESPACE, image-volume plugin', () => {
    const objs = renders.get('helm values-sharded')!;
    assert.equal(byKind(objs, 'ClusterRole').length + byKind(objs, 'ClusterRoleBinding').length, 0);
    assert.deepEqual(
      byKind(objs, 'Role')
        .map((r) => `${r.metadata.namespace}/${r.metadata.name}`)
        .sort(),
      [
        'team-a/shard-a-zen-watcher-manager-role',
        'team-b/shard-a-zen-watcher-manager-role',
        'zen-system/shard-a-zen-watcher-leader-election-role',
      ],
    );
    const c = podSpec(one(objs, 'Deployment')).containers[0]!;
    assert.equal(envOf(c).get('WATCH_NAMESPACE')?.value, 'team-a,team-b');
    assert.equal(envOf(c).get('ZEN_PLUGIN_DIRS')?.value, '/plugins:/plugin-images/acme-scanner/plugin');
    assert.equal(one(objs, 'Ingester').metadata.namespace, 'team-a');
    const sharded = renders.get('kustomize config/sharded')!;
    assert.equal(byKind(sharded, 'ClusterRoleBinding').length, 0);
    assert.equal(
      envOf(podSpec(one(sharded, 'Deployment')).containers[0]!).get('WATCH_NAMESPACE')?.value,
      'team-a,team-b',
    );
  });

  test('sharding and the optional HPA: ZEN_SHARD_SLOTS from sharding.slots; no HPA by default; with one, no fixed replicas', async () => {
    const defaults = renders.get('helm defaults')!;
    assert.equal(envOf(podSpec(one(defaults, 'Deployment')).containers[0]!).get('ZEN_SHARD_SLOTS')?.value, '16');
    assert.equal(byKind(defaults, 'HorizontalPodAutoscaler').length, 0);
    const objs = await helmTemplate(tools!.helm, {
      set: ['autoscaling.enabled=true', 'autoscaling.maxReplicas=5', 'sharding.slots=32'],
    });
    const d = one(objs, 'Deployment');
    assert.equal((d.spec as { replicas?: number }).replicas, undefined, 'the HPA owns the replica count');
    assert.equal(envOf(podSpec(d).containers[0]!).get('ZEN_SHARD_SLOTS')?.value, '32');
    const hpa = one(objs, 'HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { resource: { name: string } }[];
    };
    assert.deepEqual(hpa.scaleTargetRef.kind, 'Deployment');
    assert.equal(hpa.scaleTargetRef.name, d.metadata.name);
    assert.equal(hpa.minReplicas, 2);
    assert.equal(hpa.maxReplicas, 5);
    assert.deepEqual(hpa.metrics.map((m) => m.resource.name).sort(), ['cpu', 'memory']);
    const bad = await helmTemplateError(tools!.helm, ['autoscaling.enabled=true', 'autoscaling.minReplicas=7']);
    assert.match(bad, /minReplicas must not exceed autoscaling.maxReplicas/);
    assert.match(await helmTemplateError(tools!.helm, ['sharding.slots=0']), /slots/);
  });

  test('helm lint --strict passes with the defaults and both values files', async () => {
    for (const values of [[], ['--values', VALUES('production')], ['--values', VALUES('sharded')]]) {
      const { stdout } = await run(tools!.helm, ['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, ...values]);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('bad values fail at render time, naming the problem', async () => {
    const helm = tools!.helm;
    const cases: [string[], RegExp][] = [
      [['replicaCount=0'], /replicaCount.*minimum|must be >= 1/],
      [['replicas=2'], /additional properties 'replicas' not allowed/],
      [
        ['leaderElection.renewDeadlineSeconds=20'],
        /leaseDurationSeconds \(15\) must be greater than renewDeadlineSeconds/,
      ],
      [
        ['leaderElection.retryPeriodSeconds=9'],
        /renewDeadlineSeconds \(10\) must be greater than 1.2 × retryPeriodSeconds/,
      ],
      [['terminationGracePeriodSeconds=20'], /terminationGracePeriodSeconds \(20\) must exceed/],
      [['watchNamespaces={Team_A}'], /watchNamespaces/],
      [['logLevel=verbose'], /logLevel/],
      [
        [
          'rbac.extraReadRules[0].apiGroups={x}',
          'rbac.extraReadRules[0].resources={things}',
          'rbac.extraReadRules[0].verbs={delete}',
        ],
        /verbs/,
      ],
      [
        [
          'rbac.extraReadRules[0].apiGroups={x}',
          'rbac.extraReadRules[0].resources={*}',
          'rbac.extraReadRules[0].verbs={get}',
        ],
        /resources/,
      ],
      [
        [
          'rbac.extraReadRules[0].apiGroups={""}',
          'rbac.extraReadRules[0].resources={secrets}',
          'rbac.extraReadRules[0].verbs={get}',
        ],
        /resources/,
      ],
      [['image.digest=latest'], /digest/],
      [['ingesters[0].name=x'], /spec/],
      [
        [
          'plugins.fromImages[0].name=a',
          'plugins.fromImages[0].image=i',
          'plugins.fromImages[0].path=/p',
          'plugins.imageVolumes[0].name=a',
          'plugins.imageVolumes[0].reference=i',
        ],
        /used twice/,
      ],
    ];
    for (const [set, want] of cases) assert.match(await helmTemplateError(helm, set), want, set.join(' '));
    // Image volumes need Kubernetes 1.31.
    const stderr = await run(helm, [
      'template',
      'x',
      CHART,
      '--kube-version',
      'v1.30.0',
      '--set',
      'plugins.imageVolumes[0].name=a',
      '--set',
      'plugins.imageVolumes[0].reference=i',
    ]).then(
      () => '',
      (err: { stderr?: string }) => String(err.stderr),
    );
    assert.match(stderr, /needs Kubernetes 1.31/);
  });

  describe('accepted by the real API server (server-side apply, dryRun=All)', { skip: cpSkip }, () => {
    let api: Api;
    before(async () => {
      api = new Api(cp!.server, cp!.token, cp!.caPem);
      for (const ns of ['zen-system', 'team-a', 'team-b']) await api.ensureNamespace(ns);
      // The Prometheus Operator is not installed here: stand-in ServiceMonitor and PrometheusRule CRDs (ours,
      // schema-less) let the API server check the objects' group, version, kind, scope and metadata.
      await api.applyAll(parseObjects(SERVICE_MONITOR_CRD));
      await api.applyAll(parseObjects(PROMETHEUS_RULE_CRD));
      await waitEstablished(api, 'servicemonitors.monitoring.coreos.com');
      await waitEstablished(api, 'prometheusrules.monitoring.coreos.com');
    });

    for (const name of [
      'kustomize config/default',
      'kustomize config/sharded',
      'kustomize config/default + [PROMETHEUS]',
      'helm defaults',
      'helm values-production',
      'helm values-sharded',
    ]) {
      test(name, async () => {
        const objs = renders.get(name)!;
        // Namespaces and CRDs for real first (as kubectl apply does), then everything as a dry run.
        const first = objs.filter((o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition');
        await api.applyAll(first);
        for (const crd of byKind(first, 'CustomResourceDefinition')) await waitEstablished(api, crd.metadata.name);
        const problems: string[] = [];
        for (const o of objs.filter((x) => !first.includes(x))) {
          const r = await api.apply(o, { dryRun: true });
          const id = `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
          if (r.status >= 300)
            problems.push(`${id}: HTTP ${r.status} ${(r.body as { message?: string })?.message ?? r.text}`);
          for (const w of r.warnings) problems.push(`${id}: warning ${w}`);
          // Nothing silently dropped (e.g. a field behind a disabled feature gate): what we sent comes back.
          if (r.status < 300)
            for (const p of missingIn(o.spec, (r.body as KubeObject).spec, 'spec'))
              problems.push(`${id}: dropped ${p}`);
        }
        // Image volumes (values-sharded) need the ImageVolume feature gate, off by default on the test control plane
        // (1.34): that API server drops the volume and its mount, as docs/INSTALL.md warns. Nothing else may differ.
        const gated = problems.filter((p) =>
          /: dropped spec\.template\.spec\.(volumes|containers\[0\]\.volumeMounts)\[2\]$/.test(p),
        );
        if (name === 'helm values-sharded' && gated.length === 2)
          problems.splice(0, problems.length, ...problems.filter((p) => !gated.includes(p)));
        assert.deepEqual(problems, []);
      });
    }
  });
});

/** Paths of leaves in `sent` that are absent or different in `got` (defaults added by the server are fine). */
function missingIn(sent: unknown, got: unknown, path: string): string[] {
  if (sent === null || typeof sent !== 'object') return sent === got || String(sent) === String(got) ? [] : [path];
  if (got === null || typeof got !== 'object') return [path];
  if (Array.isArray(sent)) return sent.flatMap((v, i) => missingIn(v, (got as unknown[])[i], `${path}[${i}]`));
  return Object.entries(sent).flatMap(([k, v]) => missingIn(v, (got as Record<string, unknown>)[k], `${path}.${k}`));
}

async function waitEstablished(api: Api, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const crd = await api.json<{ status?: { conditions?: { type: string; status: string }[] } }>(
      'GET',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
    );
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`CRD ${name} not Established`);
}

const SERVICE_MONITOR_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: { kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
`;

const PROMETHEUS_RULE_CRD = SERVICE_MONITOR_CRD.replace(
  'servicemonitors.monitoring.coreos.com',
  'prometheusrules.monitoring.coreos.com',
).replace(
  '{ kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor }',
  '{ kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule }',
);
