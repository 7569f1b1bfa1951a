/**
 * The plugin's `spec.config` as code sees it: the config, rule and matcher types are derived from schema.json (what the
 * host validates; json-schema-to-ts over the generated schema.gen.ts), and `resolveConfig` picks the rules in effect
 * (built-in, custom, or both). The defaults are the schema's, applied by the host; no code here repeats them.
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

/**
 * The rules in effect for a config as the host hands it over (schema defaults applied: stages, exclude, matchPolicy,
 * category, maxEvents, includeDefaultRules, disableRules): the built-in rules, the custom ones, or both, minus the
 * disabled ones, with the problems the schema cannot see. Tests build the config the same way (`configFromSchema`).
 */
export function resolveConfig(c: Readonly<AuditConfig>): ResolvedConfig {
  const warnings: string[] = [];
  const custom = c.rules;
  const disabled = new Set(c.disableRules);
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
    // Default (schema.json): every stage that carries the response (status code, authorization decision). Audit
    // policies keep different subsets (`omitStages`); a rule fires at whichever of these arrives, and the request's
    // Observation is deduplicated across its stages (map.ts, fingerprint). Not RequestReceived: it is emitted before
    // authorization and before the body is read, so rules on the response would be decided without it.
    stages: [...c.stages],
    rules,
    exclude: [...c.exclude],
    matchPolicy: c.matchPolicy,
    category: c.category,
    maxEvents: c.maxEvents,
    warnings: [...new Set(warnings)],
  };
}
