/**
 * Every host hook, declared once (DESIGN §4). The host calls them; plugins only tap, through the facade built in
 * facade.ts. Each hook gets the guard interceptor (guard.ts) when the host installs it.
 */
import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, HookMap } from 'tapable';
import type {
  DeliveryRequest,
  DeliveryResult,
  DraftContext,
  IngesterChange,
  LeaderTerm,
  ObservationDraft,
  StartContext,
  StopContext,
  WebhookRequest,
  WebhookResult,
} from '../api/index.ts';

export const createHostHooks = () =>
  Object.freeze({
    /** Every replica, after config is loaded, before ready. Series: plugins run one after another. */
    onStart: new AsyncSeriesHook<[StartContext]>(['context']),

    /** The replica that just became leader; the term's signal aborts on loss. Parallel. */
    onBecomeLeader: new AsyncParallelHook<[LeaderTerm]>(['term']),
    /** The former leader, after the term's signal fired; must finish within the renew deadline. Parallel. */
    onLoseLeadership: new AsyncParallelHook<[LeaderTerm]>(['term']),

    /** Every replica: one request body → drafts, or a typed error. Keyed by source handler. */
    onWebhook: new HookMap<AsyncSeriesBailHook<[WebhookRequest], WebhookResult>>(
      () => new AsyncSeriesBailHook<[WebhookRequest], WebhookResult>(['request']),
    ),

    /** Every replica: an Ingester bound to a plugin was added, changed or removed. */
    onIngesterChanged: new AsyncSeriesHook<[IngesterChange]>(['change']),

    /** Where the draft is made: enrichment before the pipeline. Waterfall: each tap returns the next draft. */
    onObservation: new AsyncSeriesWaterfallHook<[ObservationDraft, DraftContext]>(['draft', 'context']),

    /** Every replica: graceful shutdown. */
    onStop: new AsyncSeriesHook<[StopContext]>(['context']),

    /** Where delivery runs (the leader): one batch of Observations to one destination. Keyed by destination type. */
    onDeliver: new HookMap<AsyncSeriesBailHook<[DeliveryRequest], DeliveryResult>>(
      () => new AsyncSeriesBailHook<[DeliveryRequest], DeliveryResult>(['request']),
    ),
  });

export type HostHooks = ReturnType<typeof createHostHooks>;
