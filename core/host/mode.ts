/** The run mode: kubernetes or standalone, and why (DESIGN §3). */
import type { RunMode } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';

/** Chooses the run mode and says why; kubernetes mode is never silently replaced by standalone. */
export function resolveMode(env: Readonly<HostEnv>): { mode: RunMode; why: string } {
  if (env.mode === 'standalone') return { mode: 'standalone', why: 'ZEN_MODE=standalone' };
  if (env.mode === 'kubernetes') return { mode: 'kubernetes', why: 'ZEN_MODE=kubernetes' };
  if (env.inCluster)
    return { mode: 'kubernetes', why: 'running in a pod (KUBERNETES_SERVICE_HOST is set) and ZEN_MODE is unset' };
  return {
    mode: 'standalone',
    why: 'no in-cluster credentials and ZEN_MODE is unset (set ZEN_MODE=kubernetes to use a kubeconfig)',
  };
}
