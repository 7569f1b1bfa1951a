/**
 * Policy report → Observation drafts: pure functions, no host needed. The choices (targets, identity, scope,
 * severity, category, title) are documented in README.md; FORMATS.md §2 describes the input.
 */

import { createHash } from 'node:crypto';
import type { FromSchema } from 'json-schema-to-ts';
import type { pluginConfigSchema } from 'zen-watcher/plugin-api';
import {
  type Category,
  type ObservationDraft,
  type ResourceRef,
  type Severity,
  severityAtLeast,
  severityRank,
} from 'zen-watcher/plugin-api';
import type { ReportKind } from './kinds.ts';
import type { configSchema } from './schema.gen.ts';

export const RESULTS = ['pass', 'fail', 'warn', 'error', 'skip'] as const;
export type Result = (typeof RESULTS)[number];

/** Least to most severe. */
export const SEVERITY_ORDER = ['info', 'low', 'medium', 'high', 'critical'] as const satisfies readonly Severity[];

export const EVENT_TYPE = 'policy_violation';
export const DEFAULT_CATEGORY: Category = 'compliance';
/** Longest title (the host allows 256); the message part is cut to fit. */
export const MAX_TITLE = 200;
export const MAX_PROPERTIES = 32;
export const MAX_VALUE_LENGTH = 256;

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type KyvernoConfig = FromSchema<typeof configSchema, { references: [typeof pluginConfigSchema] }>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A string with something in it (whitespace-only counts as absent). */
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
const isSeverity = (v: unknown): v is Severity => (SEVERITY_ORDER as readonly unknown[]).includes(v);
const isResult = (v: unknown): v is Result => (RESULTS as readonly unknown[]).includes(v);

/** A policy category (`policies.kyverno.io/category`, copied to `results[].category`) → Observation category. */
const CATEGORY_RULES: readonly (readonly [RegExp, Category])[] = [
  [/\b(cis|benchmarks?|complian\w*|nist|fedramp|pci|hipaa|soc ?2|gdpr|stig|iso ?27001)\b/i, 'compliance'],
  [
    /secur|\bpss\b|\bpsp\b|rbac|privilege|vulnerab|secret|signature|supply.chain|image verif|network polic|multi.?tenan/i,
    'security',
  ],
  [/\bcost|finops/i, 'cost'],
  [/performance|autoscal/i, 'performance'],
];

export function categoryOf(policyCategory: string | undefined): Category {
  if (policyCategory) for (const [re, c] of CATEGORY_RULES) if (re.test(policyCategory)) return c;
  return DEFAULT_CATEGORY;
}

/** A Kubernetes object the report is about. */
export interface Target {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** `{apiVersion, kind, name, namespace, uid}` (scope, results[].resources[], ownerReferences[]); needs a name. */
function targetOf(v: unknown, fallbackNamespace?: string): Target | undefined {
  if (!isObj(v)) return undefined;
  const name = str(v.name);
  if (!name) return undefined;
  const t: Target = { name };
  const apiVersion = str(v.apiVersion);
  const kind = str(v.kind);
  const namespace = str(v.namespace) ?? fallbackNamespace;
  const uid = str(v.uid);
  if (apiVersion) t.apiVersion = apiVersion;
  if (kind) t.kind = kind;
  if (namespace) t.namespace = namespace;
  if (uid) t.uid = uid;
  return t;
}

/** The identity of a target: apiVersion/kind/namespace/name — never the uid, which changes on re-creation. */
function targetKey(t: Target): string {
  return JSON.stringify([t.apiVersion ?? '', t.kind ?? '', t.namespace ?? '', t.name]);
}

function resourceOf(t: Target): ResourceRef {
  const r: ResourceRef = {};
  if (t.apiVersion) r.apiVersion = t.apiVersion;
  if (t.kind) r.kind = t.kind;
  if (t.name) r.name = t.name;
  if (t.namespace) r.namespace = t.namespace;
  return r;
}

export interface SkipCounts {
  /** Results whose `result` is not in `config.results` (pass and skip by default). */
  result: number;
  belowMinSeverity: number;
  /** Results without a policy, or with a result value outside the enum; non-object results. */
  invalid: number;
}

export interface MappedReport {
  /** The report object within its Ingester: `<Kind>/<namespace>/<name>`. */
  key: string;
  /** The resolution scope: the report's target, or the report itself for multi-resource reports. */
  scope: string;
  drafts: ObservationDraft[];
  skipped: SkipCounts;
}

function reportMeta(obj: Obj, kind: ReportKind) {
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const namespace = kind.namespaced ? str(meta.namespace) : undefined;
  const name = str(meta.name);
  // Kyverno: the report's scope is the resource, in the report's namespace (namespaced reports only).
  const scope = targetOf(obj.scope, namespace);
  const owners = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObj) : [];
  const ownerRef = owners.find((o) => o.controller === true) ?? owners[0];
  const owner = targetOf(ownerRef, namespace);
  return { meta, namespace, name, scope, owner };
}

/** The key of a report object (also for a deleted one), without mapping its results. */
export function reportKey(obj: unknown, kind: ReportKind): string | undefined {
  if (!isObj(obj)) return undefined;
  const m = reportMeta(obj, kind);
  const tail = m.name ?? `~${m.scope ? targetKey(m.scope) : m.owner ? targetKey(m.owner) : ''}`;
  return `${kind.kind}/${m.namespace ?? ''}/${tail}`;
}

/**
 * Maps one report object. Returns undefined for something that is not a report at all (not an object); every
 * unusable result inside a report is counted in `skipped.invalid` and the rest is still mapped.
 */
export function mapReport(obj: unknown, kind: ReportKind, config: KyvernoConfig): MappedReport | undefined {
  if (!isObj(obj)) return undefined;
  const m = reportMeta(obj, kind);
  const key = reportKey(obj, kind)!;
  const results = Array.isArray(obj.results) ? obj.results : [];
  const anyResources = results.some((r) => isObj(r) && Array.isArray(r.resources) && r.resources.some(isObj));
  const self: Target = {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    name: m.name ?? '',
    ...(m.namespace ? { namespace: m.namespace } : {}),
  };
  // The scope: the one resource the report is about, else the report itself (multi-resource or target-less).
  const reportTarget = m.scope ?? (!anyResources ? m.owner : undefined);
  const scope = reportTarget
    ? `target:${targetKey(reportTarget)}`
    : `report:${JSON.stringify([kind.group, kind.kind, m.namespace ?? '', m.name ?? key])}`;
  const report = {
    apiVersion: kind.apiVersion,
    kind: kind.kind,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.name ? { name: m.name } : {}),
  };
  const reportSource = str(obj.source);
  const created = rfc3339(m.meta.creationTimestamp);
  const skipped: SkipCounts = { result: 0, belowMinSeverity: 0, invalid: 0 };
  const byFingerprint = new Map<string, ObservationDraft>();

  for (const r of results) {
    if (!isObj(r)) {
      skipped.invalid++;
      continue;
    }
    const policy = str(r.policy);
    const result = typeof r.result === 'string' ? r.result.trim().toLowerCase() : undefined;
    if (!policy || !isResult(result)) {
      skipped.invalid++;
      continue;
    }
    if (!config.results.includes(result)) {
      skipped.result++;
      continue;
    }
    const properties = isObj(r.properties) ? r.properties : {};
    const fromResult = severityValue(r.severity);
    const fromProperties = severityValue(properties.severity);
    const severity = fromResult ?? fromProperties ?? config.severityByResult[result];
    if (!severityAtLeast(severity, config.minSeverity)) {
      skipped.belowMinSeverity++;
      continue;
    }
    const rule = str(r.rule);
    // VAP/MAP results have no rule: their binding tells two results of one policy apart.
    const ruleId =
      rule ??
      (str(properties.binding) ? `binding:${properties.binding}` : undefined) ??
      (str(properties.mapBinding) ? `mapBinding:${properties.mapBinding}` : undefined) ??
      '';
    const listed = Array.isArray(r.resources) ? r.resources.flatMap((x) => targetOf(x) ?? []) : [];
    const targets: Target[] = m.scope ? [m.scope] : listed.length ? listed : m.owner ? [m.owner] : [self];
    const policyCategory = str(r.category);
    const message = typeof r.message === 'string' && r.message.trim() !== '' ? r.message : undefined;
    const timestamp = timestampOf(r.timestamp);
    const source = str(r.source) ?? reportSource;
    const details: Record<string, unknown> = {
      policy,
      ...(rule ? { rule } : {}),
      result,
      ...(source ? { source } : {}),
      ...(typeof r.scored === 'boolean' ? { scored: r.scored } : {}),
      ...(policyCategory ? { category: policyCategory } : {}),
      severitySource: fromResult ? 'result' : fromProperties ? 'properties' : 'result-mapping',
      ...(timestamp ? { timestamp: timestamp.toISOString() } : {}),
      ...(Object.keys(properties).length ? { properties: boundProperties(properties) } : {}),
      report,
    };
    const selector = isObj(r.resourceSelector)
      ? r.resourceSelector
      : isObj(obj.scopeSelector)
        ? obj.scopeSelector
        : undefined;
    if (targets[0] === self && selector) details.selector = selector;
    for (const t of targets) {
      const fingerprint = `kyverno:${sha256(JSON.stringify([policy, ruleId, targetKey(t)]))}`;
      const prev = byFingerprint.get(fingerprint);
      if (prev && severityRank(prev.severity as Severity) >= severityRank(severity)) continue;
      const draft: ObservationDraft = {
        severity,
        category: categoryOf(policyCategory),
        eventType: EVENT_TYPE,
        title: titleOf(policy, rule, message, result),
        resource: resourceOf(t),
        details: t.uid ? { ...details, resourceUid: t.uid } : details,
        fingerprint,
      };
      if (message) draft.message = message;
      const at = timestamp ?? created;
      if (at) draft.detectedAt = at;
      byFingerprint.set(fingerprint, draft);
    }
  }
  return { key, scope, drafts: [...byFingerprint.values()], skipped };
}

/** `<policy>/<rule>: <first line of the message>` (no rule: `<policy>: …`; no message: the result), bounded. */
export function titleOf(policy: string, rule: string | undefined, message: string | undefined, result: Result): string {
  const oneLine = (l: string) => l.replace(/\s+/g, ' ').trim();
  const head = oneLine(rule ? `${policy}/${rule}` : policy);
  const line =
    message
      ?.split('\n')
      .map(oneLine)
      .find((l) => l !== '') ?? result;
  return bound(`${bound(head, MAX_TITLE - 12)}: ${line}`, MAX_TITLE);
}

function bound(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function severityValue(v: unknown): Severity | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  return isSeverity(s) ? s : undefined;
}

/** `{seconds, nanos}` (protobuf style; seconds may arrive as a float like 1.666094801e+09 or a string). */
export function timestampOf(v: unknown): Date | undefined {
  if (!isObj(v)) return undefined;
  const seconds = Number(v.seconds);
  const nanos = v.nanos === undefined || v.nanos === null ? 0 : Number(v.nanos);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  // 0001-01-01 .. 9999-12-31 as in the CRD; a Date covers it.
  if (seconds < -62_135_596_800 || seconds > 253_402_300_799) return undefined;
  const d = new Date(Math.floor(seconds) * 1000 + Math.floor(nanos / 1e6));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function rfc3339(v: unknown): Date | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(v)) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** properties is string→string in the CRD; be lenient with anything else, and bounded. */
function boundProperties(p: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = Object.keys(p).sort();
  for (const k of keys.slice(0, MAX_PROPERTIES)) {
    const v = p[k];
    const s = typeof v === 'string' ? v : text(v);
    out[bound(k, MAX_VALUE_LENGTH)] = bound(s, MAX_VALUE_LENGTH);
  }
  if (keys.length > MAX_PROPERTIES) out._omitted = String(keys.length - MAX_PROPERTIES);
  return out;
}

function text(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
