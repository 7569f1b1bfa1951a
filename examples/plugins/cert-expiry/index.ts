/**
 * The `cert-expiry` source plugin (an external example, loaded through ZEN_PLUGIN_DIRS): cert-manager Certificates
 * that expire soon or are not Ready become Observations; a renewed or recovered Certificate resolves them.
 *
 * Informer sources run on the leader only. The host (api.leaderWork, plugin API 1.2.0) starts, for each of its
 * Ingesters, a run: a watch on `cert-manager.io/v1 certificates` (or the Ingester's `spec.informer.gvr`), bound to
 * the run's signal, restarted when the Ingester changes. Every
 * Certificate is one reconcile scope: each event reconciles that Certificate's complete set of findings
 * (certificate.ts), and a timer re-evaluates all of them every `recheckMinutes`, because time passing moves a
 * Certificate into the window without any watch event. When cert-manager is not installed the plugin says so once
 * and the host checks again every minute until the run ends.
 */
import type { IngesterRun, IngesterView, PluginApi } from 'zen-watcher/plugin-api';
import { definePlugin, errorText, ingesterKey } from 'zen-watcher/plugin-api';
import { type CertExpiryConfig, type Certificate, evaluate, scopeOf } from './certificate.ts';

export const NAME = 'cert-expiry';
export const CERTIFICATES = Object.freeze({ group: 'cert-manager.io', version: 'v1', resource: 'certificates' });
/** How often a term re-checks whether the Certificate API is served. */
export const DISCOVERY_RETRY_MS = 60_000;

/** One Ingester's watch for one run: the Certificates it knows, reconciled on events and on a timer. */
async function watchIngester(
  api: PluginApi<CertExpiryConfig>,
  ing: IngesterView<CertExpiryConfig>,
  run: IngesterRun,
): Promise<void> {
  const { signal } = run;
  const log = api.log.child({ ingester: ingesterKey(ing) });
  const config = ing.config; // validated, schema defaults applied by the host
  const gvr = ing.informer?.gvr ?? CERTIFICATES;
  // The host checks again every DISCOVERY_RETRY_MS until cert-manager is installed, or the run ends.
  const served = await run.whenServed(gvr.group, gvr.version, gvr.resource, {
    recheckMs: DISCOVERY_RETRY_MS,
    onUnavailable: () =>
      log.warn(
        `${gvr.group}/${gvr.version} ${gvr.resource} is not served (is cert-manager installed?); checking again every minute`,
      ),
  });
  if (!served) return;

  const known = new Map<string, Certificate>();
  // The host retries a scope whose writes failed or were dropped (run.reconcile never rejects).
  const reconcile = (cert: Certificate) => run.reconcile(scopeOf(cert), evaluate(cert, Date.now(), config));
  const recheck = setInterval(() => {
    void (async () => {
      for (const cert of known.values()) {
        if (signal.aborted) return;
        await reconcile(cert);
      }
    })();
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
        await run.reconcile(scopeOf(cert), []);
      },
      // After each complete (re)list: Certificates deleted while no replica watched resolve too.
      synced: async (certs) => {
        known.clear();
        for (const c of certs) known.set(scopeOf(c), c);
        await run.reconcileScopes([...known.keys()]);
      },
    },
  );
}

export default definePlugin<CertExpiryConfig>({
  name: NAME,
  register(api) {
    // Plugin API 1.2.0: the host starts a run per cert-expiry Ingester on the leader, restarts it when the Ingester
    // changes, stops it when the Ingester goes or the term ends, and retries scopes whose writes were dropped.
    api.leaderWork({
      start(ing, run) {
        if (!api.kube) {
          api.log.warn('cert-expiry needs kubernetes mode; its Ingesters do nothing here');
          return;
        }
        // Runs until the run's signal aborts; never awaited inside a hook (hooks have deadlines).
        void watchIngester(api, ing, run).catch((err: unknown) =>
          api.log.error('Certificate watch stopped', { ingester: ingesterKey(ing), err: errorText(err) }),
        );
      },
    });
  },
});
