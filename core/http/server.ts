/**
 * The HTTP side (koa + @koa/router): fixed routes for health, readiness and metrics, and the webhook paths of the
 * current Ingesters, looked up per request so Ingester changes apply without a restart. Every error is JSON
 * `{error, reason, field?}` with a specific status; a 2xx is only sent once the route's handler says the events
 * are safe. This module knows nothing about plugins or the pipeline: routes come from the host.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type RouterType from '@koa/router';
import Koa from 'koa';
import { CLIENT_ERROR_CODES, ZwError } from '../api/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Authenticator, AuthOutcome } from './auth.ts';
import { checkCharset, checkContentEncoding, checkContentType, mediaType, parseJsonBody, readBody } from './body.ts';
import { type ClientLimiter, clientAddress } from './client-limit.ts';
import type { ClientSignal } from './request-signal.ts';

// @koa/router's CommonJS build, not its ES module: that one does `import http from "http"`, and an ES module
// namespace of node:http runs node:http's lazy getters (WebSocket and friends: undici, plus http2, tls, zlib),
// about 14 MB of idle RSS for nothing (docs/BENCHMARKS.md, idle RSS). Same code, same version.
const Router = createRequire(import.meta.url)('@koa/router') as typeof RouterType;

export interface WebhookCall {
  body: unknown;
  jsonLines: boolean;
  rawBody: Buffer;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  contentType: string;
  /** Aborts when the client goes away; a function, so the signal is made only if a handler asks for it. */
  signal: ClientSignal;
  remoteAddress: string;
  /** HMAC with a timestamp: the signed time (ms), the request's own time for events that carry none. */
  signedAt?: number;
}

export interface WebhookRoute {
  path: string;
  methods: readonly string[];
  maxBodyBytes: number;
  /** The metrics `endpoint` label (the Ingester's source). */
  endpoint: string;
  /** Called before reading the body: refuse early (429/503) by returning a ZwError. */
  admit(): ZwError | undefined;
  /** Per-Ingester authentication; undefined = unauthenticated (warned about at startup). */
  authenticator?: Authenticator | undefined;
  handle(call: WebhookCall): Promise<{ status: number; body: unknown }>;
}

export interface HttpOptions {
  routes: () => ReadonlyMap<string, WebhookRoute>;
  /** Per-client-IP request limit for webhook paths. */
  clientLimiter?: ClientLimiter | undefined;
  /** Peers whose X-Forwarded-For is believed. */
  trustedProxies?: BlockList | undefined;
  /** With mTLS: webhook requests must present a client certificate the listener verified. */
  requireClientCert?: boolean;
  /** Longest accepted request target (path + query), bytes. Default 2048. */
  maxUrlLength?: number;
  live: () => { ok: boolean; reason?: string };
  ready: () => { ok: boolean; reason?: string };
  metrics: Metrics;
  log: Logger;
  /** Runs before the fixed and webhook routes (the read API and UI in standalone mode); calls next() for others. */
  extra?: Koa.Middleware | undefined;
}

/** Longest reason and field echoed in an error body: input quoted in a message (a 900 KB severity) is cut. */
export const MAX_ERROR_REASON_CHARS = 512;
export const MAX_ERROR_FIELD_CHARS = 256;

const cap = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

export function errorBody(err: ZwError) {
  return {
    error: err.code,
    reason: cap(err.message, MAX_ERROR_REASON_CHARS),
    ...(err.field !== undefined ? { field: cap(err.field, MAX_ERROR_FIELD_CHARS) } : {}),
  };
}

/** Paths koa must see even if an Ingester claims them: the fixed routes, the read API and the UI. */
/** Paths the listener answers itself, never a webhook (core/config/validate.ts reservedFor must follow: a test holds them together). */
export function koaOnly(path: string): boolean {
  return (
    path === '/' ||
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/metrics' ||
    path === '/ui' ||
    path.startsWith('/ui/') ||
    path.startsWith('/api/')
  );
}

/**
 * The listener: requests to a current Ingester's webhook path are served directly on node:http (no koa context,
 * router or middleware chain per alert: issue #18); everything else (health, metrics, read API, UI, 404s) goes
 * through the koa app. Both answer webhooks with the same function, so the answers are the same.
 */
export function createHttpHandler(opts: HttpOptions): RequestListener {
  const koa = createHttpApp(opts).callback();
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = koaOnly(path) ? undefined : opts.routes().get(path);
    if (route) void serveWebhook(req, res, path, route, opts);
    else void koa(req, res);
  };
}

export function createHttpApp(opts: HttpOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  const router = new Router();

  router.get('/healthz', (ctx) => {
    const h = opts.live();
    ctx.status = h.ok ? 200 : 503;
    ctx.body = { status: h.ok ? 'ok' : 'unhealthy', ...(h.reason ? { reason: h.reason } : {}) };
  });
  router.get('/readyz', (ctx) => {
    const r = opts.ready();
    ctx.status = r.ok ? 200 : 503;
    ctx.body = { status: r.ok ? 'ready' : 'not_ready', ...(r.reason ? { reason: r.reason } : {}) };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = opts.metrics.registry.contentType;
    ctx.body = await opts.metrics.registry.metrics();
  });

  // Outermost: turn any error into the JSON error shape; never let koa print a stack or plain text.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const forClient = err instanceof ZwError && CLIENT_ERROR_CODES.has(err.code);
      const zw = forClient ? err : new ZwError('ZW_ERR_PLUGIN_FAILED', 'internal error', { cause: err });
      if (!forClient) opts.log.error({ err, path: ctx.path }, 'unhandled error in request');
      ctx.status = zw.status;
      if (zw.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(zw.retryAfterSeconds));
      if (zw.status === 413) ctx.set('Connection', 'close');
      ctx.body = errorBody(zw);
    }
  });

  if (opts.extra) app.use(opts.extra);
  app.use(router.routes());
  // A wrong method on a fixed route (/healthz, /readyz, /metrics) is a JSON error like every other: the router
  // sets 405 (or 501) and Allow; the body is ours.
  app.use(async (ctx, next) => {
    await next();
    if ((ctx.status === 405 || ctx.status === 501) && (ctx.body === undefined || ctx.body === null)) {
      const status = ctx.status;
      const allow = ctx.response.get('Allow');
      ctx.body = errorBody(
        new ZwError('ZW_ERR_METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; use ${allow || 'GET'}`, {
          status,
        }),
      );
      ctx.status = status;
    }
  });
  app.use(router.allowedMethods({ throw: false }));

  // Webhook paths of the current Ingesters (and the 404/405 of paths nobody serves). Answered by serveWebhook on the
  // raw request, as createHttpHandler's fast path does: koa does not touch the response.
  app.use(async (ctx, next) => {
    if (ctx.matched && ctx.matched.length > 0) return next();
    ctx.respond = false;
    await serveWebhook(ctx.req, ctx.res, ctx.path, opts.routes().get(ctx.path), opts);
  });
  return app;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Sends a JSON answer the way koa would (status, JSON content type, length; no body for HEAD). */
function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  if (res.writableEnded || res.destroyed || res.headersSent) return;
  const json = JSON.stringify(body);
  // Raw headers to writeHead: nothing kept per header name (setHeader builds a header map per response).
  const raw = ['Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(json))];
  if (headers) for (const k in headers) raw.push(k, headers[k]!);
  res.writeHead(status, raw);
  if (req.method === 'HEAD') res.end();
  else res.end(json);
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(', ') : v;
  return s || undefined;
};

/** One webhook request, start to answer; never throws (every failure is a JSON error answer). */
async function serveWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  route: WebhookRoute | undefined,
  opts: HttpOptions,
): Promise<void> {
  const started = performance.now();
  const endpoint = route?.endpoint ?? 'unknown';
  let authed: AuthOutcome | undefined;
  let status = 500;
  let allow: string | undefined;
  try {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    if (url.length > (opts.maxUrlLength ?? 2048)) {
      throw new ZwError('ZW_ERR_URI_TOO_LONG', `request target longer than ${opts.maxUrlLength ?? 2048} bytes`);
    }
    if (!route) throw new ZwError('ZW_ERR_NOT_FOUND', `no Ingester serves ${path}`);
    if (!route.methods.includes(method)) {
      allow = route.methods.join(', ');
      throw new ZwError(
        'ZW_ERR_METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${path}; use ${route.methods.join(' or ')}`,
      );
    }
    if (opts.requireClientCert && !(req.socket as TLSSocket).authorized) {
      throw new ZwError('ZW_ERR_UNAUTHORIZED', 'a client certificate signed by the configured CA is required');
    }
    const client = clientAddress(req.socket.remoteAddress ?? '', header(req, 'x-forwarded-for'), opts.trustedProxies);
    const limited = opts.clientLimiter?.take(client, Date.now());
    if (limited) throw limited;
    const rawType = header(req, 'content-type');
    const contentType = mediaType(rawType);
    checkContentType(contentType);
    const charset = checkCharset(rawType);
    const encoding = checkContentEncoding(header(req, 'content-encoding'));
    const auth = route.authenticator;
    if (auth && !auth.needsBody) auth.check(req.headers, undefined, Date.now());
    const refused = route.admit();
    if (refused) throw refused;
    // Decoded (Content-Encoding) within the same limit; HMAC signatures cover the decoded body.
    const raw = await readBody(req, route.maxBodyBytes, encoding);
    if (auth?.needsBody) authed = auth.check(req.headers, raw, Date.now());
    const parsed = parseJsonBody(raw, contentType, charset);
    // The client's abort, made only if the handler reads its signal (issue #18). The request stream has ended
    // (and closed) once its body was read: the response's close tells that the client went away before the answer.
    let abort: AbortController | undefined;
    let onClose: (() => void) | undefined;
    const clientSignal = (): AbortSignal => {
      if (abort) return abort.signal;
      const ac = new AbortController();
      abort = ac;
      const gone = () => new ZwError('ZW_ERR_ABORTED', 'client went away');
      if (res.destroyed || req.socket.destroyed) ac.abort(gone());
      else if (!res.writableEnded) {
        onClose = () => {
          if (!res.writableEnded) ac.abort(gone());
        };
        res.once('close', onClose);
      }
      return ac.signal;
    };
    let answer: { status: number; body: unknown };
    try {
      const call: WebhookCall = {
        body: parsed.value,
        jsonLines: parsed.jsonLines,
        rawBody: raw,
        headers: req.headers,
        contentType,
        signal: clientSignal,
        remoteAddress: client,
      };
      if (authed?.signedAt !== undefined) call.signedAt = authed.signedAt;
      answer = await route.handle(call);
    } finally {
      if (onClose) res.off('close', onClose);
    }
    status = answer.status;
    sendJson(req, res, status, answer.body);
    // Only an answered success uses the signature up; any failure leaves it for the sender's retry.
    if (status >= 200 && status < 300) authed?.claim?.accept();
  } catch (err) {
    const forClient = err instanceof ZwError && CLIENT_ERROR_CODES.has(err.code);
    const zw = forClient ? err : new ZwError('ZW_ERR_PLUGIN_FAILED', 'internal error', { cause: err });
    if (!forClient) opts.log.error({ err, path }, 'unhandled error in webhook');
    else if (zw.status >= 500)
      opts.log.warn(
        { path, code: zw.code, reason: zw.message, cause: (zw.cause as Error | undefined)?.message },
        'webhook failed',
      );
    status = zw.status;
    const extra: Record<string, string> = {};
    if (allow !== undefined) extra.Allow = allow;
    if (zw.retryAfterSeconds !== undefined) extra['Retry-After'] = String(zw.retryAfterSeconds);
    if (zw.status === 413) extra.Connection = 'close';
    sendJson(req, res, status, errorBody(zw), extra);
  } finally {
    authed?.claim?.release(); // no-op after accept()
    opts.metrics.webhookRequests.inc({ endpoint, status: String(status) });
    opts.metrics.webhookDuration.observe({ endpoint }, (performance.now() - started) / 1000);
  }
}
