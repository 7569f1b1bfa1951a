/**
 * The built-in rules, used when `config.rules` is not set, in evaluation order (the most specific first, since the
 * first matching rule wins by default). README.md has the same table; a test keeps the two in step.
 */
import type { RuleConfig } from './config.ts';

const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'];

export const DEFAULT_RULES: readonly RuleConfig[] = Object.freeze([
  {
    name: 'authz-denied',
    severity: 'medium',
    title: 'Request denied',
    description: 'The API server refused the request: authorization said forbid, or the response was 403 Forbidden.',
    match: [{ decision: 'forbid' }, { codes: [403] }],
  },
  {
    name: 'privileged-pod',
    severity: 'high',
    title: 'Privileged or host-namespace pod created',
    description:
      'A pod was created with a privileged container or sharing the host network, PID or IPC namespace (also by ' +
      'server-side apply), or a privileged ephemeral container was added to a running pod (kubectl debug). Needs the ' +
      'request body (audit level Request or RequestResponse for pods).',
    match: [
      {
        verbs: ['create'],
        apiGroups: [''],
        resources: ['pods'],
        succeeded: true,
        podSecurity: ['privileged', 'hostNetwork', 'hostPID', 'hostIPC'],
      },
      // Server-side apply (kubectl apply --server-side) creates with PATCH: 201 Created.
      {
        verbs: ['patch'],
        apiGroups: [''],
        resources: ['pods'],
        codes: [201],
        podSecurity: ['privileged', 'hostNetwork', 'hostPID', 'hostIPC'],
      },
      // kubectl debug --profile=sysadmin: a privileged ephemeral container in a running pod.
      {
        verbs: ['update', 'patch'],
        apiGroups: [''],
        resources: ['pods/ephemeralcontainers'],
        succeeded: true,
        podSecurity: ['privileged'],
      },
    ],
  },
  {
    name: 'cluster-admin-binding',
    severity: 'critical',
    title: 'Binding to cluster-admin created',
    description: 'A RoleBinding or ClusterRoleBinding to the cluster-admin ClusterRole was created.',
    match: {
      verbs: ['create'],
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['clusterrolebindings', 'rolebindings'],
      succeeded: true,
      requestObject: { 'roleRef.name': ['cluster-admin'] },
    },
  },
  {
    name: 'pod-exec',
    severity: 'medium',
    title: 'Exec, attach or port-forward into a pod',
    description:
      'An interactive session into a pod was requested (exec, attach or portforward), whether or not it opened; any ' +
      'verb (websocket clients use get, SPDY clients create). Seen at ResponseStarted when the session opens, else ' +
      'at ResponseComplete or Panic: one Observation per request whichever stages the audit policy keeps.',
    match: { apiGroups: [''], resources: ['pods/exec', 'pods/attach', 'pods/portforward'] },
  },
  {
    name: 'impersonation',
    severity: 'medium',
    title: 'Request with impersonation',
    description: 'A user acted as another user or group (Impersonate-User / Impersonate-Group headers).',
    match: { impersonated: true },
  },
  {
    name: 'rbac-change',
    severity: 'medium',
    title: 'RBAC changed',
    description: 'A Role, RoleBinding, ClusterRole or ClusterRoleBinding was created, changed or deleted.',
    match: {
      verbs: WRITE_VERBS,
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'],
      succeeded: true,
    },
    exclude: [
      // The API server reconciles the bootstrap roles at start-up.
      { users: ['system:apiserver'] },
      // Aggregated ClusterRoles (admin, edit, view, ...) are rewritten whenever a CRD adds rules to them.
      {
        users: [
          'system:serviceaccount:kube-system:clusterrole-aggregation-controller',
          'system:kube-controller-manager',
        ],
        verbs: ['update', 'patch'],
        resources: ['clusterroles'],
      },
    ],
  },
  {
    name: 'secret-change',
    severity: 'medium',
    title: 'Secret changed',
    description: 'A Secret was created, changed or deleted.',
    match: { verbs: WRITE_VERBS, apiGroups: [''], resources: ['secrets'], succeeded: true },
    exclude: [
      // Legacy service-account token Secrets written by the token controller.
      {
        users: ['system:kube-controller-manager', 'system:serviceaccount:kube-system:*'],
        names: ['*-token-*'],
      },
    ],
  },
  {
    name: 'configmap-change',
    severity: 'low',
    title: 'ConfigMap changed',
    description: 'A ConfigMap was created, changed or deleted.',
    match: { verbs: WRITE_VERBS, apiGroups: [''], resources: ['configmaps'], succeeded: true },
    exclude: [
      // kube-root-ca.crt in every namespace, leader-election records, node-local state.
      { users: ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver'] },
      { groups: ['system:nodes', 'system:serviceaccounts:kube-system'] },
    ],
  },
  {
    name: 'delete',
    severity: 'low',
    title: 'Resource deleted',
    description: 'An object (or a collection) was deleted.',
    match: { verbs: ['delete', 'deletecollection'], succeeded: true },
    exclude: [
      // Controllers, the scheduler and kubelets delete pods, events and leases all day long.
      { users: ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver'] },
      { groups: ['system:nodes', 'system:serviceaccounts:kube-system'] },
      { resources: ['events', 'leases', 'endpoints', 'endpointslices'] },
    ],
  },
] satisfies RuleConfig[]);
