/**
 * Every Kubernetes API call zen-watcher makes, as authorization attributes, with the code that makes it: the source
 * of truth for the shipped RBAC (config/rbac, config/rbac-namespaced, the Helm chart) and for the table in
 * docs/INSTALL.md. rbac.test.ts checks that each call is allowed, that the roles grant nothing beyond this table
 * (plus READ_ONLY_EXTRAS), that DENIED is denied, and, from recorded traffic, that the running code calls nothing
 * that is not in the table.
 */

/**
 * Where the call goes: `all` = every namespace at once (cluster-wide installs) or each watched namespace (sharded);
 * `object` = the namespace of the object concerned; `own` = the pod's namespace (POD_NAMESPACE) only.
 */
export type Where = 'all' | 'object' | 'own';

export interface ApiCall {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  where: Where;
  /** Cluster-scoped resource kind (granted only by the ClusterRole, never in sharded installs). */
  clusterScoped?: boolean;
  code: string;
}

const TRIVY = 'plugins/trivy (informer)';
const KYVERNO = 'plugins/kyverno (informer)';

export const CODE_CALLS: readonly ApiCall[] = [
  { verb: 'list', group: 'zen.kube-zen.io', resource: 'ingesters', where: 'all', code: 'core/host/kubernetes.ts' },
  { verb: 'watch', group: 'zen.kube-zen.io', resource: 'ingesters', where: 'all', code: 'core/host/kubernetes.ts' },
  {
    verb: 'patch',
    group: 'zen.kube-zen.io',
    resource: 'ingesters',
    subresource: 'status',
    where: 'object',
    code: 'core/host/kubernetes.ts (status writer, leader)',
  },
  {
    verb: 'create',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    where: 'object',
    code: 'core/sinks/kube-sink.ts',
  },
  {
    verb: 'get',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    where: 'object',
    code: 'core/sinks/kube-sink.ts (previous dedup bucket)',
  },
  {
    verb: 'list',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    where: 'all',
    code: 'core/host/kube-index.ts, core/gc/collector.ts',
  },
  {
    verb: 'watch',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    where: 'all',
    code: "core/host/kube-index.ts (the leader's cache of resolvable Observations)",
  },
  {
    verb: 'delete',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    where: 'object',
    code: 'core/gc/collector.ts (leader)',
  },
  {
    verb: 'patch',
    group: 'zen.kube-zen.io',
    resource: 'observations',
    subresource: 'status',
    where: 'object',
    code: 'core/host/kube-index.ts (resolve, leader), core/destinations/kube-state.ts (status.delivered, leader)',
  },
  {
    verb: 'list',
    group: 'zen.kube-zen.io',
    resource: 'destinations',
    where: 'all',
    code: 'core/destinations/kube-feed.ts',
  },
  {
    verb: 'watch',
    group: 'zen.kube-zen.io',
    resource: 'destinations',
    where: 'all',
    code: 'core/destinations/kube-feed.ts',
  },
  {
    verb: 'patch',
    group: 'zen.kube-zen.io',
    resource: 'destinations',
    subresource: 'status',
    where: 'object',
    code: 'core/destinations/kube-feed.ts, kube-state.ts (status, leader)',
  },
  { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', where: 'own', code: 'core/leader/lease-lock.ts' },
  { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', where: 'own', code: 'core/leader/lease-lock.ts' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', where: 'own', code: 'core/leader/lease-lock.ts' },
  {
    verb: 'list',
    group: 'coordination.k8s.io',
    resource: 'leases',
    where: 'own',
    code: 'core/host/kubernetes.ts (Lease watch, fieldSelector metadata.name)',
  },
  {
    verb: 'watch',
    group: 'coordination.k8s.io',
    resource: 'leases',
    where: 'own',
    code: 'core/host/kubernetes.ts (Lease watch, fieldSelector metadata.name)',
  },
  ...(['list', 'watch'] as const).flatMap((verb): ApiCall[] => [
    { verb, group: 'aquasecurity.github.io', resource: 'vulnerabilityreports', where: 'all', code: TRIVY },
    {
      verb,
      group: 'aquasecurity.github.io',
      resource: 'clustervulnerabilityreports',
      where: 'all',
      clusterScoped: true,
      code: TRIVY,
    },
    { verb, group: 'aquasecurity.github.io', resource: 'configauditreports', where: 'all', code: TRIVY },
    {
      verb,
      group: 'aquasecurity.github.io',
      resource: 'clusterconfigauditreports',
      where: 'all',
      clusterScoped: true,
      code: TRIVY,
    },
    { verb, group: 'aquasecurity.github.io', resource: 'exposedsecretreports', where: 'all', code: TRIVY },
    { verb, group: 'wgpolicyk8s.io', resource: 'policyreports', where: 'all', code: KYVERNO },
    {
      verb,
      group: 'wgpolicyk8s.io',
      resource: 'clusterpolicyreports',
      where: 'all',
      clusterScoped: true,
      code: KYVERNO,
    },
    { verb, group: 'openreports.io', resource: 'reports', where: 'all', code: KYVERNO },
    { verb, group: 'openreports.io', resource: 'clusterreports', where: 'all', clusterScoped: true, code: KYVERNO },
    { verb, group: '', resource: 'events', where: 'all', code: 'plugins/informer (the Kubernetes Events example)' },
  ]),
  // The read API's access control (kube-rbac-proxy's way). Cluster-scoped: a sharded install has no ClusterRole,
  // so its read API answers 503 until an admin binds system:auth-delegator (docs/READ_API.md).
  {
    verb: 'list',
    group: '',
    resource: 'namespaces',
    where: 'all',
    clusterScoped: true,
    code: 'core/shard/namespaces.ts (sharded replicas: the namespaces they own, metadata only)',
  },
  {
    verb: 'watch',
    group: '',
    resource: 'namespaces',
    where: 'all',
    clusterScoped: true,
    code: 'core/shard/namespaces.ts (sharded replicas: the namespaces they own, metadata only)',
  },
  {
    verb: 'create',
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    where: 'all',
    clusterScoped: true,
    code: 'core/readapi/access.ts (read API callers)',
  },
  {
    verb: 'create',
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    where: 'all',
    clusterScoped: true,
    code: 'core/readapi/access.ts (read API callers)',
  },
];

/** Granted although the code never calls it: `get` next to list/watch on what is read anyway (harmless, and what
 * kubectl-style tooling and future single-object reads expect). Everything else granted must be in CODE_CALLS. */
export const READ_ONLY_EXTRAS: readonly ApiCall[] = [
  // Not namespaces: their list + watch (metadata only) is all a sharded replica needs, no get.
  ...CODE_CALLS.filter(
    (c) => c.verb === 'list' && c.where === 'all' && c.resource !== 'observations' && c.resource !== 'namespaces',
  ).map((c): ApiCall => ({ ...c, verb: 'get', code: 'not called; read-only' })),
];

/** Non-resource requests: allowed to every authenticated client by the default system:discovery and
 * system:public-info-viewer ClusterRoles, not by ours. */
export const NON_RESOURCE_CALLS = [
  { path: '/version', code: 'core/kube/client.ts checkReachable' },
  { path: '/apis/aquasecurity.github.io/v1alpha1', code: 'core/kube/client.ts hasResource (discovery)' },
  { path: '/api/v1', code: 'core/kube/client.ts hasResource (discovery, core group)' },
] as const;

/** Things the ServiceAccount must NOT be able to do (namespace `own` = the install's, others literal). */
export const DENIED: readonly { verb: string; group: string; resource: string; subresource?: string; ns?: string }[] = [
  { verb: 'get', group: '', resource: 'secrets', ns: 'own' },
  { verb: 'list', group: '', resource: 'secrets', ns: 'own' },
  { verb: 'watch', group: '', resource: 'secrets' },
  { verb: 'get', group: '', resource: 'secrets', ns: 'kube-system' },
  { verb: 'get', group: '', resource: 'configmaps', ns: 'own' },
  { verb: 'list', group: '', resource: 'pods' },
  { verb: 'get', group: '', resource: 'pods', subresource: 'log', ns: 'own' },
  { verb: 'create', group: '', resource: 'pods', subresource: 'exec', ns: 'own' },
  { verb: 'create', group: '', resource: 'pods', ns: 'own' },
  { verb: 'list', group: '', resource: 'nodes' },
  { verb: 'create', group: '', resource: 'events', ns: 'own' },
  { verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', ns: 'own' },
  { verb: 'impersonate', group: '', resource: 'serviceaccounts', ns: 'own' },
  { verb: 'update', group: 'zen.kube-zen.io', resource: 'observations', ns: 'own' },
  { verb: 'patch', group: 'zen.kube-zen.io', resource: 'observations', ns: 'own' },
  { verb: 'deletecollection', group: 'zen.kube-zen.io', resource: 'observations', ns: 'own' },
  { verb: 'update', group: 'zen.kube-zen.io', resource: 'observations', subresource: 'status', ns: 'own' },
  { verb: 'create', group: 'zen.kube-zen.io', resource: 'ingesters', ns: 'own' },
  { verb: 'update', group: 'zen.kube-zen.io', resource: 'ingesters', ns: 'own' },
  { verb: 'patch', group: 'zen.kube-zen.io', resource: 'ingesters', ns: 'own' },
  { verb: 'delete', group: 'zen.kube-zen.io', resource: 'ingesters', ns: 'own' },
  { verb: 'create', group: 'zen.kube-zen.io', resource: 'destinations', ns: 'own' },
  { verb: 'update', group: 'zen.kube-zen.io', resource: 'destinations', ns: 'own' },
  { verb: 'patch', group: 'zen.kube-zen.io', resource: 'destinations', ns: 'own' },
  { verb: 'update', group: 'zen.kube-zen.io', resource: 'ingesters', subresource: 'status', ns: 'own' },
  { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', ns: 'kube-system' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', ns: 'kube-system' },
  { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', ns: 'default' },
  { verb: 'list', group: 'coordination.k8s.io', resource: 'leases' },
  { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', ns: 'own' },
  { verb: 'patch', group: 'coordination.k8s.io', resource: 'leases', ns: 'own' },
  { verb: 'create', group: 'aquasecurity.github.io', resource: 'vulnerabilityreports', ns: 'own' },
  { verb: 'delete', group: 'aquasecurity.github.io', resource: 'vulnerabilityreports', ns: 'own' },
  { verb: 'update', group: 'wgpolicyk8s.io', resource: 'policyreports', ns: 'own' },
  { verb: 'delete', group: 'openreports.io', resource: 'clusterreports' },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles', ns: 'own' },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', ns: 'own' },
  { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
  { verb: 'update', group: 'apps', resource: 'deployments', ns: 'own' },
  // SubjectAccessReview create is granted since the read API (it asks about its callers); minting tokens is not.
  { verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', ns: 'own' },
  { verb: 'create', group: 'authorization.k8s.io', resource: 'localsubjectaccessreviews', ns: 'own' },
];
