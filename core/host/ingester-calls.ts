/**
 * What a plugin's `api.emit`, `api.reconcile` and `api.reconcileScopes` do in the host core: the same refusals
 * everywhere the core is built (an Ingester that is not active, reconcile of a webhook Ingester, reconcile without
 * a resolver in standalone mode).
 */
import type { EmitResult, IngesterView, ObservationDraft } from '../api/index.ts';
import { ingesterKey, zwError } from '../api/index.ts';
import type { CompiledIngester, Pipeline } from '../pipeline/pipeline.ts';
import type { IngesterRuntime } from './ingesters.ts';
import type { Resolver } from './resolver.ts';

export function ingesterCalls(pipeline: Pipeline, ingesters: IngesterRuntime, resolver: Resolver | undefined) {
  const active = (view: IngesterView): CompiledIngester => {
    const ci = ingesters.get(ingesterKey(view));
    if (!ci) throw zwError('ZW_ERR_INGESTER_INACTIVE', { ingester: ingesterKey(view) });
    return ci;
  };
  // Resolution is defined for informer Ingesters only: a webhook source reports events, not a current state.
  const reconcilable = (view: IngesterView) => {
    const ci = active(view);
    if (ci.config.spec.ingester !== 'informer')
      throw zwError('ZW_ERR_RECONCILE_WEBHOOK', {
        ingester: ingesterKey(view),
        type: ci.config.spec.ingester,
      });
    if (!resolver)
      throw zwError('ZW_ERR_NEEDS_KUBERNETES', { what: 'reconcile (informer sources do not run standalone)' });
    return { ci, resolver };
  };
  return {
    emit: async (view: IngesterView, drafts: ObservationDraft[], signal?: AbortSignal): Promise<EmitResult> => {
      const r = await pipeline.process(active(view), drafts, 'informer', signal);
      return { created: r.created, duplicates: r.duplicates, filtered: r.filtered, dropped: r.dropped };
    },
    reconcile: async (view: IngesterView, scope: string, drafts: ObservationDraft[], signal?: AbortSignal) => {
      const r = reconcilable(view);
      return r.resolver.reconcile(r.ci, scope, drafts, signal);
    },
    reconcileScopes: async (view: IngesterView, live: readonly string[], signal?: AbortSignal) => {
      const r = reconcilable(view);
      return r.resolver.reconcileScopes(r.ci, live, signal);
    },
  };
}
