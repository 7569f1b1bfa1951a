/**
 * The HTTP layer under KubeConnection (issue #18): requests to the API server on node:http2 (one multiplexed
 * HTTP/2 connection per KubeConnection), or node:https/http with a kept-alive agent when the server does not speak
 * HTTP/2 (ALPN) or is plain http. TLS material (CA, client certificate, tls-server-name, insecure-skip-tls-verify)
 * is the kubeconfig's, read when a connection opens; authentication headers (token, token file, exec plugin, auth
 * provider, basic auth, impersonation) are the kubeconfig's too, applied per request, so rotated tokens are picked
 * up exactly as by client-node.
 *
 * Why not client-node's transport (fetch on undici, a web ReadableStream per body, its generated API objects and
 * ObjectSerializer): in kubernetes mode that was most of zen-watcher's CPU per Observation (measured in
 * docs/BENCHMARKS.md). Clusters reached through a proxy (`proxy-url`) keep client-node's transport (request.ts).
 */
import type http from 'node:http';
import type http2 from 'node:http2';
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { ZwError } from '../api/errors.ts';

// node:http, node:http2, node:https and node:tls are taken when a connection opens, as CommonJS exports, never by an
// ESM `import`: Node builds an ES module namespace of a builtin from all its exports, which runs node:http's lazy
// getters (WebSocket, MessageEvent: undici, plus http2, tls and zlib), about 14 MB of RSS in a process that never
// uses them (standalone loads this module without opening a connection). docs/BENCHMARKS.md, idle RSS.
const builtin = {
  get http() {
    return process.getBuiltinModule('node:http');
  },
  get http2() {
    return process.getBuiltinModule('node:http2');
  },
  get https() {
    return process.getBuiltinModule('node:https');
  },
  get tls() {
    return process.getBuiltinModule('node:tls');
  },
};

export interface TransportRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
  /** 0 = none. A timeout fails the request without an HTTP status (and drops the connection). */
  timeoutMs: number;
  /**
   * Read the whole body before answering (every request but a watch): an answer the server sent in full is kept
   * even if the connection closes right after (a GOAWAY), instead of being lost unread with the stream.
   */
  buffer?: boolean;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  /** The body, read as it arrives (backpressure: nothing is read ahead of the consumer). */
  body: AsyncIterable<Buffer> & { destroy(err?: Error): void };
}

type Tls = Pick<tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

/** The TLS options of the kubeconfig's current cluster and user (files are read now). */
export function tlsOptions(kc: KubeConfig): Tls {
  const opts: https.RequestOptions = {};
  (kc as unknown as { applyHTTPSOptions(o: https.RequestOptions): void }).applyHTTPSOptions(opts);
  const out: Tls = {};
  if (opts.ca) out.ca = opts.ca;
  if (opts.cert) out.cert = opts.cert;
  if (opts.key) out.key = opts.key;
  if (opts.rejectUnauthorized === false) out.rejectUnauthorized = false;
  if (opts.servername) out.servername = opts.servername;
  return out;
}

/** The authentication headers for one request (what client-node's applySecurityAuthentication sets). */
export async function authHeaders(kc: KubeConfig): Promise<Record<string, string>> {
  const opts: { headers?: Record<string, unknown> } = {};
  const k = kc as unknown as {
    applyHTTPSOptions(o: object): void;
    applyAuthorizationHeader(o: object): Promise<void>;
  };
  await k.applyAuthorizationHeader(opts);
  const user = kc.getCurrentUser();
  const out: Record<string, string> = {};
  if (user?.impersonateUser) out['Impersonate-User'] = user.impersonateUser;
  if (user?.username)
    out.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  for (const [name, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) out[name] = String(v);
  return out;
}

const ALPN = ['h2', 'http/1.1'];
/** The lastStreamID of the GOAWAY a session received. */
const goawayLast = new WeakMap<http2.ClientHttp2Session, number>();
/** How often one request is sent again after the server refused its stream unprocessed (GOAWAY, REFUSED_STREAM). */
const MAX_UNPROCESSED_RETRIES = 5;

/**
 * One connection to the API server: HTTP/2 when the server negotiates it, else HTTP/1.1 over a kept-alive agent.
 * `drop()` closes it after a failure without an HTTP status; the next request opens a new one.
 */
export class Transport {
  readonly #url: URL;
  readonly #kc: KubeConfig;
  #mode: 'unknown' | 'h2' | 'h1' = 'unknown';
  #session: http2.ClientHttp2Session | undefined;
  #connecting: Promise<http2.ClientHttp2Session | undefined> | undefined;
  #agent: http.Agent | undefined;

  constructor(server: string, kc: KubeConfig) {
    this.#url = new URL(server);
    this.#kc = kc;
    if (this.#url.protocol !== 'https:') this.#mode = 'h1';
  }

  /** Which protocol the connection speaks (after the first request). */
  get protocol(): 'unknown' | 'h2' | 'h1' {
    return this.#mode;
  }

  async request(req: TransportRequest, unprocessedRetries = 0): Promise<TransportResponse> {
    if (this.#mode !== 'h1') {
      const t0 = req.timeoutMs > 0 ? performance.now() : 0;
      const session = await this.#h2(req.signal, req.timeoutMs);
      if (session) {
        // The timeout covers the connection's set-up too.
        const left = req.timeoutMs > 0 ? Math.max(1, req.timeoutMs - (performance.now() - t0)) : 0;
        return this.#requestH2(session, { ...req, timeoutMs: left }, unprocessedRetries);
      }
    }
    return this.#requestH1(req);
  }

  /** Close the connection after a failure: in-flight requests fail, the next request reconnects. */
  drop(): void {
    const s = this.#session;
    this.#session = undefined;
    this.#connecting = undefined;
    s?.destroy();
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  /** Close gracefully: in-flight requests finish. */
  async close(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    this.#connecting = undefined;
    this.#agent?.destroy();
    this.#agent = undefined;
    if (s && !s.closed && !s.destroyed) {
      // Graceful (in-flight requests finish), but bounded: a stream left open must not hold close() forever.
      s.ref();
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          s.destroy();
          r();
        }, 2_000);
        s.close(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The HTTP/2 session, opened on first use; undefined when the server chose HTTP/1.1 (ALPN). */
  async #h2(signal: AbortSignal | undefined, timeoutMs: number): Promise<http2.ClientHttp2Session | undefined> {
    const s = this.#session;
    if (s && !s.closed && !s.destroyed) return s;
    this.#connecting ??= this.#connect(signal, timeoutMs).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #connect(signal: AbortSignal | undefined, timeoutMs: number): Promise<http2.ClientHttp2Session | undefined> {
    return new Promise((resolve, reject) => {
      const socket = builtin.tls.connect({
        host: this.#url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(this.#url.port || 443),
        ALPNProtocols: ALPN,
        ...(net.isIP(this.#url.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: this.#url.hostname }),
        ...tlsOptions(this.#kc),
      });
      const onAbort = () => socket.destroy(abortReason(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer =
        timeoutMs > 0
          ? setTimeout(
              () => socket.destroy(new ZwError('ZW_ERR_KUBE_TRANSPORT', `no answer within ${timeoutMs} ms`)),
              timeoutMs,
            )
          : undefined;
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', reject);
      };
      socket.once('error', (err) => {
        cleanup();
        reject(err);
      });
      socket.once('secureConnect', () => {
        cleanup();
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          this.#mode = 'h1';
          resolve(undefined);
          return;
        }
        this.#mode = 'h2';
        const session = builtin.http2.connect(this.#url.origin, { createConnection: () => socket });
        const forget = () => {
          if (this.#session === session) this.#session = undefined;
        };
        session.on('error', forget);
        session.on('close', forget);
        session.on('goaway', (_code: number, lastStreamID: number) => {
          // The server stops taking streams on this connection (a graceful GOAWAY): streams above lastStreamID were
          // not processed and are sent again on a new connection (#requestH2); the others finish here.
          goawayLast.set(session, lastStreamID);
          forget();
        });
        // An idle connection must not keep the process alive.
        session.unref();
        this.#session = session;
        // Streams go out once the server's SETTINGS are in (its stream limit and window sizes).
        if (session.remoteSettings && Object.keys(session.remoteSettings).length > 0) resolve(session);
        else {
          session.once('remoteSettings', () => resolve(session));
          session.once('close', () => resolve(session));
        }
      });
    });
  }

  #requestH2(
    session: http2.ClientHttp2Session,
    req: TransportRequest,
    unprocessedRetries: number,
  ): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = {
        ':method': req.method,
        ':path': req.path,
        ':authority': this.#url.host,
      };
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: req.body === undefined });
      } catch (err) {
        reject(err);
        return;
      }
      let answered = false;
      /** The server answered (headers): never sent again. */
      let processed = false;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => fail(abortReason(req.signal));
      const fail = (err: Error) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (!stream.destroyed) stream.destroy(err);
        if (!answered) reject(err);
      };
      // Never processed by the server (it said so: a GOAWAY below this stream's id, or REFUSED_STREAM), so safe to
      // send again, writes included, on a new connection.
      let retried = false;
      const retryUnprocessed = (): boolean => {
        if (processed || retried || unprocessedRetries >= MAX_UNPROCESSED_RETRIES || req.signal?.aborted) return false;
        const last = goawayLast.get(session);
        const unprocessed =
          stream.rstCode === builtin.http2.constants.NGHTTP2_REFUSED_STREAM ||
          (last !== undefined && (stream.id === undefined || stream.id > last));
        if (!unprocessed) return false;
        retried = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        resolve(this.request(req, unprocessedRetries + 1));
        return true;
      };
      // Listeners first: a destroy below emits 'error' on the stream.
      stream.on('error', (err) => {
        if (!retryUnprocessed()) fail(err);
      });
      stream.on('close', () => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (answered || retried || retryUnprocessed()) return;
        reject(new ZwError('ZW_ERR_KUBE_TRANSPORT', `stream closed before an answer (code ${stream.rstCode ?? '?'})`));
      });
      stream.once('response', (h) => {
        processed = true;
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) out[k] = String(v);
        const status = Number(h[':status']);
        if (!req.buffer) {
          answered = true;
          resolve({ status, headers: out, body: stream });
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.once('end', () => {
          answered = true;
          resolve({ status, headers: out, body: bufferedBody(chunks) });
        });
      });
      if (req.signal) {
        if (req.signal.aborted) {
          fail(abortReason(req.signal));
          return;
        }
        req.signal.addEventListener('abort', onAbort, { once: true });
      }
      if (req.timeoutMs > 0) {
        timer = setTimeout(() => {
          this.drop();
          fail(new ZwError('ZW_ERR_KUBE_TRANSPORT', `no answer within ${req.timeoutMs} ms`));
        }, req.timeoutMs);
      }
      if (req.body !== undefined) stream.end(req.body);
    });
  }

  #requestH1(req: TransportRequest): Promise<TransportResponse> {
    const secure = this.#url.protocol === 'https:';
    this.#agent ??= secure
      ? new builtin.https.Agent({ keepAlive: true, ...tlsOptions(this.#kc) })
      : new builtin.http.Agent({ keepAlive: true });
    const agent = this.#agent;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['Content-Length'] = Buffer.byteLength(req.body);
      const r = (secure ? builtin.https : builtin.http).request({
        protocol: this.#url.protocol,
        hostname: this.#url.hostname.replace(/^\[|\]$/g, ''),
        port: this.#url.port,
        method: req.method,
        path: req.path,
        headers,
        agent,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      let timer: NodeJS.Timeout | undefined;
      if (req.timeoutMs > 0) {
        timer = setTimeout(() => {
          r.destroy(new ZwError('ZW_ERR_KUBE_TRANSPORT', `no answer within ${req.timeoutMs} ms`));
        }, req.timeoutMs);
      }
      r.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      r.on('response', (rsp) => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(rsp.headers)) if (v !== undefined) out[k] = String(v);
        rsp.on('close', () => clearTimeout(timer));
        resolve({ status: rsp.statusCode ?? 0, headers: out, body: rsp });
      });
      r.end(req.body);
    });
  }
}

function bufferedBody(chunks: Buffer[]): TransportResponse['body'] {
  return {
    async *[Symbol.asyncIterator]() {
      yield* chunks;
    },
    destroy() {},
  };
}

function abortReason(signal: AbortSignal | undefined): Error {
  const r = signal?.reason as unknown;
  return r instanceof Error ? r : new ZwError('ZW_ERR_KUBE_TRANSPORT', 'aborted');
}

/** The whole body as text. */
export async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
}
