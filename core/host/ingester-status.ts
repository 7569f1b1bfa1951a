/**
 * The status an Ingester should show (DESIGN §5): `observedGeneration`, and three conditions —
 * Ready, InvalidConfig, PluginMissing — each True or False, with the reason and the field paths at fault. Pure
 * functions: the caller decides who writes (the leader) and when (only when something changed).
 */
import type { Rejected } from '../config/ingester-set.ts';
import type { IngesterConfig } from '../config/validate.ts';

export interface Condition {
  type: 'Ready' | 'InvalidConfig' | 'PluginMissing';
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface IngesterStatus {
  observedGeneration: number;
  conditions: Condition[];
  plugin?: { name: string; version: string };
  webhookPath?: string;
}

export type Outcome =
  | { kind: 'active'; ingester: IngesterConfig }
  | { kind: 'rejected'; rejected: Rejected; generation: number };

export function desiredStatus(outcome: Outcome, previous: IngesterStatus | undefined, now: Date): IngesterStatus {
  const generation = outcome.kind === 'active' ? outcome.ingester.generation : outcome.generation;
  const cond = (type: Condition['type'], on: boolean, reason: string, message: string): Condition => {
    const before = previous?.conditions?.find((c) => c.type === type);
    const status = on ? 'True' : 'False';
    return {
      type,
      status,
      reason,
      message,
      // Only a change of status moves the transition time (metav1.Condition semantics).
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now.toISOString(),
      observedGeneration: generation,
    };
  };
  if (outcome.kind === 'active') {
    const ing = outcome.ingester;
    const serving = ing.spec.webhook
      ? `serving ${ing.spec.webhook.methods.join('/')} ${ing.spec.webhook.path} on every replica`
      : 'informer runs on the leader';
    return {
      observedGeneration: generation,
      conditions: [
        cond('Ready', true, 'Active', `plugin ${ing.handler.plugin} ${ing.handler.pluginVersion}: ${serving}`),
        cond('InvalidConfig', false, 'Valid', 'the spec is valid'),
        cond(
          'PluginMissing',
          false,
          'PluginLoaded',
          `source handler '${ing.handler.handler}' is provided by plugin ${ing.handler.plugin}`,
        ),
      ],
      plugin: { name: ing.handler.plugin, version: ing.handler.pluginVersion },
      ...(ing.spec.webhook ? { webhookPath: ing.spec.webhook.path } : {}),
    };
  }
  const r = outcome.rejected;
  const message = r.errors
    .map((e) => `${e.path}: ${e.message}`)
    .join('; ')
    .slice(0, 1024);
  const missing = r.reason === 'PluginMissing';
  return {
    observedGeneration: generation,
    conditions: [
      cond('Ready', false, r.reason, message),
      cond('InvalidConfig', !missing, missing ? 'Valid' : r.reason, missing ? 'the spec is valid' : message),
      cond(
        'PluginMissing',
        missing,
        missing ? 'PluginMissing' : 'PluginLoaded',
        missing ? message : 'the source handler is available',
      ),
    ],
  };
}

/** Equal apart from transition times: no write needed. */
export function sameStatus(a: IngesterStatus | undefined, b: IngesterStatus): boolean {
  if (!a) return false;
  const strip = (s: IngesterStatus) =>
    JSON.stringify({ ...s, conditions: (s.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c) });
  return strip(a) === strip(b);
}
