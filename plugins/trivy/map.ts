/**
 * Pure mapping from one Trivy Operator report object to its findings as ObservationDrafts, plus the scope the
 * host reconciles them in. No host needed: the controller wraps it, tests call it directly.
 *
 * Decisions (details in README.md):
 * - One draft per finding: a vulnerability (VulnerabilityReport / ClusterVulnerabilityReport), a FAILED check
 *   (ConfigAuditReport / ClusterConfigAuditReport; `success: true` checks are passes, not findings), an exposed
 *   secret (ExposedSecretReport).
 * - Identity (`fingerprint`): workload (identity.ts) + container + the finding's own key — vulnerabilityID +
 *   package + installedVersion; checkID + check scope; ruleID + target + the (redacted) match. Never the report uid.
 * - Scope: report kind + workload + container — one report's worth of findings, the same scope after the report
 *   is deleted and re-created.
 * - Lenient: old reports lack fields today's CRD requires (os, publishedDate, updateTimestamp, title, score, …).
 *   A finding without its own ID is skipped (counted); everything else missing is simply left out.
 */
import {
  inNamespaces,
  type ObservationDraft,
  type ResourceRef,
  severityAtLeast,
  severityRank,
} from 'zen-watcher/plugin-api';
import { type Severity, severityOf, type TrivyConfig } from './config.ts';
import { identityOf, type ReportIdentity } from './identity.ts';
import type { ReportKind } from './kinds.ts';

export const MAX_TEXT = 512;
export const MAX_MESSAGE = 2048;
export const MAX_MESSAGES = 10;

export type SkipReason =
  | 'below_min_severity'
  | 'unfixed'
  | 'passed_check'
  | 'no_id'
  | 'duplicate_in_report'
  | 'over_limit';

export type UnusableReason = 'not_an_object' | 'no_identity' | 'no_report_section' | 'findings_not_a_list';

export type MapOutcome =
  | {
      kind: 'mapped';
      /** `<namespace>/<name>` of the report object. */
      key: string;
      scope: string;
      identity: ReportIdentity;
      drafts: ObservationDraft[];
      skipped: Partial<Record<SkipReason, number>>;
      /** Findings in the report (before filtering). */
      findings: number;
    }
  /** Deliberately not used (namespace outside `config.namespaces`): as if the report did not exist. */
  | { kind: 'ignored'; key: string; reason: 'namespace_not_allowed' }
  /** Cannot be read; the caller keeps what it had for this report rather than resolve findings over garbage. */
  | { kind: 'unusable'; key: string | undefined; reason: UnusableReason };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** A string, trimmed of nothing, cut to `max` characters (with an ellipsis); undefined when not a non-empty string. */
export function text(v: unknown, max = MAX_TEXT): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  return v.length <= max ? v : `${v.slice(0, max - 1)}…`;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** RFC 3339 string (or a Date a YAML 1.1 parser made of it) → ISO string; undefined when not a valid time. */
function time(v: unknown): string | undefined {
  const d = v instanceof Date ? v : typeof v === 'string' && v.trim() !== '' ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

/** `registry/repository:tag@digest` from `report.registry` + `report.artifact`; undefined without a repository. */
export function imageOf(report: Obj): string | undefined {
  const artifact = isObj(report.artifact) ? report.artifact : {};
  const registry = isObj(report.registry) ? report.registry : {};
  const repo = text(artifact.repository);
  if (!repo) return undefined;
  const server = text(registry.server);
  const tag = text(artifact.tag);
  const digest = text(artifact.digest);
  return text(`${server ? `${server}/` : ''}${repo}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);
}

function scannerOf(report: Obj): Obj | undefined {
  if (!isObj(report.scanner)) return undefined;
  const out: Obj = {};
  for (const k of ['name', 'vendor', 'version'] as const) {
    const v = text(report.scanner[k], 64);
    if (v) out[k] = v.trim();
  }
  return Object.keys(out).length ? out : undefined;
}

function bounded(s: string): string {
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`;
}

const fingerprintOf = (parts: readonly string[]) => JSON.stringify(['trivy', ...parts]);

export function scopeOf(kind: ReportKind, id: ReportIdentity): string {
  return `${kind.kind}/${id.workload.key}/${id.container}`;
}

interface Ctx {
  kind: ReportKind;
  id: ReportIdentity;
  report: Obj;
  meta: Obj;
  config: TrivyConfig;
  resource: ResourceRef;
  base: Obj;
  detectedAt: string | undefined;
  /** Short name of where the finding is, for titles: the container, else the workload name. */
  where: string;
}

interface Finding {
  draft: ObservationDraft;
  severity: Severity;
}

type FindingResult = Finding | SkipReason;

function keepSeverity(ctx: Ctx, severity: Severity): boolean {
  // Trivy's UNKNOWN is info; otherwise the shared meaning of minSeverity (plugin API).
  return severityAtLeast(severity, severityOf(ctx.config.minSeverity).severity);
}

function draft(ctx: Ctx, f: Omit<ObservationDraft, 'category' | 'eventType' | 'resource'>): ObservationDraft {
  return {
    category: 'security',
    eventType: ctx.kind.eventType,
    resource: ctx.resource,
    ...(ctx.detectedAt ? { detectedAt: ctx.detectedAt } : {}),
    ...f,
  };
}

function vulnerability(ctx: Ctx, v: Obj): FindingResult {
  const id = text(v.vulnerabilityID, 128);
  if (!id) return 'no_id';
  const pkg = text(v.resource, 256) ?? '';
  const installed = text(v.installedVersion, 256) ?? '';
  const fixed = text(v.fixedVersion) ?? '';
  const { severity } = severityOf(v.severity);
  if (!keepSeverity(ctx, severity)) return 'below_min_severity';
  if (ctx.config.ignoreUnfixed && fixed.trim() === '') return 'unfixed';
  const title = text(v.title, MAX_MESSAGE);
  const description = text(v.description, MAX_MESSAGE);
  const fixLine = fixed.trim() ? `Fixed in ${fixed}.` : 'No fixed version is available.';
  const lines = [
    title,
    description && description !== title ? description : undefined,
    title || description ? fixLine : `${id} affects ${pkg || 'a package'} ${installed}. ${fixLine}`.replace(/ +/g, ' '),
  ].filter((x): x is string => !!x);
  const details: Obj = {
    vulnerabilityID: id,
    package: pkg,
    installedVersion: installed,
    fixedVersion: fixed,
    trivySeverity: text(v.severity, 32) ?? '',
    ...(num(v.score) !== undefined ? { score: num(v.score) } : {}),
    ...(text(v.primaryLink) ? { primaryLink: text(v.primaryLink) } : {}),
    ...ctx.base,
    ...(text(v.target) ? { target: text(v.target) } : {}),
    ...(text(v.packageType, 64) ? { packageType: text(v.packageType, 64) } : {}),
    ...(text(v.class, 64) ? { class: text(v.class, 64) } : {}),
    ...(text(v.packagePath) ? { packagePath: text(v.packagePath) } : {}),
    ...(time(v.publishedDate) ? { publishedDate: time(v.publishedDate) } : {}),
    ...(time(v.lastModifiedDate) ? { lastModifiedDate: time(v.lastModifiedDate) } : {}),
  };
  return {
    severity,
    draft: draft(ctx, {
      severity,
      title: `${id} in ${[pkg, installed].filter(Boolean).join(' ') || 'unknown package'} (${ctx.where})`,
      message: bounded(lines.join('\n\n')),
      details,
      fingerprint: fingerprintOf([ctx.kind.family, ctx.id.workload.key, ctx.id.container, id, pkg, installed]),
    }),
  };
}

function check(ctx: Ctx, c: Obj): FindingResult {
  if (c.success === true) return 'passed_check';
  const id = text(c.checkID, 128) ?? text(c.id, 128);
  if (!id) return 'no_id';
  const { severity } = severityOf(c.severity);
  if (!keepSeverity(ctx, severity)) return 'below_min_severity';
  const messages = Array.isArray(c.messages)
    ? c.messages
        .map((m) => text(m))
        .filter((m): m is string => !!m)
        .slice(0, MAX_MESSAGES)
    : [];
  const scope = isObj(c.scope)
    ? { type: text(c.scope.type, 64) ?? '', value: text(c.scope.value, 256) ?? '' }
    : undefined;
  const title = text(c.title, 256);
  const description = text(c.description, MAX_MESSAGE);
  const remediation = text(c.remediation, MAX_MESSAGE);
  const scopeSuffix = scope?.value ? `, ${scope.type ? `${scope.type.toLowerCase()} ` : ''}${scope.value}` : '';
  const w = ctx.id.workload;
  const lines = [
    description,
    messages.length ? messages.join('\n') : undefined,
    remediation ? `Remediation: ${remediation}` : undefined,
  ].filter((x): x is string => !!x);
  return {
    severity,
    draft: draft(ctx, {
      severity,
      title: `${id}: ${title ?? messages[0] ?? 'check failed'} (${w.kind} ${w.name}${scopeSuffix})`,
      ...(lines.length ? { message: bounded(lines.join('\n\n')) } : {}),
      details: {
        checkID: id,
        ...(title ? { checkTitle: title } : {}),
        ...(text(c.category, 128) ? { checkCategory: text(c.category, 128) } : {}),
        trivySeverity: text(c.severity, 32) ?? '',
        ...(messages.length ? { messages } : {}),
        ...(scope ? { checkScope: scope } : {}),
        ...ctx.base,
      },
      fingerprint: fingerprintOf([ctx.kind.family, ctx.id.workload.key, id, scope?.type ?? '', scope?.value ?? '']),
    }),
  };
}

function secret(ctx: Ctx, s: Obj): FindingResult {
  const rule = text(s.ruleID, 128);
  if (!rule) return 'no_id';
  const { severity } = severityOf(s.severity);
  if (!keepSeverity(ctx, severity)) return 'below_min_severity';
  const target = text(s.target) ?? '';
  const match = text(s.match) ?? '';
  const title = text(s.title, 128);
  const category = text(s.category, 128);
  return {
    severity,
    draft: draft(ctx, {
      severity,
      title: `Exposed secret ${title ?? rule}${target ? ` in ${target}` : ''} (${ctx.where})`,
      message: bounded(
        `Rule ${rule}${category ? ` (${category})` : ''} matched${target ? ` in ${target}` : ''}${match ? `: ${match}` : ''}`,
      ),
      details: {
        ruleID: rule,
        ...(title ? { secretTitle: title } : {}),
        ...(category ? { secretCategory: category } : {}),
        trivySeverity: text(s.severity, 32) ?? '',
        target,
        match,
        ...ctx.base,
      },
      fingerprint: fingerprintOf([ctx.kind.family, ctx.id.workload.key, ctx.id.container, rule, target, match]),
    }),
  };
}

const FINDINGS = {
  vulnerability: { field: 'vulnerabilities', fn: vulnerability },
  configaudit: { field: 'checks', fn: check },
  exposedsecret: { field: 'secrets', fn: secret },
} as const;

/** Maps one report object of `kind`. Never throws. */
export function mapReport(obj: unknown, kind: ReportKind, config: TrivyConfig): MapOutcome {
  if (!isObj(obj)) return { kind: 'unusable', key: undefined, reason: 'not_an_object' };
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = text(meta.name, 253);
  const namespace = kind.namespaced ? (text(meta.namespace, 63) ?? '') : '';
  const key = name ? `${namespace}/${name}` : undefined;
  if (!key) return { kind: 'unusable', key, reason: 'no_identity' };
  if (kind.namespaced && !inNamespaces(config.namespaces, namespace)) {
    return { kind: 'ignored', key, reason: 'namespace_not_allowed' };
  }
  const id = identityOf(meta, kind);
  if (!id) return { kind: 'unusable', key, reason: 'no_identity' };
  if (!isObj(obj.report)) return { kind: 'unusable', key, reason: 'no_report_section' };
  const report = obj.report;
  const { field, fn } = FINDINGS[kind.family];
  const list = report[field];
  if (list !== undefined && list !== null && !Array.isArray(list)) {
    return { kind: 'unusable', key, reason: 'findings_not_a_list' };
  }
  const items: unknown[] = Array.isArray(list) ? list : [];

  const w = id.workload;
  const resource: ResourceRef = {
    ...(w.apiVersion ? { apiVersion: w.apiVersion } : {}),
    kind: w.kind,
    name: w.name,
    ...(w.namespace ? { namespace: w.namespace } : {}),
  };
  const image = imageOf(report);
  const scanner = scannerOf(report);
  const base: Obj = {
    ...(id.container ? { container: id.container } : {}),
    ...(image ? { image } : {}),
    report: { kind: kind.kind, name, ...(namespace ? { namespace } : {}) },
    ...(scanner ? { scanner } : {}),
    workloadIdentity: w.source,
  };
  const ctx: Ctx = {
    kind,
    id,
    report,
    meta,
    config,
    resource,
    base,
    detectedAt: time(report.updateTimestamp) ?? time(meta.creationTimestamp),
    where: id.container || w.name,
  };

  const skipped: Partial<Record<SkipReason, number>> = {};
  const skip = (r: SkipReason, n = 1) => {
    skipped[r] = (skipped[r] ?? 0) + n;
  };
  const kept: Finding[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const r = isObj(item) ? fn(ctx, item) : 'no_id';
    if (typeof r === 'string') {
      skip(r);
      continue;
    }
    const fp = r.draft.fingerprint!;
    if (seen.has(fp)) {
      skip('duplicate_in_report');
      continue;
    }
    seen.add(fp);
    kept.push(r);
  }
  let drafts = kept;
  if (kept.length > config.maxFindingsPerReport) {
    // Most severe first; the sort is stable, so report order decides within a severity.
    drafts = [...kept]
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
      .slice(0, config.maxFindingsPerReport);
    skip('over_limit', kept.length - drafts.length);
  }
  return {
    kind: 'mapped',
    key,
    scope: scopeOf(kind, id),
    identity: id,
    drafts: drafts.map((f) => f.draft),
    skipped,
    findings: items.length,
  };
}
