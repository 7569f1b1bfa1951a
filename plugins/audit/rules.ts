/**
 * Rules: which audit events become Observations. A rule has a name, a severity, the stages it looks at, a `match`
 * (one matcher, or a list meaning "any of") and optional `exclude` matchers. Inside one matcher every field that is
 * set must hold (AND); inside one field's list any entry may hold (OR). Rules are tried in order; with
 * `matchPolicy: first` (default) the first rule that matches wins, with `all` every matching rule gives an
 * Observation. Config shapes and defaults: config.ts; the built-in rules: default-rules.ts.
 */
import {
  AUDIT_DECISION,
  AUDIT_TRUNCATED,
  type MatcherConfig,
  type PodFeature,
  type ResolvedConfig,
  type RuleConfig,
} from './config.ts';
import { type AuditEvent, isObject } from './event.ts';

// ---------------------------------------------------------------------------------------------------------------
// Matching

type Outcome = { kind: 'match'; features: PodFeature[] } | { kind: 'no' } | { kind: 'unknown'; why: string };
const NO: Outcome = { kind: 'no' };
/** A match without pod features (the usual one): one shared answer, not an object and an array per event. */
const MATCH: Outcome = Object.freeze({ kind: 'match', features: Object.freeze([]) as unknown as PodFeature[] });

export type Matcher = (ev: AuditEvent) => Outcome;

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

function globList(list: readonly string[]): (v: string) => boolean {
  const exact = new Set(list.filter((g) => !g.includes('*')));
  const res = list.filter((g) => g.includes('*')).map(globToRegExp);
  return (v) => {
    if (exact.has(v)) return true;
    for (const r of res) if (r.test(v)) return true;
    return false;
  };
}

function exactList(list: readonly string[]): (v: string) => boolean {
  if (list.includes('*')) return () => true;
  const set = new Set(list);
  return (v) => set.has(v);
}

/**
 * As the audit policy matches resources (k8s.io/apiserver policy checker): `pods` is the resource without a
 * subresource, `pods/exec` one subresource, `*\/exec` that subresource of any resource, `pods/*` the resource and all
 * its subresources, `*` anything.
 */
function resourceList(list: readonly string[]): (resource: string, sub: string | undefined) => boolean {
  const tests = list.map((entry) => {
    if (entry === '*') return () => true;
    const slash = entry.indexOf('/');
    if (slash < 0) return (r: string, s: string | undefined) => s === undefined && r === entry;
    const [er, es] = [entry.slice(0, slash), entry.slice(slash + 1)];
    if (es === '*') return (r: string) => er === '*' || er === r;
    return (r: string, s: string | undefined) => s === es && (er === '*' || er === r);
  });
  return (r, s) => {
    for (const t of tests) if (t(r, s)) return true;
    return false;
  };
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The pod spec inside a Pod, a workload template (Deployment, Job, ...) or a CronJob's job template. */
export function podSpecOf(obj: unknown): Record<string, unknown> | undefined {
  if (!isObject(obj) || !isObject(obj.spec)) return undefined;
  const spec = obj.spec;
  if (Array.isArray(spec.containers)) return spec;
  // A patch of pods/ephemeralcontainers: `{spec: {ephemeralContainers: [...]}}`.
  if (Array.isArray(spec.ephemeralContainers)) return spec;
  const tpl = isObject(spec.template) ? spec.template.spec : undefined;
  if (isObject(tpl) && Array.isArray(tpl.containers)) return tpl;
  const job = isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec) ? spec.jobTemplate.spec : undefined;
  const jobTpl = job && isObject(job.template) ? job.template.spec : undefined;
  if (isObject(jobTpl) && Array.isArray(jobTpl.containers)) return jobTpl;
  return undefined;
}

export function podFeatures(spec: Record<string, unknown>): PodFeature[] {
  const out: PodFeature[] = [];
  const containers = [
    ...asArray(spec.containers),
    ...asArray(spec.initContainers),
    ...asArray(spec.ephemeralContainers),
  ];
  if (containers.some((c) => isObject(c) && isObject(c.securityContext) && c.securityContext.privileged === true)) {
    out.push('privileged');
  }
  if (spec.hostNetwork === true) out.push('hostNetwork');
  if (spec.hostPID === true) out.push('hostPID');
  if (spec.hostIPC === true) out.push('hostIPC');
  if (asArray(spec.volumes).some((v) => isObject(v) && isObject(v.hostPath))) out.push('hostPath');
  return out;
}

/** Dot path with numeric segments for array indexes: `roleRef.name`, `subjects.0.name`. */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (Array.isArray(cur) && /^[0-9]+$/.test(seg)) cur = cur[Number(seg)];
    else if (isObject(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Compile one matcher. Conditions on the request body say `unknown` when the event has no (full) body. */
export function compileMatcher(m: MatcherConfig): Matcher {
  const checks: Array<(ev: AuditEvent) => boolean> = [];
  if (m.verbs) {
    const t = exactList(m.verbs);
    checks.push((ev) => t(ev.verb));
  }
  if (m.apiGroups) {
    const t = exactList(m.apiGroups);
    checks.push((ev) => ev.objectRef !== undefined && t(ev.objectRef.group));
  }
  if (m.resources) {
    const t = resourceList(m.resources);
    checks.push((ev) => ev.objectRef?.resource !== undefined && t(ev.objectRef.resource, ev.objectRef.subresource));
  }
  if (m.namespaces) {
    const t = globList(m.namespaces);
    checks.push((ev) => ev.objectRef !== undefined && t(ev.objectRef.namespace ?? ''));
  }
  if (m.names) {
    const t = globList(m.names);
    checks.push((ev) => ev.objectRef?.name !== undefined && t(ev.objectRef.name));
  }
  if (m.users) {
    const t = globList(m.users);
    checks.push((ev) => ev.user.username !== undefined && t(ev.user.username));
  }
  if (m.groups) {
    const t = globList(m.groups);
    checks.push((ev) => ev.user.groups.some(t));
  }
  if (m.userAgents) {
    const t = globList(m.userAgents);
    checks.push((ev) => ev.userAgent !== undefined && t(ev.userAgent));
  }
  if (m.decision !== undefined) {
    const d = m.decision;
    checks.push((ev) => ev.annotations[AUDIT_DECISION] === d);
  }
  if (m.codes) {
    const set = new Set(m.codes);
    checks.push((ev) => ev.responseStatus?.code !== undefined && set.has(ev.responseStatus.code));
  }
  if (m.succeeded !== undefined) {
    const want = m.succeeded;
    checks.push((ev) => ev.responseStatus?.code !== undefined && ev.responseStatus.code < 400 === want);
  }
  if (m.impersonated !== undefined) {
    const want = m.impersonated;
    checks.push((ev) => (ev.impersonatedUser !== undefined) === want);
  }
  const wantFeatures = m.podSecurity;
  const objectFields = m.requestObject
    ? Object.entries(m.requestObject).map(([path, values]) => [path, globList(values)] as const)
    : undefined;
  return (ev) => {
    for (const c of checks) if (!c(ev)) return NO;
    if (!wantFeatures && !objectFields) return MATCH;
    let features: PodFeature[] = [];
    const body = ev.requestObject;
    if (ev.annotations[AUDIT_TRUNCATED] === 'true') return { kind: 'unknown', why: 'request_truncated' };
    if (!isObject(body)) return { kind: 'unknown', why: 'no_request_object' };
    if (wantFeatures) {
      const spec = podSpecOf(body);
      if (!spec) return { kind: 'unknown', why: 'no_pod_spec' };
      features = podFeatures(spec).filter((f) => wantFeatures.includes(f));
      if (features.length === 0) return NO;
    }
    if (objectFields) {
      for (const [path, test] of objectFields) {
        const text = scalarText(readPath(body, path));
        if (text === undefined || !test(text)) return NO;
      }
    }
    return { kind: 'match', features };
  };
}

export interface CompiledRule {
  readonly config: RuleConfig;
  readonly stages: ReadonlySet<string>;
  readonly match: Matcher;
  readonly exclude: readonly Matcher[];
}

export interface CompiledRules {
  readonly config: ResolvedConfig;
  readonly rules: readonly CompiledRule[];
  readonly exclude: readonly Matcher[];
  /** Every stage some rule looks at. */
  readonly stages: ReadonlySet<string>;
}

function anyOf(matchers: readonly Matcher[]): Matcher {
  return (ev) => {
    let unknown: Outcome | undefined;
    for (const m of matchers) {
      const o = m(ev);
      if (o.kind === 'match') return o;
      if (o.kind === 'unknown') unknown ??= o;
    }
    return unknown ?? NO;
  };
}

export function compileRules(config: ResolvedConfig): CompiledRules {
  const rules = config.rules.map((r): CompiledRule => {
    const list = Array.isArray(r.match) ? r.match : [r.match];
    return {
      config: r,
      stages: new Set(r.stages ?? config.stages),
      match: anyOf(list.map(compileMatcher)),
      exclude: (r.exclude ?? []).map(compileMatcher),
    };
  });
  const stages = new Set<string>();
  for (const r of rules) for (const s of r.stages) stages.add(s);
  return { config, rules, exclude: config.exclude.map(compileMatcher), stages };
}

export interface RuleHit {
  rule: RuleConfig;
  /** Pod features that made a podSecurity condition hold. */
  podSecurity: PodFeature[];
}

export interface Evaluation {
  outcome: 'matched' | 'unmatched' | 'stage_skipped' | 'excluded';
  hits: readonly RuleHit[];
  /** Rules that could not be decided for lack of a request body (name → why). */
  undecided: ReadonlyArray<{ rule: string; why: string }>;
}

// Most events match no rule, or are skipped: one shared answer each, no arrays per event (issue #18).
const NOTHING: readonly never[] = Object.freeze([]);
const SKIPPED: Evaluation = Object.freeze({ outcome: 'stage_skipped', hits: NOTHING, undecided: NOTHING });
const EXCLUDED: Evaluation = Object.freeze({ outcome: 'excluded', hits: NOTHING, undecided: NOTHING });
const UNMATCHED: Evaluation = Object.freeze({ outcome: 'unmatched', hits: NOTHING, undecided: NOTHING });

function anyMatch(matchers: readonly Matcher[], ev: AuditEvent): boolean {
  for (const m of matchers) if (m(ev).kind === 'match') return true;
  return false;
}

export function evaluate(set: CompiledRules, ev: AuditEvent): Evaluation {
  if (!set.stages.has(ev.stage)) return SKIPPED;
  if (anyMatch(set.exclude, ev)) return EXCLUDED;
  let hits: RuleHit[] | undefined;
  let undecided: Array<{ rule: string; why: string }> | undefined;
  for (const rule of set.rules) {
    if (!rule.stages.has(ev.stage)) continue;
    const o = rule.match(ev);
    if (o.kind === 'unknown') {
      undecided ??= [];
      undecided.push({ rule: rule.config.name, why: o.why });
    }
    if (o.kind !== 'match') continue;
    if (anyMatch(rule.exclude, ev)) continue;
    hits ??= [];
    hits.push({ rule: rule.config, podSecurity: o.features });
    if (set.config.matchPolicy === 'first') break;
  }
  if (!hits && !undecided) return UNMATCHED;
  return { outcome: hits ? 'matched' : 'unmatched', hits: hits ?? NOTHING, undecided: undecided ?? NOTHING };
}
