/** The listener: HTTP, or HTTPS (optionally requesting client certificates: mTLS) when a certificate is set. */
import { readFileSync } from 'node:fs';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListenOptions {
  port: number;
  host: string | undefined;
  maxHeaderBytes: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  tlsClientCaFile?: string | undefined;
}

export function createServer(o: ListenOptions, handler: RequestListener): Server {
  // The CommonJS exports, not an ESM `import` of node:http: an ES module namespace of node:http runs its lazy
  // getters (WebSocket and friends: undici, http2, tls, zlib), ~14 MB of idle RSS for nothing (core/kube/transport.ts).
  const { createServer: createHttpServer } = process.getBuiltinModule('node:http');
  // Timeouts are enforced by a sweep every connectionsCheckingInterval: keep it short so slow clients go in time.
  const common = {
    maxHeaderSize: o.maxHeaderBytes,
    requestTimeout: o.requestTimeoutMs,
    headersTimeout: o.headersTimeoutMs,
    keepAliveTimeout: o.idleTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs),
  };
  return o.tlsCertFile && o.tlsKeyFile
    ? process.getBuiltinModule('node:https').createServer(
        {
          ...common,
          cert: readFileSync(o.tlsCertFile),
          key: readFileSync(o.tlsKeyFile),
          minVersion: 'TLSv1.2',
          // Client certificates are requested and verified against the CA; webhook paths then require one, while
          // health probes (which present none) still work.
          ...(o.tlsClientCaFile
            ? { ca: readFileSync(o.tlsClientCaFile), requestCert: true, rejectUnauthorized: false }
            : {}),
        },
        handler,
      )
    : createHttpServer(common, handler);
}

/** Listens and resolves with the bound address once listening (rejects on EADDRINUSE and the like). */
export async function listen(
  o: ListenOptions,
  handler: RequestListener,
): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer(o, handler);
  server.listen({ port: o.port, host: o.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return { server, address: server.address() as AddressInfo };
}

/** How the bound address reads in a log line: `127.0.0.1:8080`, `[::1]:8080`, or `:8080` for every interface. */
export function describeAddress(a: AddressInfo): string {
  if (a.address === '::' || a.address === '0.0.0.0') return `:${a.port}`;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
