/**
 * `spec.config` of a trivy Ingester. The host validates it against schema.json (ajv, strict, defaults applied);
 * resolveConfig() is still lenient so the mapping can be used (and fuzzed) without the host.
 */
import { REPORT_KIND_NAMES } from './kinds.ts';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface TrivyConfig {
  /** Report kinds to watch (Kubernetes kind names). */
  reportKinds: readonly string[];
  /** Least severe finding kept (Observation severity; Trivy's upper-case names are accepted too). */
  minSeverity: string;
  /** Skip vulnerabilities without a fixedVersion. */
  ignoreUnfixed: boolean;
  /** Namespaces whose (namespaced) reports are used; empty = all. Cluster-scoped reports are not affected. */
  namespaces: readonly string[];
  /** Most findings turned into Observations per report (most severe first). */
  maxFindingsPerReport: number;
}

export const DEFAULT_CONFIG: Readonly<TrivyConfig> = Object.freeze({
  reportKinds: Object.freeze(['VulnerabilityReport']),
  minSeverity: 'info',
  ignoreUnfixed: false,
  namespaces: Object.freeze([]),
  maxFindingsPerReport: 1000,
});

/** Observation severity of a Trivy severity (CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN, any case). */
const TRIVY_SEVERITY: Readonly<Record<string, Severity>> = Object.freeze({
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  unknown: 'info',
  info: 'info',
  none: 'info',
});

/** Trivy severity → Observation severity; anything missing or unknown is `info` (lenient: old/foreign reports). */
export function severityOf(value: unknown): { severity: Severity; known: boolean } {
  if (typeof value !== 'string') return { severity: 'info', known: false };
  const key = value.trim().toLowerCase();
  const s = Object.hasOwn(TRIVY_SEVERITY, key) ? TRIVY_SEVERITY[key] : undefined; // not Object.prototype's keys
  return s ? { severity: s, known: true } : { severity: 'info', known: false };
}

export function resolveConfig(raw: unknown): TrivyConfig {
  const c = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? [...new Set(v.filter((x): x is string => typeof x === 'string' && x !== ''))] : undefined;
  const kinds = strings(c.reportKinds)?.filter((k) => REPORT_KIND_NAMES.includes(k));
  const min = typeof c.minSeverity === 'string' ? severityOf(c.minSeverity) : undefined;
  const max = c.maxFindingsPerReport;
  return {
    reportKinds: kinds && kinds.length > 0 ? kinds : DEFAULT_CONFIG.reportKinds,
    minSeverity: min?.known ? min.severity : DEFAULT_CONFIG.minSeverity,
    ignoreUnfixed: typeof c.ignoreUnfixed === 'boolean' ? c.ignoreUnfixed : DEFAULT_CONFIG.ignoreUnfixed,
    namespaces: strings(c.namespaces) ?? DEFAULT_CONFIG.namespaces,
    maxFindingsPerReport:
      typeof max === 'number' && Number.isInteger(max) && max >= 1 ? max : DEFAULT_CONFIG.maxFindingsPerReport,
  };
}
