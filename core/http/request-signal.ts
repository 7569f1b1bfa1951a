/**
 * The signal a webhook handler gets: aborted when the client goes away or after `timeoutMs`. Made only if the
 * handler reads it (issue #18): most taps never do, and an AbortController, a timer and a listener per request were
 * a visible share of the main thread's time and garbage. What is kept per request is one entry in the shared
 * deadline list of `timeoutMs` (deadlines.ts), set before the tap's own deadline in the same list, so the signal
 * aborts before the guard gives up on the tap, as a timer set first did. Read late, the signal behaves as if made at
 * the start: already aborted if the client went away or the time is up, else it aborts when either happens.
 */
import { type Deadline, deadline } from './deadlines.ts';

/** Where the client's abort comes from: a signal, or a function that makes one when first asked (lazily too). */
export type ClientSignal = AbortSignal | (() => AbortSignal);

const timeoutError = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

export class RequestSignal {
  readonly #client: ClientSignal | undefined;
  readonly #timer: Deadline;
  #ac: AbortController | undefined;
  #expired = false;
  #done = false;
  #clientSignal: AbortSignal | undefined;
  #onClient: (() => void) | undefined;

  constructor(timeoutMs: number, client?: ClientSignal) {
    this.#client = client;
    this.#timer = deadline(timeoutMs, expire, this);
  }

  /** The request's signal, made on first use. */
  get signal(): AbortSignal {
    if (this.#ac) return this.#ac.signal;
    const ac = new AbortController();
    this.#ac = ac;
    const client = typeof this.#client === 'function' ? this.#client() : this.#client;
    if (client?.aborted) ac.abort(client.reason);
    else if (this.#expired) ac.abort(timeoutError());
    else if (client && !this.#done) {
      this.#clientSignal = client;
      this.#onClient = () => ac.abort(client.reason);
      client.addEventListener('abort', this.#onClient, { once: true });
    }
    return ac.signal;
  }

  /** The time is up (called by the deadline list). */
  expire(): void {
    this.#expired = true;
    if (this.#ac && !this.#ac.signal.aborted) this.#ac.abort(timeoutError());
  }

  /** The handler returned: release the deadline and the listener. */
  done(): void {
    this.#done = true;
    this.#timer.cancel();
    if (this.#onClient) this.#clientSignal?.removeEventListener('abort', this.#onClient);
  }
}

function expire(rs: RequestSignal): void {
  rs.expire();
}

/**
 * An onWebhook request as a tap sees it: the request's fields and its `signal`, made when the tap first reads it.
 * A class with the getter on its prototype (an object literal with a getter per request cost 20× more to make).
 */
export class WebhookTapRequest<Ingester> {
  readonly ingester: Ingester;
  readonly body: unknown;
  readonly rawBody: Buffer;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly contentType: string;
  readonly jsonLines: boolean;
  readonly #signal: RequestSignal;

  constructor(
    request: {
      body: unknown;
      rawBody: Buffer;
      headers: Readonly<Record<string, string | string[] | undefined>>;
      contentType: string;
      jsonLines: boolean;
    },
    ingester: Ingester,
    signal: RequestSignal,
  ) {
    this.ingester = ingester;
    this.body = request.body;
    this.rawBody = request.rawBody;
    this.headers = request.headers;
    this.contentType = request.contentType;
    this.jsonLines = request.jsonLines;
    this.#signal = signal;
  }

  get signal(): AbortSignal {
    return this.#signal.signal;
  }
}
