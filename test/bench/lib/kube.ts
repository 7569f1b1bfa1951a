/**
 * The real control plane for the kubernetes parts (test/support controlPlaneOrSkip: kube-apiserver + etcd, the
 * project's CRDs applied), plus the Trivy CRD from the real corpus, namespaces, and zen-watcher replicas in
 * kubernetes mode. Started once per bench run, on first use.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { type PooledClient, pooledClient } from '../../../core/kube/connection.ts';
import type { ControlPlane } from '../../controlplane/harness.ts';
import { controlPlaneOrSkip } from '../../support/control-plane.ts';
import { realFixturesDir } from '../../support/fixtures.ts';
import { REPO, startHostProcess, tempDir } from '../../support/host.ts';
import { waitForWith } from '../../support/wait.ts';
import { cpuSeconds, profileEnv, UNLIMITED_ENV, withCleanup, type Zen } from './procs.ts';

export const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
export const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
export const VULN = { group: 'aquasecurity.github.io', version: 'v1alpha1', plural: 'vulnerabilityreports' };
export const ZEN_NS = 'zen-bench';

export interface KubeBench {
  cp: ControlPlane;
  kubeconfig: string;
  kc: KubeConfig;
  /** Clients on one reused connection pool each (helpers, not what is measured). */
  custom: PooledClient<CustomObjectsApi>;
  core: PooledClient<CoreV1Api>;
  coordination: PooledClient<CoordinationV1Api>;
  /** Why the Trivy CRD could not be applied, or undefined when it is served. */
  trivyCrdProblem: string | undefined;
  newNamespace(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

/** The control plane, or the reason there is none (the kubernetes parts then skip with it). */
export async function startKubeBench(): Promise<KubeBench | string> {
  process.stderr.write('  starting the test control plane (kube-apiserver + etcd)…\n');
  const { cp, skip } = await controlPlaneOrSkip();
  if (!cp) return skip ?? 'no control plane';
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const custom = pooledClient(kc, CustomObjectsApi, 'zen-bench');
  const core = pooledClient(kc, CoreV1Api, 'zen-bench');
  const coordination = pooledClient(kc, CoordinationV1Api, 'zen-bench');
  let n = 0;
  const newNamespace = async (prefix: string) => {
    const name = `${prefix}-${Date.now().toString(36)}-${n++}`;
    await core.api.createNamespace({ body: { metadata: { name } } });
    return name;
  };
  await core.api.createNamespace({ body: { metadata: { name: ZEN_NS } } }).catch(() => {});
  const trivyCrdProblem = await applyTrivyCrd(kc).catch(
    (err: Error) => `applying the Trivy CRD failed: ${err.message}`,
  );
  return {
    cp,
    kubeconfig: cp.kubeconfigPath,
    kc,
    custom,
    core,
    coordination,
    trivyCrdProblem,
    newNamespace,
    stop: async () => {
      await Promise.all([custom.close(), core.close(), coordination.close()]);
      await cp.stop();
    },
  };
}

async function applyTrivyCrd(kc: KubeConfig): Promise<string | undefined> {
  const root = realFixturesDir();
  if (!root) return 'real fixture corpus not found (ZEN_REAL_FIXTURES), so no Trivy CRD';
  const crd = parse(
    readFileSync(join(root, 'trivy/crd-vulnerabilityreports.aquasecurity.github.io.yaml'), 'utf8'),
  ) as V1CustomResourceDefinition;
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
    await sleep(100);
  }
  return 'the Trivy CRD did not become Established within 30 s';
}

/** Starts counting the API server's CPU; the result gives the cores it used since (NaN for an external cluster). */
export function apiServerCpu(k: KubeBench): () => number {
  const pid = k.cp.pid;
  if (pid === undefined) return () => Number.NaN;
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  return () => (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
}

export interface ReplicaOptions {
  name: string;
  electionId: string;
  env?: Record<string, string>;
  plugins?: string[];
  profileDir?: string;
}

/** zen-watcher in kubernetes mode against the bench control plane (POD_NAMESPACE zen-bench). */
export async function startReplica(k: KubeBench, o: ReplicaOptions): Promise<Zen> {
  const dataDir = tempDir('zw-bench-unused-');
  const p = await startHostProcess(
    {
      ZEN_MODE: 'kubernetes',
      KUBECONFIG: k.kubeconfig,
      POD_NAMESPACE: ZEN_NS,
      POD_NAME: o.name,
      ZEN_LEADER_ELECTION_ID: o.electionId,
      ZEN_DATA_DIR: dataDir,
      ...UNLIMITED_ENV,
      ...(o.plugins?.length ? { ZEN_PLUGIN_DIRS: o.plugins.join(':') } : {}),
      ...profileEnv(o.profileDir),
      ...o.env,
    },
    60_000,
    { asNpmStart: true }, // bin/zen-watcher.js with the start script's V8 flags, as `npm start` and the image
  );
  return withCleanup(Object.assign(p, { dataDir }), dataDir);
}

export const LEADER_RECORDER = join(REPO, 'test/fixtures/plugins/leader-recorder');

export async function isLeader(url: string): Promise<boolean> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return /^zen_watcher_leader\{[^}]*\} 1$/m.test(text);
  } catch {
    return false;
  }
}

export const waitFor = waitForWith({ timeoutMs: 60_000 });

/** Observations in every namespace. */
export function countAllObservations(k: KubeBench): Promise<number> {
  return countObjects(k, OBS, undefined);
}

/**
 * Deletes every Observation in the namespaces whose names start with one of `prefixes` (names from newNamespace)
 * and waits until they are gone: what one measurement left behind does not weigh on the next.
 */
export async function clearObservations(k: KubeBench, prefixes: readonly string[]): Promise<number> {
  const namespaces = (await k.core.api.listNamespace()).items
    .map((n) => n.metadata?.name ?? '')
    .filter((name) => prefixes.some((p) => name.startsWith(`${p}-`)));
  let n = 0;
  for (const namespace of namespaces) {
    n += await countObjects(k, OBS, namespace);
    await k.custom.api.deleteCollectionNamespacedCustomObject({ ...OBS, namespace });
  }
  await waitFor(
    'the Observations to be deleted',
    async () => {
      for (const namespace of namespaces) if ((await countObjects(k, OBS, namespace)) > 0) return false;
      return true;
    },
    180_000,
    500,
  );
  return n;
}

/** Objects of `gvr` in `namespace`, or in every namespace when it is undefined (paged lists). */
export async function countObjects(
  k: KubeBench,
  gvr: { group: string; version: string; plural: string },
  namespace: string | undefined,
  labelSelector?: string,
): Promise<number> {
  let n = 0;
  let _continue: string | undefined;
  do {
    const query = {
      ...gvr,
      limit: 500,
      ...(labelSelector ? { labelSelector } : {}),
      ...(_continue ? { _continue } : {}),
    };
    const page = (await (namespace === undefined
      ? k.custom.api.listClusterCustomObject(query)
      : k.custom.api.listNamespacedCustomObject({ ...query, namespace }))) as {
      items: unknown[];
      metadata?: { continue?: string };
    };
    n += page.items.length;
    _continue = page.metadata?.continue || undefined;
  } while (_continue);
  return n;
}

/** An Observation shaped like the ones the pipeline writes for a Falco alert (labels, annotations, spec). */
export function observationBody(namespace: string, i: number, source = 'bench') {
  const now = new Date().toISOString();
  const hex = i.toString(16).padStart(16, '0');
  return {
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Observation',
    metadata: {
      name: `${source}-${hex}`,
      namespace,
      labels: {
        source,
        severity: 'critical',
        category: 'security',
        'app.kubernetes.io/managed-by': 'zen-watcher',
        'zen.kube-zen.io/ingester': 'bench',
        'zen.kube-zen.io/ingester-namespace': namespace,
      },
      annotations: { 'zen.kube-zen.io/first-seen': now },
    },
    spec: {
      source,
      category: 'security',
      severity: 'critical',
      eventType: 'runtime_alert',
      title: 'Terminal shell in container',
      message:
        '13:44:05.478445995: Critical A shell was spawned in a container with an attached terminal (user=root user_loginuid=-1 k8s.ns=default k8s.pod=kubecon container=ee97d9c4186f shell=sh parent=runc cmdline=sh -c clear; (bash || ash || sh) terminal=34816 container_id=ee97d9c4186f image=docker.io/library/alpine)',
      resource: { apiVersion: 'v1', kind: 'Pod', name: `kubecon-${i}`, namespace },
      details: {
        rule: 'Terminal shell in container',
        priority: 'Critical',
        source: 'syscall',
        hostname: 'falco-xczjd',
        tags: ['container', 'mitre_execution', 'shell'],
        outputFields: {
          'container.id': 'ee97d9c4186f',
          'k8s.ns.name': 'default',
          'k8s.pod.name': `kubecon-${i}`,
          'proc.cmdline': 'sh -c clear; (bash || ash || sh)',
          'proc.name': 'sh',
          'user.name': 'root',
        },
      },
      fingerprint: `${hex}${'0'.repeat(48)}`,
      detectedAt: now,
      ttlSecondsAfterCreation: 604_800,
    },
  };
}
