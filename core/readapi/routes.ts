/**
 * The read API (`/api/v1/...`, JSON, docs/READ_API.md) and the UI (`/ui/`), as one koa middleware. Every answer
 * comes from the ReadIndex; only the detail view fetches one document from the source of truth (`getDoc`).
 * Access is checked on every request (core/readapi/access.ts); a caller sees only the namespaces it may list.
 */
import type { ServerResponse } from 'node:http';
import type Koa from 'koa';
import { SEVERITIES } from '../api/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import { type Access, type Principal, ReadApiError } from './access.ts';
import {
  CursorError,
  type Entry,
  type Filter,
  matcher,
  type ReadIndex,
  SORT_KEYS,
  type SortKey,
  type Visibility,
} from './index.ts';
import { ownerChain, type ResourceKey } from './owners.ts';
import { serveUi, type UiAssets } from './ui-assets.ts';

export interface ReadApiOptions {
  index: ReadIndex;
  access: Access;
  mode: 'standalone' | 'kubernetes';
  /** The full document of one Observation (store row or a GET), or undefined if gone. */
  getDoc(namespace: string, name: string): Promise<unknown | undefined>;
  ui: UiAssets;
  log: Logger;
  /** Concurrent live streams (each holds a connection); more are refused with 503. Default 100. */
  maxStreams?: number;
  /** SSE heartbeat interval, ms. Default 15 000. */
  heartbeatMs?: number;
  onRequest?: (route: string, status: number, seconds: number) => void;
  onStreams?: (n: number) => void;
  /** Called before each read API request is answered (standalone: builds the index on first use). */
  prepare?: () => void;
}

const MAX_LIMIT = 500;
const MAX_HOURS = 24 * 14;
const badQuery = (m: string) => new ReadApiError(400, 'ZW_ERR_BAD_QUERY', m);

function multi(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const out = (Array.isArray(v) ? v : [v])
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);
  return out.length ? out : undefined;
}

function one(q: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw badQuery(`'${name}' may be given once`);
  return v === '' ? undefined : v;
}

const REL = /^(\d+)(m|h|d)$/;
const UNIT: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** RFC 3339 `date-time` (section 5.6): a full date, `T`, a time with optional fraction, and `Z` or an offset. */
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?(?:[Zz]|([+-])(\d\d):(\d\d))$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/** An RFC 3339 date-time that exists (a real calendar day, hours < 24, minutes and seconds < 60), in ms. */
export function parseRfc3339(v: string): number | undefined {
  const m = RFC3339.exec(v);
  if (!m) return undefined;
  const part = (i: number) => Number(m[i]);
  const [year, month, day, hour, minute, second] = [part(1), part(2), part(3), part(4), part(5), part(6)];
  const days = month === 2 && leap(year) ? 29 : DAYS[month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (m[8]) {
    const [oh, om] = [part(9), part(10)];
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, Number((m[7] ?? '.').slice(1, 4).padEnd(3, '0')));
  return d.getTime() - offset;
}

/** An RFC 3339 date-time with `Z` or an offset, or a duration back from now (`30m`, `24h`, `7d`). */
export function parseTime(name: string, v: string | undefined, now = Date.now()): number | undefined {
  if (v === undefined) return undefined;
  const rel = REL.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT[rel[2]!]!;
  const t = parseRfc3339(v);
  if (t === undefined)
    throw badQuery(
      `'${name}' must be an RFC 3339 time with Z or an offset that exists (2026-12-01T10:00:00Z) or a duration back from now (30m, 24h, 7d), got '${v}'`,
    );
  return t;
}

/** A plain decimal integer (digits only) in [min, max]; else 400 naming the parameter. */
export function parseInteger(name: string, v: string, min: number, max: number): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max)) throw badQuery(`'${name}' must be an integer in [${min}, ${max}], got '${v}'`);
  return n;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

/** The filters of list, summary and stream (docs/READ_API.md). */
const FILTERS = ['source', 'severity', 'category', 'namespace', 'kind', 'resource', 'phase', 'since', 'until', 'q'];
/** Refuses a parameter the route does not document: a typo never silently widens an answer. */
function checkParams(known: ReadonlySet<string>, q: Record<string, unknown>): void {
  for (const k of Object.keys(q))
    if (!known.has(k))
      throw badQuery(
        `unknown query parameter '${k}'; this route takes ${known.size ? [...known].join(', ') : 'none'} (docs/READ_API.md)`,
      );
}

const NONE: ReadonlySet<string> = new Set();

/** One path segment, percent-decoded; a malformed encoding is a 400 naming the segment. */
function segment(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badQuery(`path segment '${name}' is not valid percent-encoding: '${raw}'`);
  }
}

/** The filters of a query whose parameters checkParams has accepted. */
export function parseFilter(q: Record<string, string | string[] | undefined>): Filter {
  const severity = multi(q.severity);
  for (const s of severity ?? [])
    if (!(SEVERITIES as readonly string[]).includes(s))
      throw badQuery(`'severity' must be one of ${SEVERITIES.join(', ')}; got '${s}'`);
  const phase = one(q, 'phase');
  if (phase !== undefined && phase !== 'Active' && phase !== 'Resolved')
    throw badQuery(`'phase' must be Active or Resolved, got '${phase}'`);
  const text = one(q, 'q');
  if (text !== undefined && text.length > 200) throw badQuery("'q' is longer than 200 characters");
  const f: Filter = {};
  const set = <K extends keyof Filter>(k: K, v: Filter[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('source', multi(q.source));
  set('severity', severity);
  set('category', multi(q.category));
  set('namespace', multi(q.namespace));
  set('kind', multi(q.kind));
  set('resource', one(q, 'resource'));
  set('phase', phase as Filter['phase']);
  set('since', parseTime('since', one(q, 'since')));
  set('until', parseTime('until', one(q, 'until')));
  set('q', text);
  return f;
}

/** The JSON of one list item. */
export function itemJson(e: Entry) {
  return {
    namespace: e.namespace,
    name: e.name,
    source: e.source,
    severity: e.severity,
    category: e.category,
    eventType: e.eventType,
    title: e.title,
    ...(e.message !== undefined ? { message: e.message } : {}),
    ...(e.resource ? { resource: e.resource } : {}),
    detectedAt: new Date(e.detectedAt).toISOString(),
    firstSeen: new Date(e.firstSeen).toISOString(),
    lastSeen: new Date(e.lastSeen).toISOString(),
    count: e.count,
    phase: e.phase,
    ...(e.resolvedAt !== undefined ? { resolvedAt: new Date(e.resolvedAt).toISOString() } : {}),
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
  };
}

export function createReadApi(opts: ReadApiOptions): Koa.Middleware {
  const { index, access } = opts;
  const maxStreams = opts.maxStreams ?? 100;
  let streams = 0;

  const ready = () => {
    if (!index.synced)
      throw new ReadApiError(503, 'ZW_ERR_NOT_READY', 'the read index is still loading; retry in a few seconds');
  };
  const visibility = async (p: Principal, f: Filter): Promise<Visibility> =>
    p.visibility(f.namespace ?? index.namespaces());

  const routes: {
    re: RegExp;
    name: string;
    /** The query parameters the route documents (docs/READ_API.md). */
    params: ReadonlySet<string>;
    run: (ctx: Koa.Context, m: RegExpExecArray) => Promise<void>;
  }[] = [
    {
      name: 'whoami',
      params: NONE,
      re: /^\/api\/v1\/whoami$/,
      async run(ctx) {
        const p = await principal(ctx);
        const vis = await p.visibility(index.namespaces());
        ctx.body = {
          user: p.user,
          mode: opts.mode,
          namespaces: vis.all ? 'all' : [...vis.namespaces].sort(),
        };
      },
    },
    {
      name: 'list',
      params: new Set([...FILTERS, 'sort', 'limit', 'cursor']),
      re: /^\/api\/v1\/observations$/,
      async run(ctx) {
        const q = ctx.query;
        const f = parseFilter(q);
        const sort = (one(q, 'sort') ?? '-detectedAt') as SortKey;
        if (!SORT_KEYS.includes(sort)) throw badQuery(`'sort' must be one of ${SORT_KEYS.join(', ')}`);
        const limit = parseInteger('limit', one(q, 'limit') ?? '50', 1, MAX_LIMIT);
        const p = await principal(ctx);
        ready();
        const vis = await visibility(p, f);
        const cursor = one(q, 'cursor');
        let page: ReturnType<ReadIndex['list']>;
        try {
          page = index.list(f, vis, { sort, limit, ...(cursor ? { cursor } : {}) });
        } catch (err) {
          if (err instanceof CursorError) throw badQuery(err.message);
          throw err;
        }
        ctx.body = { items: page.items.map(itemJson), total: page.total, ...(page.next ? { next: page.next } : {}) };
      },
    },
    {
      name: 'get',
      params: NONE,
      re: /^\/api\/v1\/observations\/([^/]+)\/([^/]+)$/,
      async run(ctx, m) {
        const [namespace, name] = [segment('namespace', m[1]!), segment('name', m[2]!)];
        const p = await principal(ctx);
        ready();
        const vis = await p.visibility([namespace]);
        const e = index.get(namespace, name);
        // Not visible and not there answer alike: a caller learns nothing about namespaces it may not read.
        if (!e || (!vis.all && !vis.namespaces.has(namespace)))
          throw new ReadApiError(404, 'ZW_ERR_NOT_FOUND', `no Observation ${namespace}/${name}`);
        const doc = await opts.getDoc(namespace, name);
        if (!doc) throw new ReadApiError(404, 'ZW_ERR_NOT_FOUND', `no Observation ${namespace}/${name}`);
        const occ = index.occurrences(e);
        ctx.body = {
          item: itemJson(e),
          occurrences: {
            count: occ.count,
            observations: occ.observations,
            firstSeen: new Date(occ.firstSeen).toISOString(),
            lastSeen: new Date(occ.lastSeen).toISOString(),
          },
          owners: e.resource?.name
            ? ownerChain({
                kind: e.resource.kind || 'Unknown',
                namespace: e.resource.namespace || namespace,
                name: e.resource.name,
              }).slice(1)
            : [],
          observation: doc,
        };
      },
    },
    {
      name: 'summary',
      params: new Set([...FILTERS, 'hours']),
      re: /^\/api\/v1\/summary$/,
      async run(ctx) {
        const f = parseFilter(ctx.query);
        const hours = parseInteger('hours', one(ctx.query, 'hours') ?? '24', 1, MAX_HOURS);
        const p = await principal(ctx);
        ready();
        const vis = await visibility(p, f);
        const s = index.summary(f, vis, { hours });
        ctx.body = { ...s, hourly: s.hourly.map((h) => ({ ...h, hour: new Date(h.hour).toISOString() })) };
      },
    },
    {
      name: 'resource',
      params: NONE,
      re: /^\/api\/v1\/resources\/([^/]+)\/([^/]+)\/([^/]+)$/,
      async run(ctx, m) {
        const target: ResourceKey = {
          namespace: segment('namespace', m[1]!),
          kind: segment('kind', m[2]!),
          name: segment('name', m[3]!),
        };
        const p = await principal(ctx);
        ready();
        const vis = await p.visibility([target.namespace]);
        const r = index.resource(target, vis);
        const bySource: Record<string, number> = {};
        const bySeverity: Record<string, number> = {};
        for (const e of r.entries) {
          bySource[e.source] = (bySource[e.source] ?? 0) + 1;
          bySeverity[e.severity] = (bySeverity[e.severity] ?? 0) + 1;
        }
        ctx.body = {
          resource: target,
          owners: ownerChain(target).slice(1),
          related: r.related,
          bySource,
          bySeverity,
          items: r.entries.map(itemJson),
        };
      },
    },
    {
      name: 'stream',
      params: new Set(FILTERS),
      re: /^\/api\/v1\/stream$/,
      async run(ctx) {
        const f = parseFilter(ctx.query);
        const p = await principal(ctx);
        ready();
        if (streams >= maxStreams)
          throw new ReadApiError(503, 'ZW_ERR_NOT_READY', `too many live streams (${maxStreams}); retry later`);
        if (ctx.method === 'HEAD') {
          // The headers a GET would get, and the end: no events will follow, so no stream slot is taken.
          ctx.status = 200;
          ctx.set(SSE_HEADERS);
          return;
        }
        stream(ctx, p, f);
      },
    },
  ];

  async function principal(ctx: Koa.Context): Promise<Principal> {
    return access.authenticate({ headers: ctx.headers, remoteAddress: ctx.req.socket.remoteAddress ?? '' });
  }

  function stream(ctx: Koa.Context, p: Principal, f: Filter): void {
    const res: ServerResponse = ctx.res;
    ctx.respond = false;
    res.writeHead(200, SSE_HEADERS);
    res.write(': zen-watcher live stream\nretry: 2000\n\n');
    streams++;
    opts.onStreams?.(streams);
    // Visibility is evaluated per namespace as events arrive, with the access cache bounding the reviews.
    const allowed = new Map<string, Promise<boolean>>();
    const visible = (ns: string) => {
      let v = allowed.get(ns);
      if (!v) {
        v = p.visibility([ns]).then(
          (vis) => vis.all || vis.namespaces.has(ns),
          () => false,
        );
        allowed.set(ns, v);
        setTimeout(() => allowed.delete(ns), 30_000).unref();
      }
      return v;
    };
    const match = matcher({ ...f }, { all: true });
    let chain = Promise.resolve();
    const off = index.subscribe((ev) => {
      if (!match(ev.entry)) return;
      chain = chain.then(async () => {
        if (!(await visible(ev.entry.namespace)) || res.writableEnded) return;
        const data = ev.type === 'delete' ? { namespace: ev.entry.namespace, name: ev.entry.name } : itemJson(ev.entry);
        res.write(`event: ${ev.type}\ndata: ${JSON.stringify(data)}\n\n`);
      });
    });
    const beat = setInterval(() => res.write(': heartbeat\n\n'), opts.heartbeatMs ?? 15_000);
    const close = () => {
      clearInterval(beat);
      off();
      streams--;
      opts.onStreams?.(streams);
    };
    res.once('close', close);
  }

  return async (ctx, next) => {
    const path = ctx.path;
    if (path === '/' && ctx.method === 'GET') {
      ctx.redirect('/ui/');
      return;
    }
    const ui = path === '/ui' || path.startsWith('/ui/');
    if (!ui && !path.startsWith('/api/v1/')) return next();
    const started = performance.now();
    let route = 'unknown';
    try {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        ctx.set('Allow', 'GET, HEAD');
        throw new ReadApiError(
          405,
          'ZW_ERR_METHOD_NOT_ALLOWED',
          `${ctx.method} is not allowed on ${path}; the read API is read-only`,
        );
      }
      if (ui) {
        route = 'ui';
        await serveUi(ctx, opts.ui);
        return;
      }
      opts.prepare?.();
      for (const r of routes) {
        const m = r.re.exec(path);
        if (!m) continue;
        route = r.name;
        ctx.set('cache-control', 'no-store');
        checkParams(r.params, ctx.query);
        await r.run(ctx, m);
        return;
      }
      throw new ReadApiError(404, 'ZW_ERR_NOT_FOUND', `no read API route ${path} (see docs/READ_API.md)`);
    } catch (err) {
      let e: ReadApiError;
      if (err instanceof ReadApiError) e = err;
      else {
        opts.log.error({ err, path }, 'read API request failed');
        e = new ReadApiError(500, 'ZW_ERR_INTERNAL', 'internal error');
      }
      ctx.status = e.status;
      if (e.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      ctx.body = { error: e.code, reason: e.message };
    } finally {
      if (ctx.respond !== false && route !== 'ui')
        opts.onRequest?.(route, ctx.status, (performance.now() - started) / 1000);
    }
  };
}
