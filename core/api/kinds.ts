/**
 * The kind of a built-in Kubernetes resource, from its API group and plural resource name: what a source that only
 * sees `pods` or `deployments` (audit objectRefs, Falco's `ka.target.resource`) needs for `resource.kind`. One table
 * for every plugin (plugin API 1.2.0). Custom resources are not in it: their kind comes from the object or stays unset.
 */

/** API group ('' = core) → the version to use when only the group is known, and plural resource → kind. */
const BUILTIN_KINDS: Readonly<Record<string, { version: string; kinds: Readonly<Record<string, string>> }>> = {
  '': {
    version: 'v1',
    kinds: {
      bindings: 'Binding',
      componentstatuses: 'ComponentStatus',
      configmaps: 'ConfigMap',
      endpoints: 'Endpoints',
      events: 'Event',
      limitranges: 'LimitRange',
      namespaces: 'Namespace',
      nodes: 'Node',
      persistentvolumeclaims: 'PersistentVolumeClaim',
      persistentvolumes: 'PersistentVolume',
      pods: 'Pod',
      podtemplates: 'PodTemplate',
      replicationcontrollers: 'ReplicationController',
      resourcequotas: 'ResourceQuota',
      secrets: 'Secret',
      serviceaccounts: 'ServiceAccount',
      services: 'Service',
    },
  },
  apps: {
    version: 'v1',
    kinds: {
      controllerrevisions: 'ControllerRevision',
      daemonsets: 'DaemonSet',
      deployments: 'Deployment',
      replicasets: 'ReplicaSet',
      statefulsets: 'StatefulSet',
    },
  },
  batch: { version: 'v1', kinds: { cronjobs: 'CronJob', jobs: 'Job' } },
  autoscaling: { version: 'v2', kinds: { horizontalpodautoscalers: 'HorizontalPodAutoscaler' } },
  policy: { version: 'v1', kinds: { poddisruptionbudgets: 'PodDisruptionBudget' } },
  'rbac.authorization.k8s.io': {
    version: 'v1',
    kinds: {
      clusterrolebindings: 'ClusterRoleBinding',
      clusterroles: 'ClusterRole',
      rolebindings: 'RoleBinding',
      roles: 'Role',
    },
  },
  'networking.k8s.io': {
    version: 'v1',
    kinds: { ingressclasses: 'IngressClass', ingresses: 'Ingress', networkpolicies: 'NetworkPolicy' },
  },
  'storage.k8s.io': {
    version: 'v1',
    kinds: {
      csidrivers: 'CSIDriver',
      csinodes: 'CSINode',
      storageclasses: 'StorageClass',
      volumeattachments: 'VolumeAttachment',
    },
  },
  'admissionregistration.k8s.io': {
    version: 'v1',
    kinds: {
      mutatingwebhookconfigurations: 'MutatingWebhookConfiguration',
      validatingadmissionpolicies: 'ValidatingAdmissionPolicy',
      validatingadmissionpolicybindings: 'ValidatingAdmissionPolicyBinding',
      validatingwebhookconfigurations: 'ValidatingWebhookConfiguration',
    },
  },
  'apiextensions.k8s.io': { version: 'v1', kinds: { customresourcedefinitions: 'CustomResourceDefinition' } },
  'apiregistration.k8s.io': { version: 'v1', kinds: { apiservices: 'APIService' } },
  'authentication.k8s.io': { version: 'v1', kinds: { tokenreviews: 'TokenReview' } },
  'authorization.k8s.io': {
    version: 'v1',
    kinds: {
      localsubjectaccessreviews: 'LocalSubjectAccessReview',
      selfsubjectaccessreviews: 'SelfSubjectAccessReview',
      selfsubjectrulesreviews: 'SelfSubjectRulesReview',
      subjectaccessreviews: 'SubjectAccessReview',
    },
  },
  'certificates.k8s.io': { version: 'v1', kinds: { certificatesigningrequests: 'CertificateSigningRequest' } },
  'coordination.k8s.io': { version: 'v1', kinds: { leases: 'Lease' } },
  'discovery.k8s.io': { version: 'v1', kinds: { endpointslices: 'EndpointSlice' } },
  'events.k8s.io': { version: 'v1', kinds: { events: 'Event' } },
  'node.k8s.io': { version: 'v1', kinds: { runtimeclasses: 'RuntimeClass' } },
  'scheduling.k8s.io': { version: 'v1', kinds: { priorityclasses: 'PriorityClass' } },
  'zen.kube-zen.io': { version: 'v1alpha1', kinds: { ingesters: 'Ingester', observations: 'Observation' } },
  // Removed from the API server (1.16 / 1.22 / 1.25), still named by old audit events and rules: kind only.
  extensions: {
    version: 'v1beta1',
    kinds: {
      daemonsets: 'DaemonSet',
      deployments: 'Deployment',
      ingresses: 'Ingress',
      networkpolicies: 'NetworkPolicy',
      podsecuritypolicies: 'PodSecurityPolicy',
      replicasets: 'ReplicaSet',
    },
  },
};
// policy/v1beta1 PodSecurityPolicy (removed in 1.25): known by kind in its group, never chosen by resource name alone.
const POLICY_V1BETA1: Readonly<Record<string, string>> = { podsecuritypolicies: 'PodSecurityPolicy' };

/** The kind of a built-in resource in API group `group` ('' = core), e.g. ('apps', 'deployments') → Deployment. */
export function builtinKind(group: string, resource: string): string | undefined {
  const table = Object.hasOwn(BUILTIN_KINDS, group) ? BUILTIN_KINDS[group] : undefined;
  const kind = table && Object.hasOwn(table.kinds, resource) ? table.kinds[resource] : undefined;
  if (kind) return kind;
  return group === 'policy' && Object.hasOwn(POLICY_V1BETA1, resource) ? POLICY_V1BETA1[resource] : undefined;
}

/**
 * apiVersion and kind of a built-in resource named by its plural alone (no group): the served group wins over a
 * removed one (`deployments` → apps/v1, not extensions), the core group over events.k8s.io (`events` → v1 Event).
 */
export function builtinResource(resource: string): { apiVersion: string; kind: string } | undefined {
  const found = byResource().get(resource);
  return found ? { ...found } : undefined;
}

let resources: Map<string, { apiVersion: string; kind: string }> | undefined;
/** Plural → the first served group's apiVersion and kind, built once (it is looked up for every Falco alert). */
function byResource(): Map<string, { apiVersion: string; kind: string }> {
  if (resources) return resources;
  resources = new Map();
  for (const [group, table] of Object.entries(BUILTIN_KINDS)) {
    if (group === 'extensions') continue;
    for (const [resource, kind] of Object.entries(table.kinds)) {
      if (!resources.has(resource))
        resources.set(resource, { apiVersion: group ? `${group}/${table.version}` : table.version, kind });
    }
  }
  return resources;
}
