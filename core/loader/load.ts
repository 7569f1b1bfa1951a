/**
 * Imports an admitted plugin's entry and runs its register(api). Failures (import throws, wrong export shape,
 * name mismatch, register throws or hangs, or an error escapes either: an unhandled rejection, a throwing timer)
 * mark the record `failed` with a reason; the host keeps running.
 */
import { join } from 'node:path';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { PluginApi } from '../api/index.ts';
import { errorText, ZwError } from '../api/index.ts';
import type { PluginHooksHandle } from '../hooks/facade.ts';
import type { PluginRecord } from './discover.ts';

export interface RegisterContext {
  api: PluginApi;
  handle: PluginHooksHandle;
}

/** Runs plugin code in the plugin's fault context (core/host/plugin-faults.ts), which counts escaped errors in
 * `record.faults`. Without one, an escaped error is Node's default: the process ends. */
export interface LoadFaults {
  run<T>(record: PluginRecord, fn: () => T): T;
}

export async function importAndRegister(
  record: PluginRecord,
  makeContext: (record: PluginRecord) => RegisterContext,
  timeoutMs = 10_000,
  faults?: LoadFaults,
): Promise<void> {
  if (record.status !== 'loaded' || !record.manifest) return;
  const entry = join(record.dir, record.manifest.entry);
  const inPlugin = <T>(fn: () => T): T => (faults ? faults.run(record, fn) : fn());
  // Node reports an unhandled rejection once the microtask queue is empty: wait one macrotask so that what the
  // module's top level (or register) left behind is attributed before we go on.
  const escapedSince = async (before: number) => {
    await nextMacrotask();
    return (record.faults ?? 0) > before ? record.lastFault : undefined;
  };
  let mod: { default?: unknown };
  let faults0 = record.faults ?? 0;
  try {
    mod = (await inPlugin(() => import(pathToFileURL(entry).href))) as { default?: unknown };
  } catch (err) {
    fail(record, 'ZW_ERR_PLUGIN_IMPORT', `importing ${record.manifest.entry} threw: ${errorText(err)}`);
    return;
  }
  const importFault = await escapedSince(faults0);
  if (importFault !== undefined) {
    fail(record, 'ZW_ERR_PLUGIN_IMPORT', `importing ${record.manifest.entry}: an error escaped (${importFault})`);
    return;
  }
  const plugin = mod.default as { name?: unknown; version?: unknown; register?: unknown } | undefined;
  if (!plugin || typeof plugin !== 'object' || typeof plugin.register !== 'function') {
    fail(
      record,
      'ZW_ERR_PLUGIN_SHAPE',
      `${record.manifest.entry} must default-export definePlugin({ name, register })`,
    );
    return;
  }
  if (plugin.name !== record.name) {
    fail(
      record,
      'ZW_ERR_PLUGIN_SHAPE',
      `definePlugin name '${String(plugin.name)}' must equal the package name '${record.name}'`,
    );
    return;
  }
  const ctx = makeContext(record);
  let timer: NodeJS.Timeout | undefined;
  faults0 = record.faults ?? 0;
  try {
    await Promise.race([
      inPlugin(() => Promise.resolve().then(() => (plugin.register as (api: PluginApi) => unknown)(ctx.api))),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new ZwError('ZW_ERR_PLUGIN_REGISTER', `register() did not finish within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    const fault = await escapedSince(faults0);
    if (fault !== undefined) {
      ctx.handle.discard();
      fail(record, 'ZW_ERR_PLUGIN_REGISTER', `register(): an error escaped (${fault})`);
      return;
    }
    ctx.handle.commit();
  } catch (err) {
    ctx.handle.discard();
    fail(record, 'ZW_ERR_PLUGIN_REGISTER', `register() threw: ${errorText(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

function fail(record: PluginRecord, code: NonNullable<PluginRecord['code']>, reason: string) {
  record.status = 'failed';
  record.code = code;
  record.reason = reason;
}
