#!/usr/bin/env node
// Entry point for `npx zen-watcher`. zen-watcher runs its TypeScript sources directly, which needs Node 24
// (type stripping). When started by an older node, re-run under the Node 24 the project pins (devDependency
// `node`), so the same command works on any machine after `npm ci`.
import { spawnSync } from 'node:child_process';
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
  const res = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(res.status ?? 1);
}
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
