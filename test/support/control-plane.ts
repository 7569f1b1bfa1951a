/**
 * The real kube-apiserver + etcd for a test file, with the project's CRDs applied. Without a control plane (no Go,
 * build failure) the caller skips with the reason — except under CI=true, where that is a failure.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi, type KubeApi, statusOf } from '../../core/kube/index.ts';
import type { ControlPlane } from '../controlplane/harness.ts';
import { REPO, tempDir } from './host.ts';

export async function controlPlaneOrSkip(): Promise<{ cp?: ControlPlane; skip?: string }> {
  try {
    const { startControlPlane } = await import('../controlplane/harness.ts');
    return { cp: await startControlPlane({ crdDir: join(REPO, 'config/crd/bases') }) };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skip: `no test control plane (${(err as Error).message}); set ZEN_TEST_KUBECONFIG or install Go` };
  }
}

/** A copy of the admin kubeconfig whose server is 127.0.0.1:<port> (e.g. a TcpProxy in front of the API server). */
export function kubeconfigVia(cp: ControlPlane, port: number): string {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const text = readFileSync(cp.kubeconfigPath, 'utf8').replace(
    /https:\/\/127\.0\.0\.1:\d+/g,
    `https://127.0.0.1:${port}`,
  );
  const file = join(tempDir('zw-kc-'), 'kubeconfig');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

export function serverPort(cp: ControlPlane): number {
  return Number(new URL(cp.server).port);
}

/** A client of the control plane as its admin (the harness's kubeconfig). The caller closes it. */
export function adminKubeApi(cp: ControlPlane): KubeApi {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return createKubeApi(kc);
}

/**
 * Creates the namespaces that do not exist yet. Only "already exists" (409) is taken as done: any other refusal
 * (the API server down, a bad name) fails the caller, instead of surfacing later as a confusing missing namespace.
 */
export async function ensureNamespaces(api: KubeApi, ...names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name } } });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }
}
