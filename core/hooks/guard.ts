/**
 * The guard interceptor: wraps every tap of a hook with timing, a deadline and isolation, so a throwing or
 * hanging plugin fails only its own work, logged once with its name (DESIGN §4).
 *
 * What "isolation" means per hook kind (tapable aborts a series on the first error, so we catch inside):
 * - isolate (series/parallel hooks): the error is recorded and swallowed; other plugins' taps still run.
 * - waterfall (onObservation): the failing tap is skipped; the draft passes on unchanged.
 * - bail (onWebhook): a typed client error (a ZwError with a 4xx status: bad payload, 400/422) passes through to
 *   the HTTP layer; anything else — host errors a plugin let through (e.g. ZW_ERR_RECONCILE_WEBHOOK) included —
 *   is the plugin's failure: counted, and ZW_ERR_PLUGIN_FAILED (500) without leaking its message to the client.
 * A plugin the host disabled (core/host/plugin-faults.ts) is skipped: no call; onWebhook answers 503
 * ZW_ERR_PLUGIN_DISABLED with Retry-After (DISABLED_RETRY_AFTER_SECONDS).
 */
import type { HookName } from '../api/index.ts';
import { errorMessage, ZwError, zwError } from '../api/index.ts';
import { type Deadline, deadline } from '../http/deadlines.ts';

export type GuardKind = 'isolate' | 'waterfall' | 'bail';

export interface TapFailure {
  plugin: string;
  hook: HookName;
  kind: 'error' | 'timeout';
  error: unknown;
}

export interface GuardOptions {
  hook: HookName;
  kind: GuardKind;
  /** Deadline per tap call, in ms (read on every call, so the host can change it, e.g. renew deadline). */
  deadlineMs: () => number;
  observe: (plugin: string, hook: HookName, seconds: number) => void;
  onFailure: (failure: TapFailure) => void;
  /** Runs each call of a plugin's tap (the host runs it inside the plugin's fault context: ADR 0015). */
  around?: <T>(plugin: string, call: () => T) => T;
  /** Why the plugin is disabled (its taps are then skipped; onWebhook answers 503), or undefined. */
  disabled?: (plugin: string) => string | undefined;
}

class TapTimeoutError extends ZwError {
  constructor(plugin: string, hook: string, ms: number) {
    super('ZW_ERR_HOOK_TIMEOUT', errorMessage('ZW_ERR_HOOK_TIMEOUT', { plugin, hook, ms }));
    this.name = 'TapTimeoutError';
  }
}

/**
 * Retry-After of a disabled plugin's bail hooks (its webhooks' 503; a delivery lane backs off at least as long). The
 * plugin stays disabled in this process until it restarts (core/host/plugin-faults.ts): a retry succeeds only on
 * another replica or after a restart, so it waits a minute rather than the 1–5 s of a passing overload.
 */
const DISABLED_RETRY_AFTER_SECONDS = 60;
const DISABLED_REASON =
  'too many errors escaped its code; it stays disabled until zen-watcher restarts (`zen-watcher plugins list` shows why)';

/** What a missed deadline rejects with (the error itself is made only then: a stack per call costs). */
const TIMED_OUT = Symbol('timed out');

// biome-ignore lint/suspicious/noExplicitAny: tapable's tap fn type is untyped by design
type AnyFn = (...args: any[]) => any;

export function guardTap(plugin: string, fn: AnyFn, opts: GuardOptions): AnyFn {
  /** What the guard answers for a failed call: the error passed on, or the call skipped. */
  const failed = (error: unknown, args: unknown[]): unknown => {
    if (
      opts.kind === 'bail' &&
      error instanceof ZwError &&
      (error.status < 500 || (opts.hook === 'onDeliver' && error.code === 'ZW_ERR_DELIVERY_FAILED'))
    )
      throw error;
    const kind = error instanceof TapTimeoutError ? 'timeout' : 'error';
    opts.onFailure({ plugin, hook: opts.hook, kind, error });
    if (opts.kind === 'waterfall') return args[0];
    if (opts.kind === 'bail') throw zwError('ZW_ERR_PLUGIN_FAILED', { plugin }, { cause: error });
    return undefined;
  };
  // Not an async function: one promise settled by the tap or its deadline, and one then() on it (an async wrapper
  // and its await cost two more promises per call; onWebhook runs per request: issue #18).
  return (...args: unknown[]): Promise<unknown> => {
    if (opts.disabled?.(plugin) !== undefined) {
      if (opts.kind === 'bail') {
        // Not called, so not counted again. The reason names no fault: those are the plugin's messages (logged).
        return Promise.reject(
          zwError(
            'ZW_ERR_PLUGIN_DISABLED',
            { plugin, reason: DISABLED_REASON },
            { retryAfterSeconds: DISABLED_RETRY_AFTER_SECONDS },
          ),
        );
      }
      return Promise.resolve(opts.kind === 'waterfall' ? args[0] : undefined);
    }
    const started = performance.now();
    const ms = opts.deadlineMs();
    let timer: Deadline | undefined;
    // The tap's result or the deadline, whichever comes first, with the deadline from a shared list instead of a
    // Node timer per call. The tap is called at once, inside the plugin's fault context; what it throws
    // synchronously rejects like what it rejects.
    const settled = new Promise<unknown>((resolve, reject) => {
      timer = deadline(ms, reject, TIMED_OUT);
      let out: unknown;
      try {
        out = opts.around ? opts.around(plugin, () => fn(...args)) : fn(...args);
      } catch (err) {
        reject(err);
        return;
      }
      if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function')
        (out as PromiseLike<unknown>).then(resolve, reject);
      else resolve(out);
    });
    const end = () => {
      timer?.cancel();
      opts.observe(plugin, opts.hook, (performance.now() - started) / 1000);
    };
    return settled.then(
      (result) => {
        end();
        if (opts.kind === 'waterfall' && (result === undefined || result === null || typeof result !== 'object'))
          return args[0];
        return result;
      },
      (caught) => {
        end();
        return failed(caught === TIMED_OUT ? new TapTimeoutError(plugin, opts.hook, ms) : caught, args);
      },
    );
  };
}

/** Installs the guard on a tapable hook: every tap, past and future, is wrapped. */
export function installGuard(
  hook: { intercept(i: { register?: (tap: { name: string; fn: AnyFn }) => unknown }): void },
  opts: GuardOptions,
): void {
  hook.intercept({
    register: (tap) => ({ ...tap, fn: guardTap(tap.name, tap.fn, opts) }),
  });
}
