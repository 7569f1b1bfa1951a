/**
 * Guards every host hook (guard.ts) the same way wherever hooks are built — host, test kit, CLI — from HOOK_NAMES,
 * so a hook added to the API cannot be left unguarded: the kind table is a Record over HookName.
 */

import type { AsyncSeriesBailHook, HookMap } from 'tapable';
import { HOOK_NAMES, type HookName } from '../api/index.ts';
import { type GuardKind, type GuardOptions, installGuard, type TapFailure } from './guard.ts';
import type { HostHooks } from './host-hooks.ts';

export const GUARD_KIND: Readonly<Record<HookName, GuardKind>> = Object.freeze({
  onStart: 'isolate',
  onBecomeLeader: 'isolate',
  onLoseLeadership: 'isolate',
  onWebhook: 'bail',
  onIngesterChanged: 'isolate',
  onObservation: 'waterfall',
  onStop: 'isolate',
  onDeliver: 'bail',
});

export interface HostGuardDeps {
  /** Deadline of one tap call of this hook, in ms (read per call). */
  deadlineMs: (hook: HookName) => number;
  observe: (plugin: string, hook: HookName, seconds: number) => void;
  onFailure: (failure: TapFailure) => void;
  /** Runs each call of a plugin's tap (inside the plugin's fault context: ADR 0015). */
  around?: GuardOptions['around'];
  /** Why the plugin is disabled (its taps are then skipped), or undefined. */
  disabled?: GuardOptions['disabled'];
}

export function guardHostHooks(hooks: HostHooks, deps: HostGuardDeps): void {
  for (const hook of HOOK_NAMES) {
    const opts = {
      hook,
      kind: GUARD_KIND[hook],
      deadlineMs: () => deps.deadlineMs(hook),
      observe: deps.observe,
      onFailure: deps.onFailure,
      ...(deps.around ? { around: deps.around } : {}),
      ...(deps.disabled ? { disabled: deps.disabled } : {}),
    };
    const target = hooks[hook];
    if (hook === 'onWebhook' || hook === 'onDeliver') {
      // A HookMap: each handler's (type's) hook is created on first use; guard it as it is made.
      (hooks[hook] as unknown as HookMap<AsyncSeriesBailHook<[unknown], unknown>>).intercept({
        factory: (_key, h) => {
          installGuard(h as never, opts);
          return h;
        },
      });
    } else installGuard(target as never, opts);
  }
}
