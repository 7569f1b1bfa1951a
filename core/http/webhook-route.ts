/**
 * The HTTP route of one webhook Ingester: credentials → authenticator, admission, the plugin's onWebhook tap (via
 * the host core), the pipeline, and the answer — 200 with the outcome when the write finished within `ackWaitMs`,
 * else 503 ZW_ERR_WRITE_PENDING + Retry-After, or 202 with `ackPending: 'accept'` (either way the work still
 * finishes: admitted events are written even if the client leaves).
 *
 * The "unauthenticated" warning is logged once per Ingester per route factory (one factory per host), not on every
 * rebuild of the route table.
 */
import type { ObservationDraft, WebhookRequest } from '../api/index.ts';
import type { CompiledIngester, Pipeline } from '../pipeline/pipeline.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { type CredentialSource, createAuthenticator } from './auth.ts';
import type { ReplayGuard } from './replay.ts';
import type { ClientSignal } from './request-signal.ts';
import type { WebhookCall, WebhookRoute } from './server.ts';
import { type AckPending, answerWebhook } from './webhook-answer.ts';

export interface WebhookRouteDeps {
  /** Default body limit when neither the Ingester nor the plugin manifest sets one. */
  maxBodyBytes: number;
  /** How long the answer waits for the write before it says 503 write pending (or 202 queued). */
  ackWaitMs: number;
  /** The answer when the write is still going after ackWaitMs: 503 + Retry-After, or 202 (ZEN_WEBHOOK_ACK_PENDING). */
  ackPending: AckPending;
  /** Log (truncated) payloads at debug. */
  logPayloads: boolean;
  log: Logger;
  metrics: Metrics;
  pipeline: Pipeline;
  /** Where the secret of `spec.webhook.auth` comes from (file or Secret); undefined = no auth configured. */
  credentials: (ci: CompiledIngester) => CredentialSource | undefined;
  /** HMAC replay protection (ADR 0012): signatures already used are refused. */
  replay: ReplayGuard;
  /** The host core's onWebhook runner. */
  drafts: (
    ci: CompiledIngester,
    request: Omit<WebhookRequest, 'ingester' | 'signal'>,
    clientSignal: ClientSignal,
  ) => Promise<ObservationDraft[]>;
}

export function webhookRouteFactory(deps: WebhookRouteDeps): (ci: CompiledIngester) => WebhookRoute {
  const warnedUnauthenticated = new Set<string>();
  return (ci) => {
    const spec = ci.config.spec;
    const webhook = spec.webhook!;
    const authenticator = createAuthenticator(webhook.auth, deps.credentials(ci), {
      replay: deps.replay,
      scope: ci.config.key,
    });
    if (!authenticator && !warnedUnauthenticated.has(ci.config.key)) {
      warnedUnauthenticated.add(ci.config.key);
      deps.log.warn(
        { ingester: ci.config.key, path: webhook.path },
        `webhook ${webhook.path} is unauthenticated: anyone who can reach the port can post; set spec.webhook.auth (docs/SECURITY.md)`,
      );
    }
    const onPending = (answer: '503' | '202') => deps.metrics.ackPending.inc({ endpoint: spec.source, answer });
    return {
      authenticator,
      path: webhook.path,
      methods: webhook.methods ?? ['POST'],
      maxBodyBytes: webhook.maxBodyBytes ?? ci.config.handler.maxBodyBytes ?? deps.maxBodyBytes,
      endpoint: spec.source,
      admit: () => deps.pipeline.admit(ci),
      handle(call: WebhookCall) {
        if (deps.logPayloads) {
          // Off by default; truncated when on, and never with headers (they may carry credentials).
          deps.log.debug(
            {
              ingester: ci.config.key,
              bytes: call.rawBody.length,
              payload: call.rawBody.subarray(0, 512).toString('utf8'),
            },
            'webhook payload',
          );
        }
        // The call carries the request's fields as the tap sees them (no copy per request).
        return deps.drafts(ci, call, call.signal).then((got) => {
          // A signed request's events without their own time take the signed one: a replay of it then derives the
          // same Observation names on any replica, after any restart, and is a duplicate (ADR 0012).
          const drafts = call.signedAt !== undefined ? datedDrafts(got, call.signedAt) : got;
          // Once admitted, the work finishes even if the client leaves; the answer waits up to ackWaitMs for the
          // write. 200 when stored, 503 + Retry-After when the sink refused any write (ADR 0014) or when it is still
          // going after ackWaitMs (or 202 with ackPending 'accept', ADR 0005).
          return answerWebhook(
            (ack) => deps.pipeline.process(ci, drafts, 'webhook', undefined, ack),
            drafts.length,
            deps.ackWaitMs,
            deps.ackPending,
            onPending,
          );
        });
      },
    };
  };
}

function datedDrafts(drafts: ObservationDraft[], signedAt: number): ObservationDraft[] {
  const at = new Date(signedAt).toISOString();
  return drafts.map((d) =>
    d &&
    typeof d === 'object' &&
    (d.detectedAt === undefined || (d.detectedAt as unknown) === null || d.detectedAt === '')
      ? { ...d, detectedAt: at }
      : d,
  );
}
