/**
 * The real kube-apiserver + etcd for a test file, with the project's CRDs applied. Without a control plane (no Go,
 * build failure) the caller skips with the reason — except under CI=true, where that is a failure.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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
