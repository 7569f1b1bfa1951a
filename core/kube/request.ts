/**
 * One HTTP connection to the API server, for raw requests by path: Observation writes, lists, watches, discovery,
 * deletes. It runs on transport.ts (node:http2, one multiplexed connection; HTTP/1.1 when the server does not offer
 * HTTP/2) with the kubeconfig's TLS and authentication (token, token file, client certificate, exec plugin), or,
 * for a cluster behind a `proxy-url`, on client-node's own transport (`RequestContext` +
 * `IsomorphicFetchHttpLibrary`). On top: a reused connection, a per-request timeout, an AbortSignal and errors
 * that carry the HTTP status (`ApiException.code`).
 */
import { createRequire } from 'node:module';
import type {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node';
// The class client-node's APIs throw, from its own small module: the package's index loads every generated API.
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { ZwError } from '../api/errors.ts';
import { authHeaders, readText, Transport } from './transport.ts';

export const KUBE_USER_AGENT = 'zen-watcher';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeRequest {
  method?: Method;
  /** Absolute API path, e.g. `/apis/zen.kube-zen.io/v1alpha1/namespaces/a/observations`. */
  path: string;
  /** Undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default `application/json` when there is a body. */
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the connection's default; 0 = none (watches bound themselves). */
  timeoutMs?: number;
  /** The Accept header; default `application/json` (e.g. metadata only: `…;as=PartialObjectMetadataList;…`). */
  accept?: string;
}

/** A request that failed before any HTTP status (refused, reset, TLS, timeout, abort). */
export class KubeTransportError extends ZwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ZW_ERR_KUBE_TRANSPORT', message, options);
    this.name = 'KubeTransportError';
  }
}

export interface KubeConnectionOptions {
  /** Default 30 000 ms per request (watches pass 0 and rely on their own stall timer). */
  requestTimeoutMs?: number;
  /** Default `zen-watcher`. */
  userAgent?: string;
}

/**
 * Requests this process sent to the API server, by verb (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`,
 * `DELETE`): every KubeConnection counts here, so a replica's whole API traffic is one figure
 * (`zen_watcher_kube_requests_total`, read at scrape time). LIST: a GET with list parameters (`limit`, `continue`,
 * a selector) or on a collection path.
 */
export const kubeRequestCounts = new Map<string, number>();

function countRequest(req: KubeRequest): void {
  const q = req.query ?? {};
  const has = (k: string) => q[k] !== undefined && q[k] !== false && q[k] !== 'false';
  countKubeRequest(req.method ?? 'GET', has);
}

/**
 * Counts one request in `kubeRequestCounts`: for clients that do not go through KubeConnection (client-node APIs
 * with our own auth hook: the Observation writer's pooled client, the Lease lock). `url` is the full request URL.
 */
export function countKubeRequestUrl(method: string, url: string): void {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    params = new URLSearchParams();
  }
  countKubeRequest(method, (k) => params.has(k) && params.get(k) !== 'false');
}

function countKubeRequest(method: string, has: (param: string) => boolean): void {
  const m = method.toUpperCase();
  let verb = m;
  if (m === 'GET') {
    if (has('watch')) verb = 'WATCH';
    else if (has('limit') || has('continue') || has('labelSelector') || has('fieldSelector')) verb = 'LIST';
  }
  kubeRequestCounts.set(verb, (kubeRequestCounts.get(verb) ?? 0) + 1);
}

/** An answer whatever its status; the body is not read yet. */
export interface KubeResponse {
  httpStatusCode: number;
  headers: Record<string, string>;
  body: {
    text(): Promise<string>;
    /** Chunks as they arrive; breaking out of the iteration (or the request's signal) closes the stream. */
    stream(): AsyncIterable<Uint8Array>;
  };
}

/**
 * A connection (one HTTP/2 session, or one undici dispatcher for a proxied cluster, kept alive and reused) to the current cluster of a KubeConfig. A request that
 * fails without an HTTP status drops the dispatcher, so the next one starts on a fresh connection.
 */
export class KubeConnection {
  readonly server: string;
  readonly requestTimeoutMs: number;
  readonly #kc: KubeConfig;
  readonly #userAgent: string;
  #http: IsomorphicFetchHttpLibrary | undefined;
  #dispatcher: Dispatcher | undefined;
  /** Undefined for a cluster behind a proxy-url (client-node's transport then). */
  readonly #transport: Transport | undefined;

  constructor(kc: KubeConfig, opts: KubeConnectionOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new ZwError('ZW_ERR_KUBE_CONFIG', 'KubeConnection: the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.#kc = kc;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#userAgent = opts.userAgent ?? KUBE_USER_AGENT;
    this.#transport = (cluster as { proxyUrl?: string }).proxyUrl ? undefined : new Transport(this.server, kc);
  }

  /**
   * Sends the request; resolves with the response whatever its status. The body is read as the caller reads it,
   * or (`buffer`, every request but a watch) in full before the answer resolves.
   */
  async send(req: KubeRequest, buffer = false): Promise<KubeResponse> {
    countRequest(req);
    if (this.#transport) return this.#sendThin(this.#transport, req, buffer);
    const rsp = await this.#sendClientNode(req);
    return {
      httpStatusCode: rsp.httpStatusCode,
      headers: rsp.headers,
      body: {
        text: () => rsp.body.text(),
        stream: () => {
          const s = rsp.body.stream();
          if (!s) throw new KubeTransportError(`${req.method ?? 'GET'} ${req.path}: the response has no body`);
          return s as unknown as AsyncIterable<Uint8Array>;
        },
      },
    };
  }

  async #sendThin(t: Transport, req: KubeRequest, buffer: boolean): Promise<KubeResponse> {
    let path = req.path;
    const q = req.query;
    if (q) {
      let sep = path.includes('?') ? '&' : '?';
      for (const k in q) {
        const v = q[k];
        if (v === undefined) continue;
        path += `${sep}${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
        sep = '&';
      }
    }
    const method = req.method ?? 'GET';
    try {
      const headers = await authHeaders(this.#kc);
      headers['user-agent'] = this.#userAgent;
      headers.accept = req.accept ?? 'application/json';
      let body: string | undefined;
      if (req.body !== undefined) {
        headers['content-type'] = req.contentType ?? 'application/json';
        body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      }
      const rsp = await t.request({
        method,
        path,
        headers,
        body,
        signal: req.signal,
        timeoutMs: req.timeoutMs ?? this.requestTimeoutMs,
        buffer,
      });
      return {
        httpStatusCode: rsp.status,
        headers: rsp.headers,
        body: { text: () => readText(rsp.body), stream: () => rsp.body },
      };
    } catch (err) {
      // No drop here: the transport already forgot a connection that failed or timed out, and closing a healthy
      // HTTP/2 connection for one failed stream would fail every other request on it.
      throw new KubeTransportError(`${method} ${req.path}: ${errorText(err)}`, { cause: err });
    }
  }

  async #sendClientNode(req: KubeRequest): Promise<ResponseContext> {
    const url = new URL(this.server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    // Only a cluster behind a proxy-url gets here: client-node's transport, loaded on first use.
    const cn = clientNode();
    this.#http ??= new cn.IsomorphicFetchHttpLibrary();
    const ctx: RequestContext = new cn.RequestContext(url.toString(), (req.method ?? 'GET') as HttpMethod);
    await this.#kc.applySecurityAuthentication(ctx);
    // KubeConfig builds a new dispatcher per request; keep the first one so connections are reused.
    const fresh = ctx.getDispatcher();
    if (fresh !== undefined) {
      this.#dispatcher ??= fresh;
      ctx.setDispatcher(this.#dispatcher);
    }
    ctx.setHeaderParam('User-Agent', this.#userAgent);
    ctx.setHeaderParam('Accept', req.accept ?? 'application/json');
    if (req.body !== undefined) {
      ctx.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(req.body));
    }
    const timeoutMs = req.timeoutMs ?? this.requestTimeoutMs;
    const signals = [req.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    if (signals.length > 0) ctx.setSignal(signals.length === 1 ? signals[0]! : AbortSignal.any(signals));
    try {
      return await this.#http.send(ctx).toPromise();
    } catch (err) {
      this.#drop();
      throw new KubeTransportError(`${ctx.getHttpMethod()} ${req.path}: ${errorText(err)}`, { cause: err });
    }
  }

  /** Sends the request and parses a JSON body; a status ≥ 400 becomes `ApiException` (`.code`, Status body). */
  async json<T>(req: KubeRequest, info?: { bytes?: number }): Promise<T> {
    const rsp = await this.send(req, true);
    const text = await this.#bodyText(rsp, req);
    if (rsp.httpStatusCode >= 400) throw apiError(rsp.httpStatusCode, req, text, rsp.headers);
    if (info) info.bytes = text.length;
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** The whole body as text; a failure to read it drops the connection (its state is unknown). */
  async #bodyText(rsp: KubeResponse, req: KubeRequest): Promise<string> {
    try {
      return await rsp.body.text();
    } catch (err) {
      this.#drop();
      throw new KubeTransportError(`${req.method ?? 'GET'} ${req.path}: reading the body: ${errorText(err)}`, {
        cause: err,
      });
    }
  }

  /** Drops the connection (e.g. after a stalled watch): the next request opens a new one. */
  drop(): void {
    this.#transport?.drop();
    this.#drop();
  }

  /**
   * Sends the request and reads the body without parsing it (a write whose answer is not needed); a status ≥ 400
   * becomes `ApiException` like `json`.
   */
  async call(req: KubeRequest): Promise<void> {
    const rsp = await this.send(req, true);
    // Thin transport: the body is in memory already; it is decoded only to say what went wrong.
    if (rsp.httpStatusCode < 400 && this.#transport) return;
    const text = await this.#bodyText(rsp, req);
    if (rsp.httpStatusCode >= 400) throw apiError(rsp.httpStatusCode, req, text, rsp.headers);
  }

  /** Closes the connection; the next request opens a new one. */
  async close(): Promise<void> {
    await this.#transport?.close();
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    await d?.close().catch(() => {});
  }

  /** After a failure without an HTTP status: client-node's dispatcher is replaced (the thin transport decides itself). */
  #drop(): void {
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    d?.destroy().catch(() => {});
  }
}

export { ApiException };

/** client-node, loaded when first needed (require of its ES module, so callers stay synchronous). */
export function clientNode(): typeof import('@kubernetes/client-node') {
  return createRequire(import.meta.url)('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
}

/** `ApiException` with the server's Status message in the text, so logs say what the server said. */
export function apiError(
  status: number,
  req: Pick<KubeRequest, 'method' | 'path'>,
  text: string,
  headers: Record<string, string> = {},
): ApiException<unknown> {
  let body: unknown = text;
  let reason = '';
  try {
    body = JSON.parse(text);
    const msg = (body as { message?: unknown }).message;
    if (typeof msg === 'string') reason = `: ${msg}`;
  } catch {
    if (text) reason = `: ${text.slice(0, 200)}`;
  }
  return new ApiException(status, `${req.method ?? 'GET'} ${req.path}: HTTP ${status}${reason}`, body, headers);
}

/** The HTTP status of an error from this module or client-node, if it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' || group === 'core' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** Collection path of a resource, namespaced or across all namespaces; with `name`, the object's path. */
export function resourcePath(ref: {
  group: string;
  version: string;
  resource: string;
  namespace?: string | undefined;
  name?: string | undefined;
}): string {
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const name = ref.name !== undefined ? `/${encodeURIComponent(ref.name)}` : '';
  return `${groupVersionPath(ref.group, ref.version)}${ns}/${ref.resource}${name}`;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const inner = cause instanceof Error && cause.message !== err.message ? ` (${cause.message})` : '';
    return `${err.name}: ${err.message}${inner}`;
  }
  return String(err);
}
