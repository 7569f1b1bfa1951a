/**
 * An HTTP relay in front of a real Alertmanager, for delivery tests that must count what the receiver got: every
 * `POST /api/v2/alerts` is forwarded and the idempotency keys of the alerts in it (annotation `idempotency_key`,
 * set by the alertmanager destination) are recorded once Alertmanager answered 2xx. So duplicates are counted at
 * the receiver, which Alertmanager itself cannot show (it merges alerts with the same labels).
 *
 * Faults:
 * - `loseAnswers`: forward to Alertmanager (it has the alerts), then never answer the sender: the sender cannot
 *   know the outcome (the case at-least-once delivery may repeat). Those keys are recorded in `lostAnswerKeys`.
 * - `down()`: stop listening (connections are refused: a known failure, nothing sent) and drop every open
 *   connection; `up()` listens again on the same port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RestartableServer } from './restartable-server.ts';

export class AlertRelay {
  /** Idempotency key → how many times Alertmanager accepted an alert with it. */
  readonly received = new Map<string, number>();
  /** The Authorization header of every POST to /api/v2/alerts, in order ('' when absent). */
  readonly authorizations: string[] = [];
  /** Keys of requests Alertmanager accepted but whose answer the sender never got. */
  readonly lostAnswerKeys = new Set<string>();
  /** Forward, then never answer (see the module comment). */
  loseAnswers = false;
  readonly #server = new RestartableServer((req, res) => void this.#handle(req, res).catch(() => res.destroy()));
  readonly #upstream: string;

  constructor(upstream: string) {
    this.#upstream = upstream.replace(/\/+$/, '');
  }

  get url(): string {
    return this.#server.url;
  }

  /** Listens (again on the same port after down()). */
  async up(): Promise<this> {
    await this.#server.listen();
    return this;
  }

  /** Refuses connections until up(); requests in flight (and answers being held) are cut. */
  down(): Promise<void> {
    return this.#server.stop();
  }

  /** Keys Alertmanager accepted more than once. */
  duplicatedKeys(): string[] {
    return [...this.received].filter(([, n]) => n > 1).map(([k]) => k);
  }

  /** Extra receipts beyond the first, over all keys. */
  duplicates(): number {
    let n = 0;
    for (const c of this.received.values()) n += c - 1;
    return n;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url?.startsWith('/api/v2/alerts'))
      this.authorizations.push(req.headers.authorization ?? '');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    const up = await fetch(`${this.#upstream}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
    });
    const answer = Buffer.from(await up.arrayBuffer());
    let keys: string[] = [];
    if (up.ok && req.method === 'POST' && req.url?.startsWith('/api/v2/alerts')) {
      try {
        keys = (JSON.parse(body.toString('utf8')) as { annotations?: { idempotency_key?: string } }[])
          .map((a) => a.annotations?.idempotency_key ?? '')
          .filter(Boolean);
      } catch {}
      for (const k of keys) this.received.set(k, (this.received.get(k) ?? 0) + 1);
    }
    if (this.loseAnswers) {
      for (const k of keys) this.lostAnswerKeys.add(k);
      this.#server.hold(res); // until down() cuts it
      return;
    }
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' }).end(answer);
  }
}
