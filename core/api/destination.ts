/**
 * Destination plugins (since plugin API 1.2.0): a plugin whose manifest lists `destinations` taps
 * `api.hooks.onDeliver.for(type)` and sends batches of Observations somewhere (an HTTP receiver, Alertmanager,
 * Slack, ...). The host owns everything around the send: which Observations match, durable delivery state, retries
 * with backoff, the bounded backlog, metrics and status. A tap only has to send one batch and say how it went.
 */
import { ZwError } from './errors.ts';
import type { AnyConfig, Observation } from './types.ts';

/** The read-only view of one Destination resource that its plugin sees (`Config`: from `definePlugin<Config>`). */
export interface DestinationView<Config = AnyConfig> {
  readonly namespace: string;
  readonly name: string;
  /** The destination type (the manifest's `destinations` entry), e.g. `cloudevents`. */
  readonly type: string;
  /** `spec.url`, when the resource sets one. */
  readonly url: string | undefined;
  /** `spec.headers`: extra HTTP headers to send (no secrets here: those come from `secret()`). */
  readonly headers: Readonly<Record<string, string>>;
  /** `spec.config`, validated against the plugin's configSchema (defaults applied). */
  readonly config: Readonly<Config>;
  readonly generation: number;
  /**
   * The current value of one key of the destination's credentials (`spec.secretRef` in Kubernetes, `spec.secretFile`
   * standalone), read on every call so a rotated Secret applies to the next send without a restart. Undefined when
   * the resource names no credentials or the key is absent.
   */
  secret(key: string): Promise<string | undefined>;
}

/** What happened to the Observation that this item reports. */
export type DeliveryEvent = 'firing' | 'resolved';

export interface DeliveredObservation extends Observation {
  /** Active, or Resolved (the finding is no longer reported; informer sources). */
  readonly phase: 'Active' | 'Resolved';
  /** When it was resolved (RFC 3339), for Resolved ones. */
  readonly resolvedAt?: string;
  /** When it was written (RFC 3339). */
  readonly createdAt: string;
  /** When it expires (RFC 3339): created + spec.ttlSecondsAfterCreation. */
  readonly expiresAt: string;
}

export interface DeliveryItem {
  /**
   * The idempotency key: the same for every send of the same (destination, Observation, event), different
   * otherwise. A receiver that keeps the keys it has seen can drop the duplicates at-least-once delivery may send
   * (a resend happens only when the outcome of an earlier send is unknown: a crash or timeout mid-send).
   */
  readonly key: string;
  readonly event: DeliveryEvent;
  readonly observation: DeliveredObservation;
}

/** onDeliver: one batch for one destination. */
export interface DeliveryRequest<Config = AnyConfig> {
  readonly destination: DestinationView<Config>;
  /** In the order the Observations were written; at most the destination's `delivery.batchSize`. */
  readonly items: readonly DeliveryItem[];
  /** 1 for the first try of this batch, then 2, 3, ... */
  readonly attempt: number;
  /** Aborts at the hook deadline or when this replica stops delivering (shutdown, lost leadership). */
  readonly signal: AbortSignal;
}

/**
 * What an onDeliver tap returns. Resolving means the batch was accepted, except the items listed in `rejected`
 * (the receiver refused them for good, e.g. 400 for one event): those are counted as failed and not retried.
 * To retry the whole batch later, throw (any error is retried with backoff; `deliveryError(..., { retryable:
 * false })` fails the batch for good instead).
 */
export type DeliveryResult = undefined | { rejected?: readonly { key: string; reason: string }[] };

/** A delivery failure with the facts the host needs to decide what to do next. */
export class DeliveryError extends ZwError {
  readonly retryable: boolean;
  /** The first `accepted` items of the batch were delivered before the failure (the rest are retried). */
  readonly accepted: number;
  constructor(
    message: string,
    opts: { retryable?: boolean; retryAfterSeconds?: number; status?: number; cause?: unknown; accepted?: number } = {},
  ) {
    super('ZW_ERR_DELIVERY_FAILED', message, {
      ...(opts.retryAfterSeconds !== undefined ? { retryAfterSeconds: opts.retryAfterSeconds } : {}),
      ...(opts.status !== undefined ? { status: opts.status } : {}),
      cause: opts.cause,
    });
    this.name = 'ZwError';
    this.retryable = opts.retryable ?? true;
    this.accepted = opts.accepted ?? 0;
  }
}

/**
 * For destination plugins: a failed send. Retryable unless `retryable: false`; `retryAfterSeconds` from the
 * receiver; `accepted`: how many items from the start of the batch were delivered before it failed (a plugin that
 * sends one request per item), so only the rest is sent again. `status` without an HTTP answer: leave it unset
 * (502), which tells the host the outcome is unknown (the next send may be a duplicate).
 */
export function deliveryError(
  message: string,
  opts: { retryable?: boolean; retryAfterSeconds?: number; status?: number; cause?: unknown; accepted?: number } = {},
): DeliveryError {
  return new DeliveryError(message, opts);
}

/**
 * For destination plugins: turn an HTTP answer into a result. 2xx → accepted; 408, 425, 429 and 5xx → retryable
 * (honouring `Retry-After` in seconds); other 4xx → failed for good. `accepted`: items of the batch already
 * delivered before this answer.
 */
export async function checkDeliveryResponse(res: Response, what: string, accepted = 0): Promise<void> {
  if (res.ok) {
    await res.body?.cancel().catch(() => {});
    return;
  }
  let text = '';
  try {
    text = (await res.text()).slice(0, 200);
  } catch {}
  const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
  const after = Number(res.headers.get('retry-after'));
  throw deliveryError(`${what} answered ${res.status}${text ? `: ${text}` : ''}`, {
    retryable,
    status: res.status,
    accepted,
    ...(Number.isFinite(after) && after > 0 ? { retryAfterSeconds: after } : {}),
  });
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * For destination plugins: a fetch() that threw (no HTTP answer). A refused connection or a failed DNS lookup
 * means nothing was sent (status 503); anything else (reset, timeout) leaves the outcome unknown (status 502), so
 * the host counts the next send of these items as a possible duplicate.
 */
export function networkError(err: unknown, what: string, accepted = 0): DeliveryError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (err as { code?: string })?.code;
  const sent = !(code && NOT_SENT.has(code));
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return deliveryError(`${what}: ${message}`, { status: sent ? 502 : 503, accepted, cause: err });
}
