/**
 * Who may read what.
 *
 * Standalone: loopback callers (127.0.0.0/8, ::1) whose Host header names the loopback too (so a web page cannot
 * reach it through DNS rebinding) read everything; anyone else needs a bearer token from ZEN_READ_TOKEN_FILE, and
 * without that file is refused.
 *
 * Kubernetes: like kube-rbac-proxy. The caller's bearer token is checked with a TokenReview; each namespace the
 * answer would include is checked with a SubjectAccessReview (`list` `observations.zen.kube-zen.io` in that
 * namespace, for the reviewed user and groups). One cluster-wide review first: if it allows, every namespace is
 * visible. Answers are cached for a short time (ZEN_READ_AUTH_CACHE_SECONDS) per token and per user + namespace,
 * so a page load is not a storm of reviews; a revoked permission takes effect within that time.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ErrorCode, ZwError } from '../api/index.ts';
import { safeEqual, splitCredentials } from '../http/auth.ts';
import type { KubeApi } from '../kube/api.ts';
import type { Visibility } from './index.ts';

export class ReadApiError extends ZwError {
  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message, { status });
    this.name = 'ReadApiError';
  }
}

export const unauthorized = (m: string) => new ReadApiError(401, 'ZW_ERR_UNAUTHORIZED', m);
export const forbidden = (m: string) => new ReadApiError(403, 'ZW_ERR_FORBIDDEN', m);

export interface Caller {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  remoteAddress: string;
}

export interface Access {
  readonly kind: 'loopback' | 'kubernetes';
  /** The caller's identity and a function telling which of `namespaces` it may read; throws ReadApiError. */
  authenticate(caller: Caller): Promise<Principal>;
}

export interface Principal {
  user: string;
  /** Visibility over the given namespaces (the ones the index holds, or the ones asked for). */
  visibility(namespaces: Iterable<string>): Promise<Visibility>;
}

const ALL: Principal['visibility'] = async () => ({ all: true });

function bearer(headers: Caller['headers']): string | undefined {
  const v = headers.authorization;
  const h = Array.isArray(v) ? v[0] : v;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw unauthorized('Authorization header is not a Bearer token');
  return m[1];
}

export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function loopbackHost(host: string | string[] | undefined): boolean {
  const h = (Array.isArray(host) ? host[0] : host) ?? '';
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return ['localhost', '127.0.0.1', '[::1]'].includes(name.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** Standalone access: loopback, or a bearer token listed in `tokenFile` (one per line; re-read on change). */
export function loopbackAccess(tokenFile: string | undefined): Access {
  let cached: { at: number; tokens: string[] } | undefined;
  const tokens = () => {
    if (!tokenFile) return [];
    if (!cached || Date.now() - cached.at > 5000) {
      let text: string;
      try {
        text = readFileSync(tokenFile, 'utf8');
      } catch (err) {
        throw new ReadApiError(503, 'ZW_ERR_NOT_READY', `read API tokens unreadable: ${(err as Error).message}`);
      }
      cached = { at: Date.now(), tokens: splitCredentials(text) };
    }
    return cached.tokens;
  };
  return {
    kind: 'loopback',
    async authenticate(caller) {
      const token = bearer(caller.headers);
      if (token !== undefined) {
        let ok = false;
        for (const t of tokens()) ok = safeEqual(token, t) || ok;
        if (!ok) throw unauthorized('invalid bearer token for the read API');
        return { user: 'token', visibility: ALL };
      }
      if (isLoopback(caller.remoteAddress) && loopbackHost(caller.headers.host))
        return { user: 'loopback', visibility: ALL };
      if (isLoopback(caller.remoteAddress))
        throw forbidden('the Host header must name the loopback (localhost, 127.0.0.1 or [::1])');
      throw tokenFile
        ? unauthorized('a bearer token is required from outside the loopback (Authorization: Bearer <token>)')
        : forbidden(
            'the read API answers loopback callers only; set ZEN_READ_TOKEN_FILE to allow others with a bearer token',
          );
    },
  };
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

class TtlCache<V> {
  readonly #m = new Map<string, { at: number; v: Promise<V> }>();
  readonly ttlMs: number;
  readonly max: number;
  constructor(ttlMs: number, max = 10_000) {
    this.ttlMs = ttlMs;
    this.max = max;
  }
  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.#m.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.v;
    if (this.#m.size >= this.max) this.#m.delete(this.#m.keys().next().value!);
    const v = load();
    this.#m.set(key, { at: now, v });
    v.catch(() => this.#m.delete(key));
    return v;
  }
}

export interface KubeAccessOptions {
  api: KubeApi;
  cacheMs: number;
  /** Observation resource the reviews ask about. */
  group?: string;
  resource?: string;
  /** Counts reviews by kind and result (metrics). */
  onReview?: (kind: 'token' | 'access', result: 'allowed' | 'denied' | 'error') => void;
}

/** Kubernetes access: TokenReview, then SubjectAccessReview per namespace (cluster-wide first). */
export function kubeAccess(opts: KubeAccessOptions): Access {
  const group = opts.group ?? 'zen.kube-zen.io';
  const resource = opts.resource ?? 'observations';
  const tokens = new TtlCache<TokenReviewStatus>(opts.cacheMs);
  const reviews = new TtlCache<boolean>(opts.cacheMs, 100_000);

  async function review(token: string): Promise<TokenReviewStatus> {
    const key = createHash('sha256').update(token).digest('hex');
    return tokens.get(key, async () => {
      const r = await opts.api.create<{ status?: TokenReviewStatus }>({
        group: 'authentication.k8s.io',
        version: 'v1',
        plural: 'tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      return r.status ?? {};
    });
  }

  async function allowed(user: NonNullable<TokenReviewStatus['user']>, namespace: string): Promise<boolean> {
    const key = JSON.stringify([user.username, user.uid, user.groups, namespace]);
    return reviews.get(key, async () => {
      const r = await opts.api.create<{ status?: { allowed?: boolean } }>({
        group: 'authorization.k8s.io',
        version: 'v1',
        plural: 'subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            resourceAttributes: { group, resource, verb: 'list', ...(namespace ? { namespace } : {}) },
          },
        },
      });
      const ok = r.status?.allowed === true;
      opts.onReview?.('access', ok ? 'allowed' : 'denied');
      return ok;
    });
  }

  return {
    kind: 'kubernetes',
    async authenticate(caller) {
      const token = bearer(caller.headers);
      if (!token)
        throw unauthorized(
          'a Kubernetes bearer token is required (Authorization: Bearer $(kubectl create token <service-account>))',
        );
      let status: TokenReviewStatus;
      try {
        status = await review(token);
      } catch (err) {
        opts.onReview?.('token', 'error');
        throw new ReadApiError(503, 'ZW_ERR_NOT_READY', `TokenReview failed: ${(err as Error).message}`);
      }
      if (!status.authenticated || !status.user?.username) {
        opts.onReview?.('token', 'denied');
        throw unauthorized(`the token was not accepted by the API server${status.error ? `: ${status.error}` : ''}`);
      }
      opts.onReview?.('token', 'allowed');
      const user = status.user;
      return {
        user: user.username!,
        async visibility(namespaces) {
          try {
            if (await allowed(user, '')) return { all: true };
            const list = [...new Set(namespaces)];
            const ok = await Promise.all(list.map((ns) => allowed(user, ns)));
            return { all: false, namespaces: new Set(list.filter((_, i) => ok[i])) };
          } catch (err) {
            opts.onReview?.('access', 'error');
            throw new ReadApiError(503, 'ZW_ERR_NOT_READY', `SubjectAccessReview failed: ${(err as Error).message}`);
          }
        },
      };
    },
  };
}
