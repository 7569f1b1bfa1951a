/**
 * A local HTTP receiver for delivery tests: records every request, verifies HMAC signatures (the scheme of the
 * cloudevents destination and of zen-watcher's own webhook auth), keeps the idempotency keys it accepted, and can
 * be told to fail (any status), to hang, or to close its port. Stands in for generic webhooks and for Slack.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RestartableServer } from './restartable-server.ts';

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
  /** undefined when no secret is configured; else whether the signature matched. */
  signatureOk: boolean | undefined;
  at: number;
}

export interface ReceiverOptions {
  /** HMAC secret(s) to verify against (any may match: rotation). */
  secrets?: () => readonly string[];
  signatureHeader?: string;
  timestampHeader?: string;
  /** How to find the idempotency key of a request (default: the `idempotency-key` header). */
  keyOf?: (r: ReceivedRequest) => string[];
}

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  /** Accepted idempotency keys with how many times each was accepted. */
  readonly accepted = new Map<string, number>();
  /** Answer with this status instead of 200 (undefined = 200). */
  failWith: number | undefined;
  /** Never answer (the sender times out; its outcome is unknown). */
  hang = false;
  /** With `hang`: take the request in (record its keys as accepted) before not answering: a lost answer. */
  acceptBeforeHang = false;
  /** Requests with a bad signature get 401. */
  rejectBadSignatures = true;
  readonly #server = new RestartableServer((req, res) => void this.#handle(req, res));
  readonly #opts: ReceiverOptions;

  constructor(opts: ReceiverOptions = {}) {
    this.#opts = opts;
  }

  get url(): string {
    return this.#server.url;
  }

  /** Starts listening (again on the same port after close()). */
  async start(): Promise<this> {
    await this.#server.listen();
    return this;
  }

  /** Stops listening: connections are refused until start() again. */
  close(): Promise<void> {
    return this.#server.stop();
  }

  /** Keys accepted more than once (duplicates), and how many extra times. */
  duplicates(): number {
    let n = 0;
    for (const c of this.accepted.values()) n += c - 1;
    return n;
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {}
    const r: ReceivedRequest = {
      path: req.url ?? '/',
      headers: req.headers,
      body,
      json,
      signatureOk: this.#verify(req.headers, body),
      at: Date.now(),
    };
    this.requests.push(r);
    const keys = this.#opts.keyOf?.(r) ?? [String(req.headers['idempotency-key'] ?? '')];
    if (this.hang) {
      if (this.acceptBeforeHang) for (const k of keys) this.accepted.set(k, (this.accepted.get(k) ?? 0) + 1);
      this.#server.hold(res);
      return;
    }
    if (this.failWith) {
      res.writeHead(this.failWith, { 'content-type': 'text/plain' }).end('failing on purpose');
      return;
    }
    if (r.signatureOk === false && this.rejectBadSignatures) {
      res.writeHead(401).end('bad signature');
      return;
    }
    for (const k of keys) this.accepted.set(k, (this.accepted.get(k) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  }

  #verify(headers: IncomingMessage['headers'], body: string): boolean | undefined {
    const secrets = this.#opts.secrets?.();
    if (!secrets?.length) return undefined;
    const sig = headers[(this.#opts.signatureHeader ?? 'X-Signature-256').toLowerCase()];
    const ts = headers[(this.#opts.timestampHeader ?? 'X-Zen-Timestamp').toLowerCase()];
    if (typeof sig !== 'string' || typeof ts !== 'string') return false;
    for (const s of secrets) {
      const want = Buffer.from(`sha256=${createHmac('sha256', s).update(`${ts}.${body}`).digest('hex')}`);
      const got = Buffer.from(sig);
      if (want.length === got.length && timingSafeEqual(want, got)) return true;
    }
    return false;
  }
}
