/**
 * Lets plugins outside the repo `import { definePlugin } from 'zen-watcher/plugin-api'` (and their tests
 * `zen-watcher/testkit`) with no install step: a module resolve hook maps those specifiers to this host's files.
 * Registered once per process.
 */
import { registerHooks } from 'node:module';

export const PLUGIN_API_SPECIFIER = 'zen-watcher/plugin-api';
export const TESTKIT_SPECIFIER = 'zen-watcher/testkit';
// `.ts` in the repository and the image; `.js` in the compiled plugin SDK (scripts/sdk.ts).
const EXT = import.meta.url.endsWith('.js') ? '.js' : '.ts';
const TARGETS: Record<string, string> = {
  [PLUGIN_API_SPECIFIER]: new URL(`../api/index${EXT}`, import.meta.url).href,
  [TESTKIT_SPECIFIER]: new URL(`../testkit/index${EXT}`, import.meta.url).href,
};
let registered = false;

export function registerPluginApiSpecifier(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const url = Object.hasOwn(TARGETS, specifier) ? TARGETS[specifier] : undefined;
      if (url) return { url, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}
