/**
 * A loopback HTTP → HTTPS reverse proxy in front of the API server that records every request zen-watcher makes
 * (method, path, query, status), so a test can check the RBAC table against the calls the code really sends.
 * Bodies, including watch streams, are piped through unchanged; the client's own Authorization header is kept.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  status: number;
  userAgent: string;
}

export interface RecordingProxy {
  url: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

export async function startRecordingProxy(upstream: string, ca: string | undefined): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const calls: RecordedCall[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      status: 0,
      userAgent: String(req.headers['user-agent'] ?? ''),
    };
    calls.push(call);
    const headers = { ...req.headers, host: target.host };
    const up = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        ...(ca ? { ca } : {}),
      },
      (upRes) => {
        call.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type CallAttributes =
  | {
      kind: 'resource';
      verb: string;
      group: string;
      resource: string;
      subresource: string;
      namespace: string;
      name: string;
    }
  | { kind: 'nonResource'; verb: string; path: string };

/** The authorization attributes the API server derives from a request (its RequestInfo), for the paths we use. */
export function attributesOf(call: Pick<RecordedCall, 'method' | 'path' | 'query'>): CallAttributes {
  const parts = call.path.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    rest = parts.slice(3);
  } else {
    return { kind: 'nonResource', verb: call.method.toLowerCase(), path: call.path };
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource = '', name = '', subresource = ''] = rest;
  const watch = ['true', '1'].includes(call.query.get('watch') ?? '');
  // A list or watch with a metadata.name field selector is authorized against that name (RBAC resourceNames).
  const byField = /(?:^|,)metadata\.name=([^,]+)/.exec(call.query.get('fieldSelector') ?? '')?.[1] ?? '';
  const verbs: Record<string, string> = {
    GET: name ? 'get' : watch ? 'watch' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: name ? 'delete' : 'deletecollection',
  };
  return {
    kind: 'resource',
    verb: verbs[call.method] ?? call.method.toLowerCase(),
    group,
    resource,
    subresource,
    namespace,
    name: name || byField,
  };
}
