/**
 * The tap-only view of the host hooks that one plugin receives. The tap name is always the plugin's name, so a
 * plugin cannot pose as another, and it may tap onWebhook only for the source handlers its manifest declares.
 *
 * Taps made during register() are held back and applied by commit() only when register() succeeds, so a plugin
 * that fails half-way through registering leaves nothing tapped.
 */
import {
  type IngesterChange,
  type PluginHooks,
  type TapOptions,
  type Tappable,
  ZwError,
  zwError,
} from '../api/index.ts';
import type { HostHooks } from './host-hooks.ts';

interface PromiseTappable {
  // biome-ignore lint/suspicious/noExplicitAny: tapable's signature
  tapPromise(options: { name: string; stage?: number }, fn: (...args: any[]) => Promise<any>): void;
}

export interface PluginHooksHandle {
  hooks: PluginHooks;
  /** Apply the taps recorded so far; later taps apply at once. */
  commit(): void;
  /** Drop the recorded taps (register failed). */
  discard(): void;
}

export function createPluginHooks(
  hooks: HostHooks,
  plugin: string,
  handlers: readonly string[],
  destinations: readonly string[] = [],
): PluginHooksHandle {
  let pending: (() => void)[] | undefined = [];

  const tapOnly = <Args extends unknown[], R>(hook: PromiseTappable): Tappable<Args, R> =>
    Object.freeze({
      tapPromise(fn: (...args: Args) => Promise<R>, options: TapOptions = {}) {
        if (typeof fn !== 'function')
          throw zwError('ZW_ERR_PLUGIN_API', { plugin, detail: 'tapPromise needs a function' });
        const apply = () => hook.tapPromise({ name: plugin, stage: options.stage ?? 0 }, fn as never);
        if (pending) pending.push(apply);
        else apply();
      },
    });

  const facade: PluginHooks = Object.freeze({
    onStart: tapOnly(hooks.onStart),
    onBecomeLeader: tapOnly(hooks.onBecomeLeader),
    onLoseLeadership: tapOnly(hooks.onLoseLeadership),
    onWebhook: Object.freeze({
      for(handler: string) {
        if (!handlers.includes(handler)) {
          throw zwError('ZW_ERR_PLUGIN_API', {
            plugin,
            detail: `cannot tap onWebhook for '${handler}': its manifest declares sources [${handlers.join(', ')}]`,
          });
        }
        return tapOnly(hooks.onWebhook.for(handler));
      },
    }),
    // Only changes to Ingesters served by this plugin's handlers reach its taps.
    onIngesterChanged: Object.freeze({
      tapPromise(fn: (change: IngesterChange) => Promise<void>, options: TapOptions = {}) {
        tapOnly<[IngesterChange], void>(hooks.onIngesterChanged).tapPromise(async (change) => {
          if (handlers.includes(change.ingester.handler)) await fn(change);
        }, options);
      },
    }),
    onObservation: tapOnly(hooks.onObservation),
    onStop: tapOnly(hooks.onStop),
    onDeliver: Object.freeze({
      for(type: string) {
        if (!destinations.includes(type)) {
          throw new ZwError(
            'ZW_ERR_PLUGIN_API',
            `plugin '${plugin}': cannot tap onDeliver for '${type}': its manifest declares destinations [${destinations.join(', ')}]`,
          );
        }
        return tapOnly(hooks.onDeliver.for(type));
      },
    }),
  }) as PluginHooks;

  return {
    hooks: facade,
    commit() {
      const list = pending ?? [];
      pending = undefined;
      for (const apply of list) apply();
    },
    discard() {
      pending = [];
    },
  };
}
