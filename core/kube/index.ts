/** Kubernetes access for the host: config, reachability, discovery, a thin object API, informers. See README.md. */
export {
  createKubeApi,
  type KubeApi,
  type KubeList,
  type KubeObject,
  type ListParams,
  type NameParams,
  type PatchType,
  type ResourceRef,
} from './api.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export {
  checkReachable,
  connectionFor,
  DISCOVERY_CACHE_MS,
  hasResource,
  KubeConfigError,
  KubeUnreachableError,
  type LoadKubeConfigOptions,
  loadKubeConfig,
} from './client.ts';
export { type PooledClient, pooledClient } from './connection.ts';
export {
  createInformer,
  defaultClock,
  gvrString,
  type InformerDeps,
  type InformerMetrics,
  type InformerTiming,
  type KubeClock,
  type KubeLog,
  noInformerMetrics,
  type RestartReason,
} from './informer.ts';
export {
  apiError,
  errorText,
  groupVersionPath,
  KUBE_USER_AGENT,
  KubeConnection,
  type KubeConnectionOptions,
  type KubeRequest,
  KubeTransportError,
  resourcePath,
  statusOf,
} from './request.ts';
export { type Delta, keyOf, ObjectStore } from './store.ts';
export { type WatchEnd, type WatchParams, type WatchResult, watchOnce } from './watch.ts';
