/**
 * Fills Node's module compile cache ahead of the first start (issue #18: `npm start` idle RSS under 100 MB).
 *
 * Why: the first start after an install or upgrade strips the types of every TypeScript module it loads. The type
 * stripper is a WebAssembly module whose memory stays with the process, so that start idles at 114–129 MB where every
 * later start (served from the cache, no stripping) idles at ~92 MB. Importing every runtime module once here, with
 * the cache on, makes the user's first `npm start` a warm one. Run by `npm ci`/`npm install` (`prepare`) and by the
 * image build (Dockerfile), with the same Node, paths and flags as the start (`--max-semi-space-size=16 --v8-pool-size=1
 * --expose-gc`: V8 rejects a code cache made under other flags).
 *
 * Usage: node --max-semi-space-size=16 --v8-pool-size=1 --expose-gc scripts/warm-compile-cache.ts [DIR]
 *   DIR defaults to what bin/zen-watcher.js uses: $ZEN_COMPILE_CACHE, else <tmpdir>/zen-watcher-compile-cache.
 * Does nothing when ZEN_COMPILE_CACHE=off or NODE_COMPILE_CACHE is set (the start would not read this cache).
 * Never fails the install: a module that cannot be imported on its own is skipped (it is still compiled: a
 * resolution error comes after the module's source was stripped and cached).
 */
import { readdirSync } from 'node:fs';
import { enableCompileCache, flushCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const setting = process.env.ZEN_COMPILE_CACHE?.trim();
const dir = process.argv[2] || setting || join(tmpdir(), 'zen-watcher-compile-cache');

/** Runtime modules only: no tests, no generated declarations, no bench or UI sources (the UI is bundled). */
function modulesUnder(folder: string, out: string[] = []): string[] {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (!['test', 'node_modules', 'dist'].includes(entry.name)) modulesUnder(path, out);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

if (setting === 'off' || process.env.NODE_COMPILE_CACHE) {
  process.stdout.write('compile cache: off (ZEN_COMPILE_CACHE=off or NODE_COMPILE_CACHE set), nothing to warm\n');
} else {
  const started = Date.now();
  const result = enableCompileCache(dir);
  if (!result.directory) {
    process.stdout.write(`compile cache: not warmed (${result.message ?? 'cannot use the directory'})\n`);
  } else {
    // Plugins import `zen-watcher/plugin-api`, which the host resolves with a module hook: install the same one.
    const { registerPluginApiSpecifier } = await import('../core/loader/index.ts');
    registerPluginApiSpecifier();
    const files = [...modulesUnder(join(root, 'core')), ...modulesUnder(join(root, 'plugins'))];
    let skipped = 0;
    for (const file of files) {
      try {
        await import(pathToFileURL(file).href);
      } catch {
        skipped++;
      }
    }
    flushCompileCache();
    process.stdout.write(
      `compile cache: ${files.length - skipped} of ${files.length} modules warmed in ${result.directory} ` +
        `(${Date.now() - started} ms)\n`,
    );
  }
}
// A module that started a timer or a handle when imported must not hold `npm ci` open.
process.exit(0);
