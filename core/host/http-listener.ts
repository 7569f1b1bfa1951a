/**
 * The host's HTTP listener: webhooks on node:http directly, the Koa app (health, metrics, webhook routes, the read side's middleware) with the
 * env's client limits, bound with its timeouts and TLS. Every replica serves webhooks; readiness never depends on
 * leadership (the caller's `ready`).
 */
import type { Server } from 'node:http';
import type { HostEnv } from '../config/env.ts';
import { ClientLimiter, parseCidrs } from '../http/client-limit.ts';
import { describeAddress, listen } from '../http/listen.ts';
import { createHttpHandler, type HttpOptions } from '../http/server.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export interface HttpListenerOptions extends Pick<HttpOptions, 'routes' | 'live' | 'ready' | 'extra'> {
  env: Readonly<HostEnv>;
  log: Logger;
  metrics: Metrics;
}

export async function listenHttp(o: HttpListenerOptions): Promise<{ server: Server; port: number }> {
  const { env, log } = o;
  const handler = createHttpHandler({
    routes: o.routes,
    clientLimiter:
      env.clientRateLimitRps > 0 ? new ClientLimiter(env.clientRateLimitRps, env.clientRateLimitBurst) : undefined,
    trustedProxies: env.trustedProxyCidrs.length ? parseCidrs(env.trustedProxyCidrs) : undefined,
    requireClientCert: env.tlsClientCaFile !== undefined,
    maxUrlLength: env.maxUrlBytes,
    live: o.live,
    ready: o.ready,
    metrics: o.metrics,
    log,
    extra: o.extra,
  });
  const { server, address } = await listen(
    {
      port: env.port,
      host: env.host,
      maxHeaderBytes: env.maxHeaderBytes,
      requestTimeoutMs: env.requestTimeoutMs,
      headersTimeoutMs: env.headersTimeoutMs,
      idleTimeoutMs: env.idleTimeoutMs,
      tlsCertFile: env.tlsCertFile,
      tlsKeyFile: env.tlsKeyFile,
      tlsClientCaFile: env.tlsClientCaFile,
    },
    handler,
  );
  const port = address.port;
  log.info(
    { address: address.address, port, routes: [...o.routes().keys()] },
    `listening on ${describeAddress(address)}`,
  );
  return { server, port };
}
