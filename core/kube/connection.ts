/**
 * API clients with their own, reused connection pool. client-node 2.x builds a fresh undici dispatcher for every
 * request (a new TLS connection each time); a client made here keeps the first one, so requests reuse
 * connections, and each purpose (Lease renewals, Observation writes, watches) has a pool of its own, so one can
 * never queue behind another (DESIGN §7).
 */
import type { createConfiguration, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { ZwError } from '../api/errors.ts';
import { clientNode, countKubeRequestUrl } from './request.ts';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export interface PooledClient<T> {
  api: T;
  /** Drop the pool after a connection-level failure: the next request opens a new one. */
  reset(): void;
  close(): Promise<void>;
}

export function pooledClient<T>(
  kc: KubeConfig,
  ApiClass: new (config: ReturnType<typeof createConfiguration>) => T,
  userAgent: string,
): PooledClient<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ZwError('ZW_ERR_KUBE_CONFIG', 'the kubeconfig has no current cluster');
  let dispatcher: Dispatcher | undefined;
  const auth = {
    getName: () => userAgent,
    applySecurityAuthentication: async (ctx: RequestContext): Promise<void> => {
      // Headers (token, exec plugin) are refreshed per request by KubeConfig, which also builds a new dispatcher
      // each time; keep the first one so the connection is reused.
      await kc.applySecurityAuthentication(ctx);
      countKubeRequestUrl(ctx.getHttpMethod(), ctx.getUrl());
      const fresh = ctx.getDispatcher();
      if (fresh !== undefined) {
        dispatcher ??= fresh;
        ctx.setDispatcher(dispatcher);
      }
      ctx.setHeaderParam('User-Agent', userAgent);
    },
  };
  // client-node is loaded here, on first use (the host itself writes through KubeConnection and never does).
  const { createConfiguration, ServerConfiguration } = clientNode();
  const api = new ApiClass(
    createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }),
  );
  return {
    api,
    reset() {
      const d = dispatcher;
      dispatcher = undefined;
      d?.destroy().catch(() => {});
    },
    async close() {
      const d = dispatcher;
      dispatcher = undefined;
      await d?.close().catch(() => {});
    },
  };
}
