/**
 * The `cert-expiry` source plugin (an external example, loaded through ZEN_PLUGIN_DIRS): cert-manager Certificates
 * that expire soon or are not Ready become Observations; a renewed or recovered Certificate resolves them.
 *
 * Informer sources run on the leader only. On onBecomeLeader the plugin starts, for each of its Ingesters, a watch
 * on `cert-manager.io/v1 certificates` (or the Ingester's `spec.informer.gvr`), bound to the term's signal. Every
 * Certificate is one reconcile scope: each event reconciles that Certificate's complete set of findings
 * (certificate.ts), and a timer re-evaluates all of them every `recheckMinutes`, because time passing moves a
 * Certificate into the window without any watch event. When cert-manager is not installed the plugin says so once
 * and checks again every minute until the term ends.
 */
import type { IngesterView, LeaderTerm, PluginApi } from 'zen-watcher/plugin-api';
import { definePlugin } from 'zen-watcher/plugin-api';
import { type CertExpiryConfig, type Certificate, DEFAULT_CONFIG, evaluate, scopeOf } from './certificate.ts';
import pkg from './package.json' with { type: 'json' };

export const NAME = 'cert-expiry';
export const CERTIFICATES = Object.freeze({ group: 'cert-manager.io', version: 'v1', resource: 'certificates' });
/** How often a term re-checks whether the Certificate API is served. */
export const DISCOVERY_RETRY_MS = 60_000;

const configOf = (ing: IngesterView): CertExpiryConfig => ({
  ...DEFAULT_CONFIG,
  ...(ing.config as Partial<CertExpiryConfig>),
});

/** Waits until the API server serves the resource, or the signal aborts; false when aborted first. */
async function whenServed(
  api: PluginApi,
  gvr: { group: string; version: string; resource: string },
  signal: AbortSignal,
  onMissing: () => void,
): Promise<boolean> {
  let told = false;
  while (!signal.aborted) {
    if (await api.kube!.hasResource(gvr.group, gvr.version, gvr.resource).catch(() => false)) return true;
    if (!told) onMissing();
    told = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DISCOVERY_RETRY_MS);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
    });
  }
  return false;
}

/** One Ingester's watch for one leader term: the Certificates it knows, reconciled on events and on a timer. */
async function watchIngester(api: PluginApi, ing: IngesterView, signal: AbortSignal): Promise<void> {
  const log = api.log.child({ ingester: `${ing.namespace}/${ing.name}` });
  const config = configOf(ing);
  const gvr = ing.informer?.gvr ?? CERTIFICATES;
  const missing = () =>
    log.warn(
      `${gvr.group}/${gvr.version} ${gvr.resource} is not served (is cert-manager installed?); checking again every minute`,
    );
  if (!(await whenServed(api, gvr, signal, missing))) return;

  const known = new Map<string, Certificate>();
  const reconcile = async (cert: Certificate) => {
    await api.reconcile(ing, scopeOf(cert), evaluate(cert, Date.now(), config), { signal });
  };
  const recheck = setInterval(() => {
    void (async () => {
      for (const cert of known.values()) {
        if (signal.aborted) return;
        await reconcile(cert);
      }
    })().catch((err: unknown) =>
      log.warn('re-checking Certificates failed; retried at the next interval', { err: String(err) }),
    );
  }, config.recheckMinutes * 60_000);
  signal.addEventListener('abort', () => clearInterval(recheck), { once: true });

  await api.kube!.informer<Certificate>(
    {
      ...gvr,
      ...(ing.informer?.namespace ? { namespace: ing.informer.namespace } : {}),
      ...(ing.informer?.labelSelector ? { labelSelector: ing.informer.labelSelector } : {}),
      ...(ing.informer?.fieldSelector ? { fieldSelector: ing.informer.fieldSelector } : {}),
      signal,
    },
    {
      add: async (cert) => {
        known.set(scopeOf(cert), cert);
        await reconcile(cert);
      },
      update: async (cert) => {
        known.set(scopeOf(cert), cert);
        await reconcile(cert);
      },
      delete: async (cert) => {
        known.delete(scopeOf(cert));
        await api.reconcile(ing, scopeOf(cert), [], { signal });
      },
      // After each complete (re)list: Certificates deleted while no replica watched resolve too.
      synced: async (certs) => {
        known.clear();
        for (const c of certs) known.set(scopeOf(c), c);
        await api.reconcileScopes(ing, [...known.keys()], { signal });
      },
    },
  );
}

export default definePlugin({
  name: NAME,
  version: pkg.version,
  register(api) {
    let term: LeaderTerm | undefined;
    const watches = new Map<string, AbortController>();
    const keyOf = (ing: IngesterView) => `${ing.namespace}/${ing.name}`;
    const stop = (key: string) => {
      watches.get(key)?.abort();
      watches.delete(key);
    };
    const start = (ing: IngesterView) => {
      stop(keyOf(ing));
      if (!term || term.signal.aborted) return;
      if (!api.kube) {
        api.log.warn('cert-expiry needs kubernetes mode; its Ingesters do nothing here');
        return;
      }
      const controller = new AbortController();
      watches.set(keyOf(ing), controller);
      // Runs until the term ends or the Ingester changes; never awaited inside a hook (hooks have deadlines).
      void watchIngester(api, ing, AbortSignal.any([term.signal, controller.signal])).catch((err: unknown) =>
        api.log.error('Certificate watch stopped', { ingester: keyOf(ing), err: String(err) }),
      );
    };

    api.hooks.onBecomeLeader.tapPromise(async (t) => {
      term = t;
      for (const ing of api.ingesters()) start(ing);
    });
    api.hooks.onLoseLeadership.tapPromise(async (t) => {
      if (term === t) term = undefined;
      for (const key of [...watches.keys()]) stop(key);
    });
    api.hooks.onIngesterChanged.tapPromise(async ({ type, ingester }) => {
      if (type === 'removed') stop(keyOf(ingester));
      else start(ingester);
    });
  },
});
