/**
 * An HTTP/1.1 load generator for zen-watcher's webhooks (and anything else on loopback).
 *
 *   npm run loadgen -- --target URL --rate N --duration S [--body FILE] [--concurrency C] [--json]
 *
 * - **Open loop** (`--rate N`): request i is due at start + i/N, whether or not earlier ones have been answered,
 *   and its latency is measured from that due time, not from when a connection was free to send it. A server that
 *   stalls therefore shows its stall in every request that was due during it (no coordinated omission, as in
 *   wrk2). `--concurrency` caps the open connections; a due request waits for a free one, and that wait counts.
 * - **Closed loop** (`--rate max`): every connection sends its next request as soon as the previous is answered.
 *   That finds the saturation throughput; its latencies are service times at that concurrency (with coordinated
 *   omission, by construction).
 * - **Loopback only.** The target must be 127.0.0.0/8, ::1 or `localhost`; anything else is refused without a
 *   DNS lookup. `--allow-remote` lifts that for use elsewhere; in this workplace only loopback is allowed.
 * - `--body FILE` is sent as is, except that `{{seq}}` is replaced by the request's sequence number, so bodies can
 *   be made distinct (a dedup layer would otherwise answer most of them). Without `--body`, GET.
 *
 * The client is a small keep-alive HTTP/1.1 client over `node:net` (one request in flight per connection, no
 * pipelining): the `node:http` client costs more CPU per request than the servers measured here, and on a 2-core
 * machine the generator's own cost is part of the result. Library use: `runLoad()`, `assertLoopback()`.
 */
import { readFileSync } from 'node:fs';
import { isIP, Socket } from 'node:net';
import { createHistogram, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  target: string;
  /** Requests per second (open loop), or 'max' (closed loop). */
  rate: number | 'max';
  durationMs: number;
  /** Closed loop: stop after this many requests even if the duration has not passed. */
  maxRequests?: number;
  /** Connections (open loop: at most this many requests in flight). */
  concurrency: number;
  method?: string;
  headers?: Record<string, string>;
  /** The body of request `seq` (0-based); undefined = none. */
  body?: (seq: number) => Buffer | undefined;
  /** After the last request is due, how long to wait for answers before counting them as timeouts. */
  drainMs?: number;
  allowRemote?: boolean;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  mode: 'open' | 'closed';
  offeredRate: number | undefined;
  /** Answered requests (any status) per second of wall time, from the first send to the last answer. */
  achievedRate: number;
  /** 2xx answers per second. */
  okRate: number;
  sent: number;
  completed: number;
  statuses: Record<string, number>;
  /** Requests with no HTTP answer: connection errors, or still unanswered at the end of the drain. */
  errors: number;
  elapsedMs: number;
  /** Milliseconds; open loop: from the due time; closed loop: from the send. */
  latency: LatencySummary;
  /** Open loop: most requests ever waiting for a free connection (0 = the generator kept up). */
  maxBacklog: number;
}

/** Refuses any target that is not on loopback, without resolving names (only `localhost` is taken as loopback). */
export function assertLoopback(target: URL, allowRemote = false): void {
  if (target.protocol !== 'http:') throw new Error(`only http:// targets are supported, got ${target.protocol}`);
  if (allowRemote) return;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const loopback =
    host === 'localhost' ||
    (isIP(host) === 4 && host.startsWith('127.')) ||
    (isIP(host) === 6 && (host === '::1' || /^::ffff:127\./.test(host)));
  if (!loopback) {
    throw new Error(
      `refusing non-loopback target ${target.host}: only 127.0.0.0/8, ::1 and localhost are allowed (network rules of this workplace); --allow-remote lifts this elsewhere`,
    );
  }
}

interface Pending {
  seq: number;
  /** performance.now() when due (open loop) or sent (closed loop). */
  t0: number;
}

/** One keep-alive connection: one request at a time; resolves each with its status (0 = no answer). */
class Connection {
  readonly #host: string;
  readonly #port: number;
  #socket: Socket | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #onDone: ((status: number) => void) | undefined;
  #expect: { status: number; remaining: number; chunked: boolean; close: boolean; headerEnd: number } | undefined;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  send(head: Buffer, body: Buffer | undefined): Promise<number> {
    return new Promise((resolve) => {
      this.#onDone = resolve;
      const socket = this.#connect();
      socket.cork();
      socket.write(head);
      if (body) socket.write(body);
      socket.uncork();
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #connect(): Socket {
    if (this.#socket && !this.#socket.destroyed) return this.#socket;
    const socket = new Socket();
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#data(d));
    const fail = () => {
      if (this.#socket === socket) this.#socket = undefined;
      this.#finish(0);
    };
    socket.on('error', fail);
    socket.on('close', fail);
    socket.connect(this.#port, this.#host);
    this.#socket = socket;
    this.#buf = Buffer.alloc(0);
    this.#expect = undefined;
    return socket;
  }

  #finish(status: number) {
    const done = this.#onDone;
    this.#onDone = undefined;
    this.#expect = undefined;
    done?.(status);
  }

  #data(d: Buffer) {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      if (!this.#expect) {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#buf.toString('latin1', 0, end);
        const status = Number(head.slice(9, 12));
        const lower = head.toLowerCase();
        const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
        this.#expect = {
          status,
          remaining: cl ? Number(cl[1]) : 0,
          chunked: /\r\ntransfer-encoding:\s*chunked/.test(lower),
          close: /\r\nconnection:\s*close/.test(lower),
          headerEnd: end + 4,
        };
        this.#buf = this.#buf.subarray(end + 4);
      }
      const e = this.#expect;
      if (e.chunked) {
        // Skip chunks until the zero-size one and its trailing CRLF.
        for (;;) {
          const nl = this.#buf.indexOf('\r\n');
          if (nl < 0) return;
          const size = Number.parseInt(this.#buf.toString('latin1', 0, nl), 16);
          if (size === 0) {
            const trailerEnd = this.#buf.indexOf('\r\n\r\n');
            if (trailerEnd < 0) return;
            this.#buf = this.#buf.subarray(trailerEnd + 4);
            break;
          }
          if (this.#buf.length < nl + 2 + size + 2) return;
          this.#buf = this.#buf.subarray(nl + 2 + size + 2);
        }
      } else {
        if (this.#buf.length < e.remaining) return;
        this.#buf = this.#buf.subarray(e.remaining);
      }
      if (e.close) {
        const s = this.#socket;
        this.#socket = undefined;
        s?.removeAllListeners('close');
        s?.on('close', () => {});
        s?.destroy();
      }
      this.#finish(e.status);
      if (this.#buf.length === 0) return;
    }
  }
}

function summarize(h: ReturnType<typeof createHistogram>): LatencySummary {
  // Recorded in microseconds.
  const ms = (v: number) => v / 1000;
  if (h.count === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: 0, mean: 0 };
  return {
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    p999: ms(h.percentile(99.9)),
    max: ms(h.max),
    mean: ms(h.mean),
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const url = new URL(o.target);
  assertLoopback(url, o.allowRemote);
  if (!(o.concurrency >= 1)) throw new Error('concurrency must be at least 1');
  if (o.rate !== 'max' && !(o.rate > 0)) throw new Error('rate must be a positive number or "max"');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  const method = o.method ?? (o.body ? 'POST' : 'GET');
  const path = `${url.pathname}${url.search}`;
  const extra = Object.entries({ 'content-type': 'application/json', ...o.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const headFor = (body: Buffer | undefined) =>
    Buffer.from(
      `${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\n${body ? `${extra}Content-Length: ${body.length}\r\n` : ''}\r\n`,
      'latin1',
    );

  const hist = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
  const statuses: Record<string, number> = {};
  let completed = 0;
  let errors = 0;
  let sent = 0;
  let firstSend = Number.NaN;
  let lastDone = Number.NaN;
  const conns = Array.from({ length: o.concurrency }, () => new Connection(host, port));

  const fire = async (conn: Connection, p: Pending) => {
    const body = o.body?.(p.seq);
    if (Number.isNaN(firstSend)) firstSend = performance.now();
    sent++;
    const status = await conn.send(headFor(body), body);
    const now = performance.now();
    lastDone = now;
    if (status === 0) {
      errors++;
      return;
    }
    completed++;
    const key = String(status);
    statuses[key] = (statuses[key] ?? 0) + 1;
    hist.record(Math.max(1, Math.round((now - p.t0) * 1000)));
  };

  const start = performance.now();
  const end = start + o.durationMs;
  let maxBacklog = 0;

  if (o.rate === 'max') {
    let seq = 0;
    const max = o.maxRequests ?? Number.POSITIVE_INFINITY;
    await Promise.all(
      conns.map(async (conn) => {
        while (performance.now() < end && seq < max) await fire(conn, { seq: seq++, t0: performance.now() });
      }),
    );
  } else {
    const rate = o.rate;
    const total = Math.max(1, Math.round((rate * o.durationMs) / 1000));
    const backlog: Pending[] = [];
    let head = 0;
    let next = 0;
    const idle = [...conns];
    let inflight = 0;
    let wake: (() => void) | undefined;
    const pump = () => {
      while (idle.length > 0 && head < backlog.length) {
        const conn = idle.pop()!;
        const p = backlog[head++]!;
        inflight++;
        void fire(conn, p).finally(() => {
          inflight--;
          idle.push(conn);
          pump();
          wake?.();
        });
      }
      if (head > 4096 && head * 2 > backlog.length) {
        backlog.splice(0, head);
        head = 0;
      }
    };
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
        while (next < due) backlog.push({ seq: next, t0: start + (next++ * 1000) / rate });
        maxBacklog = Math.max(maxBacklog, backlog.length - head - idle.length);
        pump();
        if (next >= total) resolve();
        else setTimeout(tick, Math.max(0, Math.min(1, start + (next * 1000) / rate - performance.now())));
      };
      tick();
    });
    const drainUntil = performance.now() + (o.drainMs ?? 10_000);
    while ((inflight > 0 || head < backlog.length) && performance.now() < drainUntil) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    errors += backlog.length - head + inflight;
  }
  for (const c of conns) c.close();
  const elapsedMs = Math.max(1, (Number.isNaN(lastDone) ? performance.now() : lastDone) - firstSend);
  const ok = Object.entries(statuses).reduce((n, [s, c]) => (s.startsWith('2') ? n + c : n), 0);
  return {
    mode: o.rate === 'max' ? 'closed' : 'open',
    offeredRate: o.rate === 'max' ? undefined : o.rate,
    achievedRate: (completed * 1000) / elapsedMs,
    okRate: (ok * 1000) / elapsedMs,
    sent,
    completed,
    statuses,
    errors,
    elapsedMs,
    latency: summarize(hist),
    maxBacklog,
  };
}

export function formatResult(r: LoadResult): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '-');
  const l = r.latency;
  return [
    `mode        ${r.mode === 'open' ? `open loop, offered ${r.offeredRate}/s` : 'closed loop (saturation)'}`,
    `achieved    ${f(r.achievedRate)} req/s (2xx ${f(r.okRate)}/s) over ${(r.elapsedMs / 1000).toFixed(2)} s`,
    `requests    sent ${r.sent}, answered ${r.completed}, no answer ${r.errors}`,
    `statuses    ${
      Object.entries(r.statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ') || '-'
    }`,
    `latency ms  p50 ${f(l.p50)}  p90 ${f(l.p90)}  p99 ${f(l.p99)}  p99.9 ${f(l.p999)}  max ${f(l.max)}  mean ${f(l.mean)}`,
    ...(r.mode === 'open' ? [`backlog     max ${r.maxBacklog} requests waiting for a connection`] : []),
  ].join('\n');
}

const USAGE = `usage: npm run loadgen -- --target URL --rate N|max --duration S [--body FILE] [--concurrency C]
                          [--requests N] [--method M] [--header 'name: value']... [--content-type T] [--json]
                          [--allow-remote]
  --rate N      open loop: N requests/s, latency measured from each request's due time (no coordinated omission)
  --rate max    closed loop: each connection sends again as soon as it is answered (saturation throughput)
  --body FILE   request body (POST by default); {{seq}} in it becomes the request's sequence number
  --concurrency connections, at most one request in flight each (default 64)
  --requests N  with --rate max: stop after N requests (or at --duration, whichever comes first)
  targets must be on loopback (127.0.0.0/8, ::1, localhost) unless --allow-remote`;

async function cli(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  function parse(args: string[]) {
    return parseArgs({
      args,
      options: {
        target: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string', default: '10' },
        requests: { type: 'string' },
        body: { type: 'string' },
        concurrency: { type: 'string', default: '64' },
        method: { type: 'string' },
        header: { type: 'string', multiple: true },
        'content-type': { type: 'string', default: 'application/json' },
        json: { type: 'boolean', default: false },
        'allow-remote': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  }
  try {
    values = parse(argv).values;
  } catch (err) {
    process.stderr.write(`loadgen: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const fail = (m: string) => {
    process.stderr.write(`loadgen: ${m}\n${USAGE}\n`);
    return 2;
  };
  if (!values.target) return fail('--target is required');
  if (!values.rate) return fail('--rate is required');
  const rate = values.rate === 'max' ? 'max' : Number(values.rate);
  const duration = Number(values.duration);
  const concurrency = Number(values.concurrency);
  if (rate !== 'max' && !(rate > 0)) return fail(`--rate must be a positive number or max, got '${values.rate}'`);
  if (!(duration > 0)) return fail(`--duration must be a positive number of seconds, got '${values.duration}'`);
  if (!Number.isInteger(concurrency) || concurrency < 1) return fail('--concurrency must be a positive integer');
  const requests = values.requests === undefined ? undefined : Number(values.requests);
  if (requests !== undefined && (!Number.isInteger(requests) || requests < 1 || rate !== 'max'))
    return fail('--requests must be a positive integer, with --rate max');
  let target: URL;
  try {
    target = new URL(values.target);
    assertLoopback(target, values['allow-remote']);
  } catch (err) {
    return fail((err as Error).message);
  }
  const headers: Record<string, string> = { 'content-type': values['content-type'] };
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) return fail(`--header must be 'name: value', got '${h}'`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  let body: ((seq: number) => Buffer) | undefined;
  if (values.body) {
    const text = readFileSync(values.body, 'utf8');
    const parts = text.split('{{seq}}');
    const fixed = Buffer.from(text);
    body = parts.length === 1 ? () => fixed : (seq) => Buffer.from(parts.join(String(seq)));
  }
  const result = await runLoad({
    target: target.href,
    rate,
    durationMs: duration * 1000,
    concurrency,
    headers,
    ...(requests !== undefined ? { maxRequests: requests } : {}),
    ...(values.method ? { method: values.method } : {}),
    ...(body ? { body } : {}),
    allowRemote: values['allow-remote'],
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(result)}\n`);
  return result.completed > 0 ? 0 : 1;
}

if (import.meta.main) {
  cli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`loadgen: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
