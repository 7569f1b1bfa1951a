/**
 * Argument types of the host hooks (DESIGN §4). The hooks themselves are created in core/hooks/host-hooks.ts.
 * Plugins only ever tap them, through the facade in plugin.ts.
 */
import type { AnyConfig, IngesterView, ObservationDraft } from './types.ts';

export type RunMode = 'standalone' | 'kubernetes';

/** onStart: every replica, after config is loaded, before the replica reports ready. */
export interface StartContext {
  readonly mode: RunMode;
  readonly replicaId: string;
}

/**
 * onBecomeLeader / onLoseLeadership: one leadership term. `signal` aborts the moment the term ends (lost renewal,
 * shutdown); anything a tap started for the term must stop when it fires. In standalone mode the single process
 * is the leader for its whole life.
 */
export interface LeaderTerm {
  readonly signal: AbortSignal;
  readonly identity: string;
  /** ms since epoch, local clock. */
  readonly startedAt: number;
}

/** onWebhook: one HTTP request for an Ingester served by this plugin. `body` is parsed JSON (or a JSON Lines array). */
export interface WebhookRequest<Config = AnyConfig> {
  readonly ingester: IngesterView<Config>;
  readonly body: unknown;
  /** The exact bytes received (for signature checks a plugin may want to do itself). */
  readonly rawBody: Buffer;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly contentType: string;
  /** True when the body was JSON Lines (one JSON document per line); `body` is then the array of documents. */
  readonly jsonLines: boolean;
  /** Aborts at the hook deadline or when the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * What an onWebhook tap returns: the drafts made from the request (may be empty), or undefined to pass to the
 * plugin's next tap on the handler (by `stage`); undefined from the last one is a 500 (a forgotten `return`).
 */
export type WebhookResult = ObservationDraft[] | undefined;

/** onIngesterChanged: an Ingester handled by this plugin was added, changed or removed. */
export interface IngesterChange<Config = AnyConfig> {
  readonly type: 'added' | 'updated' | 'removed';
  readonly ingester: IngesterView<Config>;
  readonly previous?: IngesterView<Config>;
}

/** onObservation: passed alongside the draft in the waterfall. */
export interface DraftContext {
  readonly ingester: IngesterView;
}

/** onStop: every replica, graceful shutdown. */
export interface StopContext {
  readonly reason: string;
}

export const HOOK_NAMES = [
  'onStart',
  'onBecomeLeader',
  'onLoseLeadership',
  'onWebhook',
  'onIngesterChanged',
  'onObservation',
  'onStop',
  'onDeliver',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];
