/**
 * The answer to a webhook request once its drafts went into the pipeline (ADR 0005, ADR 0014): 200 when every
 * write finished and stored its Observation (or found it there), 503 + Retry-After when the sink refused any of
 * them (nothing of the request is acknowledged; the sender retries and what was stored becomes a duplicate).
 *
 * When the writes are still going after the ack wait, nothing is stored yet, so by default nothing is acknowledged
 * either: 503 `ZW_ERR_WRITE_PENDING` + Retry-After, and the writes go on. The retry is safe: on this replica it
 * waits for the pending write of the same finding (Pipeline #pending) and is a duplicate once it landed; on another
 * replica the deterministic Observation name makes the second create a 409, "already stored". With
 * `ZEN_WEBHOOK_ACK_PENDING=accept` (for senders that never retry) the answer is 202 queued instead, in memory only.
 */
import { ZwError, zwError } from '../api/index.ts';
import type { ProcessResult, WebhookAck } from '../pipeline/pipeline.ts';
import { deadline } from './deadlines.ts';

export type AckPending = 'retry' | 'accept';

/** Retry-After of a write-pending 503: the retry joins the write still under way (it does not start another). */
const WRITE_PENDING_RETRY_AFTER_SECONDS = 1;

export function answerWebhook(
  process: (ack: WebhookAck) => Promise<ProcessResult>,
  accepted: number,
  ackWaitMs: number,
  ackPending: AckPending,
  /** Counts a request whose writes outlived the ack wait, by its answer (503 or 202). */
  onPending: (answer: '503' | '202') => void,
): Promise<{ status: number; body: unknown }> {
  // Set before the 202 is sent: a write the sink refuses after that is counted as dropped (lost), not as refused.
  const ack: WebhookAck = { acknowledged: false };
  const processing = process(ack);
  // One promise settled by whichever comes first: the writes, or the ack wait's deadline from a shared list (a Node
  // timer per request, even cleared, was a visible share of the main thread at thousands of requests/s; and no
  // async wrapper around it: issue #18). The writes' rejection is always handled (after the wait too: the writes go
  // on, their failures are counted and logged by the pipeline).
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = deadline(
      ackWaitMs,
      () => {
        settled = true;
        if (ackPending === 'accept') {
          ack.acknowledged = true;
          onPending('202');
          resolve({ status: 202, body: { status: 'queued', accepted } });
          return;
        }
        onPending('503');
        reject(
          zwError(
            'ZW_ERR_WRITE_PENDING',
            { count: accepted, ms: ackWaitMs },
            { retryAfterSeconds: WRITE_PENDING_RETRY_AFTER_SECONDS },
          ),
        );
      },
      undefined,
    );
    processing.then(
      (r) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (r.refused > 0 && r.refusal) {
          reject(
            new ZwError(
              'ZW_ERR_NOT_READY',
              `${r.refused} of ${accepted} events could not be stored (${r.refusal.reason}: ${r.refusal.message.slice(0, 300)}); ` +
                'nothing of this request is acknowledged: retry later (what was stored becomes a duplicate)',
              { retryAfterSeconds: r.refusal.retryAfterSeconds },
            ),
          );
          return;
        }
        resolve({
          status: 200,
          body: {
            status: 'processed',
            accepted,
            created: r.created,
            duplicates: r.duplicates,
            filtered: r.filtered,
            dropped: r.dropped,
            resolved: r.resolved,
            names: r.names,
          },
        });
      },
      (err) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        reject(err);
      },
    );
  });
}
