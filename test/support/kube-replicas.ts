/**
 * The setup the Kubernetes-mode webhook tests share (test/kube webhook-lifecycle, occurrences, replay, sink-refusals):
 * a client of the test control plane, a namespace of the test's own, webhook Ingesters in it, and zen-watcher
 * replicas in kubernetes mode (each with its own data dir) that serve a route before the tests start. `close()` stops
 * the replicas, closes the client and removes the data dirs.
 */
import type { KubeApi } from '../../core/kube/api.ts';
import type { ControlPlane } from '../controlplane/harness.ts';
import { adminKubeApi, ensureNamespaces } from './control-plane.ts';
import { cleanup, type HostProcess, startHostProcess, tempDir } from './host.ts';
import { waitFor } from './wait.ts';

export const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
export const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };

export interface KubeReplicasOptions {
  namespace: string;
  /** ZEN_LEADER_ELECTION_ID of the replicas. */
  electionId: string;
  /** A webhook route (e.g. /ingest/falco) every replica must serve (GET → 405) before `start` returns it. */
  route: string;
  /** More environment of every replica (flush interval, write pacing, WATCH_NAMESPACE...). */
  env?: Record<string, string>;
}

export interface KubeReplicas {
  readonly api: KubeApi;
  /** Creates a webhook Ingester `name` in the namespace with this spec. */
  ingester(name: string, spec: Record<string, unknown>): Promise<void>;
  /** Starts one replica (POD_NAME `podName`) and waits until it serves the route; close() stops it. */
  start(podName: string): Promise<HostProcess>;
  /** Starts the replicas one after the other, then waits until each serves the route. */
  startAll(podNames: string[]): Promise<HostProcess[]>;
  close(): Promise<void>;
}

/** A client of `cp` and the namespace `opts.namespace`, created; no replica runs yet. */
export async function kubeReplicas(cp: ControlPlane, opts: KubeReplicasOptions): Promise<KubeReplicas> {
  const api = adminKubeApi(cp);
  const { namespace } = opts;
  await ensureNamespaces(api, namespace).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  const started: HostProcess[] = [];
  const dirs: string[] = [];
  const launch = async (podName: string) => {
    const data = tempDir('zw-unused-');
    dirs.push(data);
    const p = await startHostProcess(
      {
        ZEN_MODE: 'kubernetes',
        KUBECONFIG: cp.kubeconfigPath,
        POD_NAMESPACE: namespace,
        POD_NAME: podName,
        ZEN_LEADER_ELECTION_ID: opts.electionId,
        ZEN_DATA_DIR: data,
        ...opts.env,
      },
      60_000,
    );
    started.push(p);
    return p;
  };
  const serving = (p: HostProcess) =>
    waitFor(`${p.url} serves ${opts.route}`, async () => (await fetch(`${p.url}${opts.route}`)).status === 405);
  return {
    api,
    ingester: async (name, spec) => {
      await api.create({
        ...ING,
        namespace,
        body: { apiVersion: 'zen.kube-zen.io/v1alpha1', kind: 'Ingester', metadata: { name, namespace }, spec },
      });
    },
    start: async (podName) => {
      const p = await launch(podName);
      await serving(p);
      return p;
    },
    startAll: async (podNames) => {
      const procs: HostProcess[] = [];
      for (const name of podNames) procs.push(await launch(name));
      for (const p of procs) await serving(p);
      return procs;
    },
    close: async () => {
      await Promise.all(started.map((p) => p.stop()));
      await api.close();
      cleanup(...dirs);
    },
  };
}
