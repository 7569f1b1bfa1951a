#!/usr/bin/env node
// Entry point for `npx zen-watcher`, `npm start` and the image. zen-watcher runs its TypeScript sources directly, which needs Node 24
// (type stripping). When started by an older node, re-run under the Node 24 the project pins (devDependency
// `node`), forwarding signals, so the same command works on any machine after `npm ci`. Under Node 24 `run`
// handles SIGTERM/SIGINT itself (core/cli/signals.ts): one graceful stop, repeats ignored.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
if (major < 24 || !process.features.typescript) {
  const pinned = `${root}node_modules/node/bin/node`;
  if (!existsSync(pinned)) {
    process.stderr.write(
      `zen-watcher needs Node.js 24 or newer (this is ${process.version}); run 'npm ci' to install the pinned one.\n`,
    );
    process.exit(1);
  }
  // Loaded only here: node:child_process at the top would cost a Node 24 process about 3 MB of idle RSS.
  const { spawn } = await import('node:child_process');
  const { constants } = await import('node:os');
  const child = spawn(pinned, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  // A signal that ends the child is reported as the shell does: 128 + its number.
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1)));
} else {
  // The compile cache goes on before the first TypeScript file loads, so a warm start strips no types at all
  // (core/cli/main.ts says more; same directory and switch).
  if (!process.env.NODE_COMPILE_CACHE && process.env.ZEN_COMPILE_CACHE?.trim() !== 'off') {
    const { enableCompileCache } = await import('node:module');
    const { tmpdir } = await import('node:os');
    try {
      enableCompileCache(process.env.ZEN_COMPILE_CACHE?.trim() || `${tmpdir()}/zen-watcher-compile-cache`);
    } catch {}
  }
  const { main } = await import('../core/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
  if (process.argv[2] === undefined || process.argv[2] === 'run') process.exit(process.exitCode);
}
