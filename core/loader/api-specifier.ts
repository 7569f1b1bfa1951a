/**
 * Lets plugins outside the repo `import { definePlugin } from 'zen-watcher/plugin-api'` with no install step:
 * a module resolve hook maps that one specifier to this host's core/api/index.ts. Registered once per process.
 */
import { registerHooks } from 'node:module';

export const PLUGIN_API_SPECIFIER = 'zen-watcher/plugin-api';
const API_URL = new URL('../api/index.ts', import.meta.url).href;
let registered = false;

export function registerPluginApiSpecifier(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === PLUGIN_API_SPECIFIER) return { url: API_URL, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}
