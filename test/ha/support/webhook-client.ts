/**
 * A webhook sender like a Service in front of the replicas plus a client that retries: each request goes to the
 * next replica in round-robin order; a connection failure, a timeout, a 5xx or a 429 makes it try the next
 * replica after a short pause, until a 2xx (or the give-up time). Every attempt is recorded, so the suite can
 * compute the error rate during each failover and check that every event was eventually accepted.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Attempt {
  t: number;
  /** Duration of the attempt (ms). */
  ms: number;
  target: string;
  /** HTTP status, or 0 for a connection failure / timeout. */
  status: number;
  reason: string;
}

export interface Delivery {
  id: string;
  path: string;
  firstAt: number;
  attempts: Attempt[];
  /** Final 2xx status (undefined: never accepted). */
  accepted?: number;
  acceptedAt?: number;
  /** From a 200 answer: drafts the host dropped (a write that failed after its retries). */
  dropped?: number;
  /** The accepting answer's body (first 300 characters). */
  answer?: string;
}

export interface WebhookClientOptions {
  /** Base URLs of the replicas to use right now (called for each attempt). */
  targets: () => string[];
  timeoutMs?: number;
  giveUpMs?: number;
  retryPauseMs?: number;
}

export class WebhookClient {
  readonly deliveries: Delivery[] = [];
  readonly #o: Required<WebhookClientOptions>;
  #rr = 0;
  readonly #closed = new AbortController();
  readonly #pending = new Set<Promise<void>>();

  constructor(o: WebhookClientOptions) {
    this.#o = { timeoutMs: 3000, giveUpMs: 120_000, retryPauseMs: 100, ...o };
  }

  /** Sends one event (in the background); `wait()` resolves when all sent so far are done. */
  send(id: string, path: string, body: string, contentType = 'application/json'): void {
    const d: Delivery = { id, path, firstAt: Date.now(), attempts: [] };
    this.deliveries.push(d);
    const p = this.#deliver(d, body, contentType).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Gives up on every delivery still being retried. */
  async close(): Promise<void> {
    this.#closed.abort();
    await this.wait();
  }

  async wait(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  async #deliver(d: Delivery, body: string, contentType: string): Promise<void> {
    const deadline = d.firstAt + this.#o.giveUpMs;
    while (Date.now() < deadline && !this.#closed.signal.aborted) {
      const targets = this.#o.targets();
      if (targets.length === 0) {
        await sleep(this.#o.retryPauseMs);
        continue;
      }
      // Round-robin, but a retry never goes back to the replica that just failed (when there is another).
      const previous = d.attempts.at(-1)?.target;
      let target = targets[this.#rr++ % targets.length]!;
      if (target === previous && targets.length > 1) target = targets[this.#rr++ % targets.length]!;
      const t = Date.now();
      let status = 0;
      let reason = '';
      let pause = this.#o.retryPauseMs;
      try {
        const res = await fetch(`${target}${d.path}`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
        status = res.status;
        const text = await res.text();
        if (status >= 200 && status < 300) {
          d.attempts.push({ t, ms: Date.now() - t, target, status, reason: 'ok' });
          d.accepted = status;
          d.acceptedAt = Date.now();
          d.answer = text.slice(0, 300);
          try {
            d.dropped = Number((JSON.parse(text) as { dropped?: number }).dropped ?? 0);
          } catch {
            d.dropped = 0;
          }
          return;
        }
        reason = `http_${status}`;
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) pause = Math.min(retryAfter * 1000, 1000);
        if (status < 500 && status !== 429) {
          // A 4xx other than 429 is a bug in the payload or the host: no retry can fix it.
          d.attempts.push({ t, ms: Date.now() - t, target, status, reason: `${reason}: ${text.slice(0, 200)}` });
          return;
        }
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        reason = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
      }
      d.attempts.push({ t, ms: Date.now() - t, target, status, reason });
      await sleep(pause);
    }
  }
}
