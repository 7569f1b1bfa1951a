/**
 * The answer to a webhook request once its drafts went into the pipeline (ADR 0005, ADR 0014): 200 when every
 * write finished and stored its Observation (or found it there), 503 + Retry-After when the sink refused any of
 * them (nothing of the request is acknowledged; the sender retries and what was stored becomes a duplicate), and
 * 202 when the writes are still going after the ack wait.
 */
import { ZwError } from '../api/index.ts';
import type { ProcessResult } from '../pipeline/pipeline.ts';

export async function answerWebhook(
  processing: Promise<ProcessResult>,
  accepted: number,
  ackWaitMs: number,
  /** A write refused after the 202 was sent: the event was acknowledged and is lost (count it as dropped). */
  onLateRefusal: (r: ProcessResult) => void,
): Promise<{ status: number; body: unknown }> {
  // One timer per request, cleared as soon as the write is done (an uncleared sleep kept a timer and a promise
  // alive for the whole ack wait of every request: tens of thousands at a few thousand requests/s). One promise
  // settled by whichever comes first (Promise.race and finally cost two more per request).
  const waited = await new Promise<ProcessResult | 'timeout'>((resolve, reject) => {
    const timer = setTimeout(resolve, ackWaitMs, 'timeout');
    processing.then(
      (r) => {
        clearTimeout(timer);
        resolve(r);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
  if (waited === 'timeout') {
    processing.then(
      (r) => r.refused > 0 && onLateRefusal(r),
      () => {},
    );
    return { status: 202, body: { status: 'queued', accepted } };
  }
  const r = waited;
  if (r.refused > 0 && r.refusal) {
    throw new ZwError(
      'ZW_ERR_NOT_READY',
      `${r.refused} of ${accepted} events could not be stored (${r.refusal.reason}: ${r.refusal.message.slice(0, 300)}); ` +
        'nothing of this request is acknowledged: retry later (what was stored becomes a duplicate)',
      { retryAfterSeconds: r.refusal.retryAfterSeconds },
    );
  }
  return {
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
  };
}
