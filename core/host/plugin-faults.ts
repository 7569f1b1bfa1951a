/**
 * Fault containment for plugin code that runs outside a guarded call (ADR 0015). The guard (core/hooks/guard.ts)
 * catches what a tap throws or rejects; it cannot catch what a plugin leaves behind: a promise it never handles
 * (`void Promise.reject(…)`), an exception thrown from its own timer or event callback, a rejection while its
 * module is imported. Node ends the process on those by default. Here, process-level handlers find the plugin at
 * fault and contain it:
 *
 * - Attribution, in order: (1) the async context: every call into plugin code (import, register, each tap) runs
 *   inside an AsyncLocalStorage frame naming the plugin, and Node carries that frame into every timer, promise and
 *   callback the plugin creates from there; (2) the stack: a frame in a file under a plugin's (real) directory.
 *   Host work the plugin asks for (emit, reconcile) runs outside its frame, so a host timer started on its behalf
 *   is never blamed on it.
 * - Containment: the fault is counted (`zen_watcher_plugin_faults_total{plugin,kind}`), logged at error level with
 *   the plugin's name, and the host keeps serving. While the plugin loads, its load fails (`plugins list`: failed).
 *   At `limit` faults within `windowMs`, the plugin is disabled: status `disabled` with the reason (in `plugins
 *   list` and `zen_watcher_plugins{status="disabled"}`), its taps are no longer called (its webhooks answer 503), and
 *   its emits are refused. Its timers and sockets cannot be taken back in one process (see the ADR).
 * - Anything that cannot be attributed is a host bug: crash-only. The fault is logged at fatal level and the
 *   process exits 1 at once (a supervisor restarts it), unless another handler is installed (a test runner), which
 *   then decides.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginRecord } from '../loader/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export type FaultKind = 'unhandled_rejection' | 'uncaught_exception';

interface Frame {
  domain: PluginFaults;
  record: PluginRecord;
}

const context = new AsyncLocalStorage<Frame>();
const domains = new Set<PluginFaults>();
let installed = false;

/** Runs host work (asked for by a plugin) outside any plugin's frame: what it schedules is the host's. */
export function outsidePlugins<T>(fn: () => T): T {
  return context.exit(fn);
}

export interface PluginFaultsOptions {
  log: Logger;
  metrics: Pick<Metrics, 'pluginFaults' | 'pluginsDisabled' | 'plugins'>;
  /** Faults within `windowMs` that disable a plugin (default 5). */
  limit?: number;
  /** Sliding window for `limit` (default 10 minutes). */
  windowMs?: number;
  /** Called after a plugin's fault count or status changed (e.g. to publish the status for `plugins list`). */
  onChange?: (records: readonly PluginRecord[]) => void;
  now?: () => number;
}

/** The fault domain of one host: its plugins, their recent faults, and what happens at the limit. */
export class PluginFaults {
  readonly #records: readonly PluginRecord[];
  readonly #opts: Required<Omit<PluginFaultsOptions, 'onChange'>> & Pick<PluginFaultsOptions, 'onChange'>;
  readonly #recent = new Map<string, number[]>();
  readonly #running = new Map<string, PluginRecord>();
  #dirs: { dir: string; record: PluginRecord }[] | undefined;

  constructor(records: readonly PluginRecord[], opts: PluginFaultsOptions) {
    this.#records = records;
    this.#opts = { limit: 5, windowMs: 600_000, now: Date.now, ...opts };
    installFaultHandlers();
    domains.add(this);
  }

  /** Runs plugin code inside the plugin's frame: faults it leaves behind are attributed to it. */
  run<T>(plugin: string | PluginRecord, fn: () => T): T {
    const record = typeof plugin === 'string' ? this.#record(plugin) : plugin;
    return record ? context.run({ domain: this, record }, fn) : fn();
  }

  /** Why the plugin is disabled, or undefined while it may run. */
  disabled(plugin: string): string | undefined {
    const r = this.#record(plugin);
    return r?.status === 'disabled' ? r.reason : undefined;
  }

  /**
   * The running (or disabled) plugin of that name; names are unique among them (core/loader/checks.ts). Looked up
   * twice per tap call (disabled? then run): remembered once found running, as a running record stays the plugin's
   * record (it can only become disabled, which disabled() reads from it).
   */
  #record(plugin: string): PluginRecord | undefined {
    const known = this.#running.get(plugin);
    if (known) return known;
    const running = this.#records.find((r) => r.name === plugin && (r.status === 'loaded' || r.status === 'disabled'));
    if (running) this.#running.set(plugin, running);
    return running ?? this.#records.find((r) => r.name === plugin);
  }

  /** Handles the fault if it belongs to one of this host's plugins; false if it does not. */
  handle(kind: FaultKind, error: unknown, frame: Frame | undefined): boolean {
    const record = frame ? (frame.domain === this ? frame.record : undefined) : this.#byStack(error);
    if (!record) return false;
    this.#fault(record, kind, error);
    return true;
  }

  #byStack(error: unknown): PluginRecord | undefined {
    const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
    if (!stack) return undefined;
    this.#dirs ??= this.#records.flatMap((record) => {
      const dirs = new Set([record.dir]);
      try {
        dirs.add(realpathSync(record.dir));
      } catch {}
      return [...dirs].map((dir) => ({ dir: dir.endsWith(sep) ? dir : dir + sep, record }));
    });
    for (const file of stackFiles(stack)) {
      const hit = this.#dirs.find((d) => file.startsWith(d.dir));
      if (hit) return hit.record;
    }
    return undefined;
  }

  #fault(record: PluginRecord, kind: FaultKind, error: unknown): void {
    const { log, metrics, limit, windowMs, now } = this.#opts;
    const message = describe(error);
    record.faults = (record.faults ?? 0) + 1;
    record.lastFault = `${kind.replace('_', ' ')}: ${message}`;
    metrics.pluginFaults.inc({ plugin: record.name, kind });
    const t = now();
    const recent = (this.#recent.get(record.name) ?? []).filter((at) => at > t - windowMs);
    recent.push(t);
    this.#recent.set(record.name, recent);
    const stack = error instanceof Error ? error.stack : undefined;
    log.error(
      { plugin: record.name, kind, err: message, stack, faults: record.faults, status: record.status },
      record.status === 'loaded'
        ? `plugin '${record.name}' let an error escape (${kind}); contained, the other plugins keep running (${recent.length} of ${limit} within ${windowMs / 1000} s disable it)`
        : `plugin '${record.name}' (${record.status}) let an error escape (${kind}); contained`,
    );
    if (record.status === 'loaded' && recent.length >= limit) this.#disable(record, recent.length);
    this.#opts.onChange?.(this.#records);
  }

  #disable(record: PluginRecord, n: number): void {
    const { log, metrics, windowMs } = this.#opts;
    record.status = 'disabled';
    record.code = 'ZW_ERR_PLUGIN_DISABLED';
    record.reason = `disabled after ${n} uncontained faults within ${windowMs / 1000} s (last: ${record.lastFault}); restart to enable it again`;
    metrics.plugins.set({ plugin: record.name, version: record.version, status: 'loaded' }, 0);
    metrics.plugins.set({ plugin: record.name, version: record.version, status: 'disabled' }, 1);
    metrics.pluginsDisabled.inc({ plugin: record.name });
    log.error(
      { plugin: record.name, version: record.version, reason: record.reason },
      `plugin '${record.name}' disabled: its hooks are no longer called, its webhooks answer 503 and its emits are refused`,
    );
  }
}

/** Installs the process-level handlers once per process. */
export function installFaultHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => onFault('unhandled_rejection', reason, 'unhandledRejection'));
  process.on('uncaughtException', (error, origin) =>
    onFault(
      origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught_exception',
      error,
      origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException',
    ),
  );
}

function onFault(kind: FaultKind, error: unknown, event: 'unhandledRejection' | 'uncaughtException'): void {
  const frame = context.getStore();
  if (frame?.domain.handle(kind, error, frame)) return;
  if (!frame) for (const d of domains) if (d.handle(kind, error, undefined)) return;
  // Not a plugin's fault. Another listener (a test runner) takes it; otherwise crash-only: the host's own state may
  // be broken, and a supervisor restarts a process faster than anyone can reason about it.
  if (process.listenerCount(event) > 1) return;
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(
    `${JSON.stringify({
      level: 'fatal',
      time: new Date().toISOString(),
      name: 'zen-watcher',
      kind,
      err: stack,
      msg: `${kind.replace('_', ' ')} outside any plugin (a zen-watcher bug): exiting (crash-only; please report it)`,
    })}\n`,
  );
  process.exit(1);
}

/** Files named in a V8 stack trace, top frame first (file: URLs as paths; node: internals left out). */
export function stackFiles(stack: string): string[] {
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    const m = /(?:\(|at )(file:\/\/\/[^\s)]+?|\/[^\s()]+?)(?::\d+){1,2}\)?$/.exec(line.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    out.push(file);
  }
  return out;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
