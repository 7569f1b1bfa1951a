/**
 * The host's hooks, guarded (core/hooks/host-guards.ts): every tap gets its deadline, its duration observed, its
 * escaped errors attributed to the plugin (ADR 0015), and each kind of failure counted and logged once.
 */
import type { HookName } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import type { TapFailure } from '../hooks/guard.ts';
import { guardHostHooks } from '../hooks/host-guards.ts';
import { createHostHooks, type HostHooks } from '../hooks/host-hooks.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PluginFaults } from './plugin-faults.ts';

/** Deadline of one tap call per hook: leadership loss must end within the renew deadline (DESIGN §7). */
export function hookDeadlineMs(env: Readonly<HostEnv>, hook: HookName): number {
  switch (hook) {
    case 'onLoseLeadership':
      return env.renewDeadlineMs;
    case 'onStop':
      return env.shutdownTimeoutMs;
    case 'onObservation':
      return Math.min(2000, env.hookTimeoutMs);
    case 'onDeliver':
      return 3_600_000; // bounded per Destination by its delivery.timeout (core/destinations/lane.ts)
    default:
      return env.hookTimeoutMs;
  }
}

export interface GuardedHooksOptions {
  env: Readonly<HostEnv>;
  log: Logger;
  metrics: Metrics;
  /** Fault containment, once the plugins are found (undefined before, or when not contained). */
  faults: () => PluginFaults | undefined;
  /** Called for every failed tap, after it was counted and logged. */
  onTapFailure?: ((failure: TapFailure) => void) | undefined;
}

/**
 * The hooks, and the one place a plugin's failure is reported (counted, logged once per plugin/hook/kind, then at
 * debug, handed to onTapFailure): the guard's, and the host's for a failure it finds after the taps ran (an
 * onWebhook result that is not an array, core/host/core.ts).
 */
export function createGuardedHooks(o: GuardedHooksOptions): {
  hooks: HostHooks;
  reportFailure: (failure: TapFailure) => void;
} {
  const { env, log, metrics } = o;
  const hooks = createHostHooks();
  const seen = new Set<string>();
  const reportFailure = (f: TapFailure): void => {
    metrics.pluginHookErrors.inc({ plugin: f.plugin, hook: f.hook, kind: f.kind });
    const key = `${f.plugin}/${f.hook}/${f.kind}`;
    const err = f.error instanceof Error ? f.error.message : String(f.error);
    if (!seen.has(key)) {
      seen.add(key);
      log.error(
        { plugin: f.plugin, hook: f.hook, kind: f.kind, err },
        `plugin '${f.plugin}' failed in ${f.hook} (${f.kind}); only its own work is affected. Later failures of this kind are logged at debug and counted in zen_watcher_plugin_hook_errors_total`,
      );
    } else log.debug({ plugin: f.plugin, hook: f.hook, kind: f.kind, err }, 'plugin tap failed');
    o.onTapFailure?.(f);
  };
  guardHostHooks(hooks, {
    around: (plugin, call) => {
      const f = o.faults();
      return f ? f.run(plugin, call) : call();
    },
    disabled: (plugin) => o.faults()?.disabled(plugin),
    deadlineMs: (h) => hookDeadlineMs(env, h),
    observe: (plugin, hook, s) => metrics.pluginHookDuration.observe({ plugin, hook }, s),
    onFailure: reportFailure,
  });
  return { hooks, reportFailure };
}
