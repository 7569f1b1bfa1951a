/**
 * The UI's files: `ui/dist/` (index.html and assets/), built from `ui/src` by scripts/build-ui.ts with esbuild —
 * on `npm ci` (the `prepare` script), in the image build, or here at the first start when the bundle is missing
 * or older than its sources and esbuild is installed. Nothing is loaded from elsewhere: the Content-Security-Policy
 * allows this origin only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type Koa from 'koa';
import { REPO_ROOT } from '../config/env.ts';
import type { Logger } from '../telemetry/logger.ts';
import { ReadApiError } from './access.ts';

export const UI_SRC = join(REPO_ROOT, 'ui/src');
export const UI_DIST = join(REPO_ROOT, 'ui/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface UiAssets {
  /** path under /ui/ → file; undefined when the bundle is not built (the reason says how to build it). */
  files(): Map<string, { body: Buffer; type: string; etag: string }> | undefined;
  reason: string;
}

function newest(dir: string): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (f.isFile()) t = Math.max(t, statSync(join(f.parentPath, f.name)).mtimeMs);
  return t;
}

function load(dist: string): Map<string, { body: Buffer; type: string; etag: string }> | undefined {
  if (!existsSync(join(dist, 'index.html'))) return undefined;
  const out = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const f of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const full = join(f.parentPath, f.name);
    const rel = full
      .slice(dist.length + 1)
      .split('\\')
      .join('/');
    const body = readFileSync(full);
    out.set(rel, {
      body,
      type: TYPES[extname(f.name)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  return out;
}

/**
 * Loads the bundle; builds it first when it is missing or stale and esbuild is installed (a development checkout
 * after `git pull`). In an image built with the Dockerfile the bundle is already there.
 */
export async function loadUiAssets(log: Logger, dist = UI_DIST): Promise<UiAssets> {
  const stale = existsSync(UI_SRC) && newest(UI_SRC) > newest(dist);
  if (stale) {
    try {
      const { buildUi } = await import('../../scripts/build-ui.ts');
      await buildUi();
      log.info({ dist }, 'UI bundle built from ui/src');
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'the UI bundle is missing or older than ui/src and could not be built here (npm ci builds it); /ui/ serves what exists',
      );
    }
  }
  const files = load(dist);
  if (!files) log.warn({ dist }, 'no UI bundle: /ui/ answers 503 until `npm run build:ui` has run');
  return {
    files: () => files,
    reason: 'the UI bundle is not built: run `npm run build:ui` (npm ci does it) and restart',
  };
}

export async function serveUi(ctx: Koa.Context, ui: UiAssets): Promise<void> {
  const files = ui.files();
  if (!files) throw new ReadApiError(503, 'ZW_ERR_NOT_READY', ui.reason);
  if (ctx.path === '/ui') {
    ctx.redirect('/ui/');
    return;
  }
  const rel = ctx.path === '/ui/' ? 'index.html' : ctx.path.slice('/ui/'.length);
  const f = files.get(rel);
  if (!f) throw new ReadApiError(404, 'ZW_ERR_NOT_FOUND', `no UI file ${ctx.path}`);
  ctx.set('content-security-policy', CSP);
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('cache-control', 'no-cache');
  ctx.set('etag', f.etag);
  if (ctx.get('if-none-match') === f.etag) {
    ctx.status = 304;
    return;
  }
  ctx.type = f.type;
  ctx.body = f.body;
}
