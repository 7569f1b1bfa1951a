/**
 * Builds the UI bundle (ui/src → ui/dist) with esbuild: one JavaScript file, one CSS file and index.html, all
 * served by zen-watcher itself under /ui/. Run by `npm ci` (prepare), `npm run build:ui`, the Dockerfile, and at
 * start-up when the bundle is missing or stale. ui/dist is not committed: it is built from the locked packages.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function buildUi(out = join(ROOT, 'ui/dist')): Promise<void> {
  const esbuild = await import('esbuild');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'assets'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(ROOT, 'ui/src/main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outfile: join(out, 'assets/app.js'),
    legalComments: 'linked',
    logLevel: 'warning',
  });
  copyFileSync(join(ROOT, 'ui/src/index.html'), join(out, 'index.html'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildUi();
  console.log('UI built into ui/dist');
}
