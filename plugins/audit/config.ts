/**
 * The plugin's `spec.config` as code sees it: the config, rule and matcher types are derived from schema.json (what the
 * host validates; json-schema-to-ts over the generated schema.gen.ts), and `resolveConfig` applies every default and
 * picks the rules in effect (built-in, custom, or both).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { DEFAULT_RULES } from './default-rules.ts';
import type { Stage } from './event.ts';
import type { configSchema } from './schema.gen.ts';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type AuditConfig = FromSchema<typeof configSchema>;
/** One entry of `rules` (schema.json `properties.rules.items`). */
export type RuleConfig = NonNullable<AuditConfig['rules']>[number];
/** A matcher (schema.json `$defs.matcher`): `exclude` entries, a rule's `match` and `exclude`. */
export type MatcherConfig = NonNullable<AuditConfig['exclude']>[number];
export type PodFeature = NonNullable<MatcherConfig['podSecurity']>[number];

export const POD_FEATURES = [
  'privileged',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'hostPath',
] as const satisfies readonly PodFeature[];

export const AUDIT_DECISION = 'authorization.k8s.io/decision';
export const AUDIT_TRUNCATED = 'audit.k8s.io/truncated';

export interface ResolvedConfig {
  stages: Stage[];
  rules: RuleConfig[];
  exclude: MatcherConfig[];
  matchPolicy: 'first' | 'all';
  category: 'security' | 'compliance';
  maxEvents: number;
  /** Problems the JSON schema cannot see (duplicate rule names, unknown disableRules entries). */
  warnings: string[];
}

export const DEFAULT_MAX_EVENTS = 10_000;

/**
 * The stages rules look at by default: every stage that carries the response (status code, authorization decision).
 * Audit policies keep different subsets (`omitStages`, globally or per policy rule); a rule fires at whichever of
 * these arrives, and the request's Observation is deduplicated across its stages (map.ts, fingerprint).
 * RequestReceived is not among them: it is emitted before authorization and before the body is read, so rules on
 * the response would be decided without it (and a request would be judged twice).
 */
export const DEFAULT_STAGES: readonly Stage[] = Object.freeze(['ResponseStarted', 'ResponseComplete', 'Panic']);

/** Config with every default applied (the host applies the schema defaults too; this keeps direct callers safe). */
export function resolveConfig(
  raw: Readonly<Record<string, unknown>> | Partial<AuditConfig> | undefined,
): ResolvedConfig {
  const c = (raw ?? {}) as Partial<AuditConfig>;
  const warnings: string[] = [];
  const custom = c.rules;
  const disabled = new Set(c.disableRules ?? []);
  const candidates: RuleConfig[] = [];
  if (custom) candidates.push(...custom);
  if (!custom || c.includeDefaultRules) candidates.push(...DEFAULT_RULES);
  const known = new Set(candidates.map((r) => r.name));
  for (const d of disabled) if (!known.has(d)) warnings.push(`disableRules: no rule named '${d}'`);
  const seen = new Set<string>();
  const rules: RuleConfig[] = [];
  for (const r of candidates) {
    if (disabled.has(r.name)) continue;
    if (seen.has(r.name)) {
      // A custom rule named like a built-in one replaces it; a repeated custom name is a mistake.
      if (!DEFAULT_RULES.includes(r)) warnings.push(`rules: duplicate rule name '${r.name}'; only the first is used`);
      continue;
    }
    seen.add(r.name);
    rules.push(r);
  }
  return {
    stages: c.stages ?? [...DEFAULT_STAGES],
    rules,
    exclude: c.exclude ?? [],
    matchPolicy: c.matchPolicy ?? 'first',
    category: c.category ?? 'security',
    maxEvents: c.maxEvents ?? DEFAULT_MAX_EVENTS,
    warnings: [...new Set(warnings)],
  };
}
