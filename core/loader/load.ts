/**
 * Imports an admitted plugin's entry and runs its register(api). Failures (import throws, wrong export shape,
 * name mismatch, register throws or hangs) mark the record `failed` with a reason; the host keeps running.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginApi } from '../api/index.ts';
import type { PluginHooksHandle } from '../hooks/facade.ts';
import type { PluginRecord } from './discover.ts';

export interface RegisterContext {
  api: PluginApi;
  handle: PluginHooksHandle;
}

export async function importAndRegister(
  record: PluginRecord,
  makeContext: (record: PluginRecord) => RegisterContext,
  timeoutMs = 10_000,
): Promise<void> {
  if (record.status !== 'loaded' || !record.manifest) return;
  const entry = join(record.dir, record.manifest.entry);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  } catch (err) {
    fail(record, 'ZW_ERR_PLUGIN_IMPORT', `importing ${record.manifest.entry} threw: ${describe(err)}`);
    return;
  }
  const plugin = mod.default as { name?: unknown; version?: unknown; register?: unknown } | undefined;
  if (!plugin || typeof plugin !== 'object' || typeof plugin.register !== 'function') {
    fail(
      record,
      'ZW_ERR_PLUGIN_SHAPE',
      `${record.manifest.entry} must default-export definePlugin({ name, version, register })`,
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
  try {
    await Promise.race([
      Promise.resolve().then(() => (plugin.register as (api: PluginApi) => unknown)(ctx.api)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`register() did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    ctx.handle.commit();
  } catch (err) {
    ctx.handle.discard();
    fail(record, 'ZW_ERR_PLUGIN_REGISTER', `register() threw: ${describe(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

function fail(record: PluginRecord, code: NonNullable<PluginRecord['code']>, reason: string) {
  record.status = 'failed';
  record.code = code;
  record.reason = reason;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
