/**
 * Test helpers for the API server side: which audit level a Policy gives a request (the first matching rule, as
 * k8s.io/apiserver `pkg/audit/policy/checker.go` decides), and which URL a webhook kubeconfig posts to.
 */

export type Level = 'None' | 'Metadata' | 'Request' | 'RequestResponse';
const LEVELS: readonly Level[] = ['None', 'Metadata', 'Request', 'RequestResponse'];

export function atLeast(level: Level, min: Level): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(min);
}

export interface PolicyRequest {
  user: string;
  groups?: string[];
  verb: string;
  /** Resource requests: group ('' core), resource, optional subresource/namespace/name. */
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Non-resource requests: the URL path. */
  path?: string;
}

interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}

interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: string[];
}

export interface Policy {
  apiVersion?: string;
  kind?: string;
  rules: PolicyRule[];
  omitStages?: string[];
}

function matchesResource(r: PolicyRule, q: PolicyRequest): boolean {
  if (q.resource === undefined) return false;
  if (r.namespaces?.length && !r.namespaces.includes(q.namespace ?? '')) return false;
  if (!r.resources?.length) return true;
  const combined = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  for (const gr of r.resources) {
    if ((gr.group ?? '') !== (q.group ?? '')) continue;
    if (!gr.resources?.length) return true;
    for (const res of gr.resources) {
      if (gr.resourceNames?.length && !gr.resourceNames.includes(q.name ?? '')) continue;
      if (res === combined || res === '*') return true;
      if (q.subresource && res.startsWith('*/') && q.subresource === res.slice(2)) return true;
      if (res.endsWith('/*') && q.resource === res.slice(0, -2)) return true;
    }
  }
  return false;
}

function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

function ruleMatches(r: PolicyRule, q: PolicyRequest): boolean {
  if (r.users?.length && !r.users.includes(q.user)) return false;
  if (r.userGroups?.length && !(q.groups ?? []).some((g) => r.userGroups!.includes(g))) return false;
  if (r.verbs?.length && !r.verbs.includes(q.verb)) return false;
  if (r.namespaces?.length || r.resources?.length) return matchesResource(r, q);
  if (r.nonResourceURLs?.length) {
    if (q.resource !== undefined || q.path === undefined) return false;
    return r.nonResourceURLs.some((spec) => pathMatches(q.path!, spec));
  }
  return true;
}

/** The level and omitted stages the policy gives a request (None when no rule matches). */
export function policyFor(policy: Policy, q: PolicyRequest): { level: Level; omitStages: string[] } {
  for (const r of policy.rules) {
    if (ruleMatches(r, q))
      return { level: r.level, omitStages: [...(policy.omitStages ?? []), ...(r.omitStages ?? [])] };
  }
  return { level: 'None', omitStages: [] };
}

export interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Array<{ name: string; cluster: { server?: string; 'certificate-authority'?: string } }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: { cluster: string; user?: string } }>;
  'current-context'?: string;
}

/** The webhook target of a kubeconfig as the API server reads it: current-context → cluster → server (+ user). */
export function webhookTarget(k: Kubeconfig): { server: string; url: URL; user?: string; userFound: boolean } {
  const ctx = k.contexts?.find((c) => c.name === k['current-context']);
  if (!ctx) throw new Error(`current-context '${k['current-context']}' is not in contexts`);
  const cluster = k.clusters?.find((c) => c.name === ctx.context.cluster);
  if (!cluster?.cluster.server) throw new Error(`cluster '${ctx.context.cluster}' is not in clusters or has no server`);
  const server = cluster.cluster.server;
  const user = ctx.context.user || undefined;
  return {
    server,
    // `$PLACEHOLDER` hosts (templates) are not valid URL hosts: parse with a stand-in.
    url: new URL(server.replace(/\$[A-Z_]+/g, 'placeholder')),
    ...(user !== undefined ? { user } : {}),
    userFound: user === undefined || (k.users ?? []).some((u) => u.name === user),
  };
}
