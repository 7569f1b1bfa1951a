/**
 * The read side of a replica, as the host wires it (a few lines in host.ts): the index, its feed, access control,
 * and where the read API and UI are served.
 *
 *   standalone:  on the main port (http://localhost:8080/ui/), loopback only unless ZEN_READ_TOKEN_FILE is set
 *   kubernetes:  on its own port (ZEN_READ_PORT, default 8081), every caller checked with TokenReview and
 *                SubjectAccessReview; reached with `kubectl port-forward`, never exposed with the webhook port
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type { RunMode } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { type Access, kubeAccess, loopbackAccess } from './access.ts';
import { type Feed, storeFeed } from './feeds.ts';
import { ReadIndex } from './index.ts';
import { createReadApi } from './routes.ts';
import { loadUiAssets } from './ui-assets.ts';

export interface ReadSide {
  readonly index: ReadIndex;
  /** Mounted on the main app (standalone), undefined when the read API has its own port (kubernetes). */
  readonly middleware: Koa.Middleware | undefined;
  /** The read API's own port (kubernetes mode). */
  readonly port: number | undefined;
  wrapSink(sink: ObservationSink): ObservationSink;
  /** Starts the index now if it is built on first use (kubernetes mode: ADR 0027, 0033); idempotent. */
  prepare(): void;
  close(): Promise<void>;
}

export async function startReadSide(o: {
  mode: RunMode;
  env: Readonly<HostEnv>;
  log: Logger;
  metrics: Metrics;
  sink: ObservationSink;
}): Promise<ReadSide> {
  const { env, metrics } = o;
  const log = o.log.child({ component: 'read-api' });
  const index = new ReadIndex();
  let feed: Feed;
  let access: Access;
  if (o.mode === 'standalone') {
    feed = storeFeed(index, o.sink, { expiryIntervalMs: Math.min(60_000, env.gcIntervalSeconds * 1000), lazy: true });
    access = loopbackAccess(env.readTokenFile);
  } else {
    const { loadKubeConfig } = await import('../kube/client.ts');
    const { createKubeApi } = await import('../kube/api.ts');
    const { kubeFeed } = await import('./feeds-kube.ts');
    const kubeConfig = loadKubeConfig({
      ...(env.kubeconfig ? { kubeconfigPath: env.kubeconfig } : {}),
      inCluster: env.inCluster && !env.kubeconfig,
    });
    const api = createKubeApi(kubeConfig);
    feed = kubeFeed(index, {
      kubeConfig,
      api,
      namespaces: env.watchNamespaces,
      log,
      metrics: {
        restarts: (gvr, reason) => metrics.informerRestarts.inc({ gvr, reason: reason ?? 'error' }),
        relistDiff: (gvr, n) => metrics.informerRelistDiff.inc({ gvr }, n),
      },
      onSynced: () => log.info({ observations: index.size }, 'read index synced'),
      previousBucket: {
        fromIndex: (outcome) => metrics.previousBucketLookups.inc({ via: 'index', outcome }),
        fromApi: () => metrics.previousBucketLookups.inc({ via: 'api', outcome: 'unknown' }),
      },
    });
    access = kubeAccess({
      api,
      cacheMs: env.readAuthCacheSeconds * 1000,
      onReview: (kind, result) => metrics.readAccessReviews.inc({ kind, result }),
    });
  }
  const sizeTimer = setInterval(() => {
    metrics.readIndexObservations.set(index.size);
    metrics.readIndexSynced.set(index.synced ? 1 : 0);
  }, 2000);
  sizeTimer.unref();

  const middleware = createReadApi({
    index,
    access,
    mode: o.mode,
    getDoc: (ns, name) => feed.getDoc(ns, name),
    prepare: () => feed.activate?.(),
    ui: await loadUiAssets(log),
    log,
    onRequest: (route, status, s) => {
      metrics.readRequests.inc({ route, status: String(status) });
      metrics.readDuration.observe({ route }, s);
    },
    onStreams: (n) => metrics.readStreams.set(n),
  });

  let server: Server | undefined;
  let port: number | undefined;
  if (o.mode === 'kubernetes') {
    const app = new Koa();
    app.use(middleware);
    app.use((ctx) => {
      ctx.status = 404;
      ctx.body = { error: 'ZW_ERR_NOT_FOUND', reason: `no read API route ${ctx.path} (see docs/READ_API.md)` };
    });
    server =
      env.tlsCertFile && env.tlsKeyFile
        ? // CommonJS exports, not an ESM import: see core/http/listen.ts (idle RSS).
          process
            .getBuiltinModule('node:https')
            .createServer(
              { cert: readFileSync(env.tlsCertFile), key: readFileSync(env.tlsKeyFile), minVersion: 'TLSv1.2' },
              app.callback(),
            )
        : process
            .getBuiltinModule('node:http')
            .createServer({ maxHeaderSize: env.maxHeaderBytes, headersTimeout: env.headersTimeoutMs }, app.callback());
    server.listen({ port: env.readPort, host: env.host });
    await new Promise<void>((resolve, reject) => {
      server!.once('listening', resolve);
      server!.once('error', reject);
    });
    port = (server.address() as AddressInfo).port;
    log.info(
      { readPort: port },
      `read API and UI on :${port} (kubectl port-forward, then http://localhost:${port}/ui/)`,
    );
  } else {
    log.info(
      { path: '/ui/', access: env.readTokenFile ? 'loopback or bearer token' : 'loopback only' },
      'read API and UI on the main port: http://localhost:<port>/ui/',
    );
  }

  return {
    index,
    middleware: o.mode === 'standalone' ? middleware : undefined,
    port,
    wrapSink: (sink) => feed.wrap(sink),
    prepare: () => feed.activate?.(),
    async close() {
      clearInterval(sizeTimer);
      feed.close();
      if (server) {
        const closed = new Promise<void>((r) => server!.close(() => r()));
        server.closeAllConnections();
        await closed;
      }
    },
  };
}
