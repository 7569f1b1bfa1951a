/**
 * The entry point (`npm start`, the image, `npx zen-watcher`): turns on Node's module compile cache, then loads the
 * CLI (commands.ts). With the cache, a start after the first one neither strips types nor compiles the sources
 * again, which saves about 30 MB of idle RSS (no TypeScript WebAssembly, no first-compile garbage) and start-up CPU
 * (issue #18, ADR 0021). `ZEN_COMPILE_CACHE` is the directory (default: `<tmpdir>/zen-watcher-compile-cache`; `off`
 * = none); Node's own `NODE_COMPILE_CACHE` wins when set. A directory that cannot be written only means no cache.
 */
import { enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env.ZEN_COMPILE_CACHE?.trim();
  if (v === 'off') return undefined;
  return v || join(tmpdir(), 'zen-watcher-compile-cache');
}

/** Turns the compile cache on for every module loaded after this call (a no-op when Node's own is on). */
export function useCompileCache(): void {
  if (process.env.NODE_COMPILE_CACHE) return;
  const dir = compileCacheDir();
  if (!dir) return;
  try {
    enableCompileCache(dir);
  } catch {} // no cache: a slower start, nothing else
}

if (import.meta.main) useCompileCache();

export async function main(argv: string[]): Promise<number> {
  const commands = await import('./commands.ts');
  return commands.main(argv);
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // After a graceful stop nothing is left to do; do not wait for idle sockets or timers of libraries.
      if (process.argv[2] === undefined || process.argv[2] === 'run') setImmediate(() => process.exit(code));
    },
    (err) => {
      process.stderr.write(`zen-watcher: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
