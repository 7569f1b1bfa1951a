/**
 * Per-Ingester webhook authentication (`spec.webhook.auth`): a bearer token, or an HMAC-SHA256 signature over the
 * raw body (optionally over `<timestamp>.<body>` with a timestamp header and a tolerance window, plus replay
 * protection: a signature is used once its request was answered 2xx, see replay.ts). Credentials come from a CredentialSource (a Kubernetes
 * Secret, or a file in standalone mode) that may hold several values, one per line: during a rotation the old
 * and the new are both accepted. Comparisons are constant-time. No credential, signature or header value ever
 * appears in an error body or a log line: errors say what was wrong, not what was sent.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ZwError } from '../api/index.ts';
import { type ReplayClaim, ReplayGuard } from './replay.ts';

export interface WebhookAuthSpec {
  type: 'none' | 'bearer' | 'hmac';
  secretRef?: { name: string; key?: string };
  secretFile?: string;
  hmac?: { header?: string; prefix?: string; timestampHeader?: string; toleranceSeconds?: number };
}

/** The current accepted values (already split into lines); throws when they cannot be read. */
export type CredentialSource = () => readonly string[];

export interface Authenticator {
  /** Bearer checks run before the body is read; HMAC needs it. */
  readonly needsBody: boolean;
  check(
    headers: Readonly<Record<string, string | string[] | undefined>>,
    rawBody: Buffer | undefined,
    now: number,
  ): AuthOutcome | undefined;
}

/** What a successful check hands the server for after the request. */
export interface AuthOutcome {
  /** HMAC with a timestamp: accept() on a 2xx answer, release() on any other; a replay was refused already. */
  claim?: ReplayClaim;
  /** The signed timestamp (ms): the request's own time for events that carry none. */
  signedAt?: number;
}

export interface AuthOptions {
  /** Where used signatures are kept (shared by all Ingesters of a host). Default: a fresh in-memory guard. */
  replay?: ReplayGuard;
  /** Separates the signatures of different Ingesters in a shared guard (the Ingester's key). */
  scope?: string;
}

const unauthorized = (reason: string) => new ZwError('ZW_ERR_UNAUTHORIZED', reason);

/** Equal-length digests compared with timingSafeEqual: no early exit, no length leak. */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function createAuthenticator(
  spec: WebhookAuthSpec | undefined,
  credentials: CredentialSource | undefined,
  options: AuthOptions = {},
): Authenticator | undefined {
  if (!spec || spec.type === 'none') return undefined;
  if (!credentials) throw new ZwError('ZW_ERR_CREDENTIALS', 'webhook auth needs credentials (secretRef or secretFile)');
  const load = () => {
    let values: readonly string[];
    try {
      values = credentials();
    } catch (err) {
      // The source is configured but unreadable (Secret missing, file gone): refuse, and say which side is at fault.
      // The cause (a file path, a Secret name) goes to the server log, not to the sender.
      throw new ZwError('ZW_ERR_NOT_READY', 'webhook credentials are not available (the server log says why)', {
        retryAfterSeconds: 5,
        cause: err,
      });
    }
    if (values.length === 0)
      throw new ZwError('ZW_ERR_NOT_READY', 'webhook credentials are empty', { retryAfterSeconds: 5 });
    return values;
  };

  if (spec.type === 'bearer') {
    return {
      needsBody: false,
      check(headers) {
        const auth = header(headers, 'authorization');
        if (!auth) throw unauthorized('missing Authorization header (expected: Bearer <token>)');
        const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
        if (!m) throw unauthorized('Authorization header is not a Bearer token');
        const token = m[1]!.trim();
        // Every candidate is compared, so timing does not tell which (or whether any) matched first.
        let ok = false;
        for (const v of load()) ok = safeEqual(token, v) || ok;
        if (!ok) throw unauthorized('invalid bearer token');
        return undefined;
      },
    };
  }

  const h = spec.hmac ?? {};
  const sigHeader = (h.header ?? 'X-Signature-256').toLowerCase();
  const prefix = h.prefix ?? 'sha256=';
  const tsHeader = h.timestampHeader?.toLowerCase();
  const toleranceMs = (h.toleranceSeconds ?? 300) * 1000;
  const replay = options.replay ?? new ReplayGuard();
  const scope = options.scope ?? '';
  return {
    needsBody: true,
    check(headers, rawBody, now) {
      const sig = header(headers, sigHeader);
      if (!sig) throw unauthorized(`missing ${sigHeader} header`);
      if (!sig.startsWith(prefix)) throw unauthorized(`${sigHeader} must start with '${prefix}'`);
      const given = sig.slice(prefix.length).trim().toLowerCase();
      let signed: Buffer = rawBody ?? Buffer.alloc(0);
      let t = 0;
      if (tsHeader) {
        const ts = header(headers, tsHeader);
        if (!ts || !/^\d{1,13}$/.test(ts.trim()))
          throw unauthorized(`missing or malformed ${tsHeader} header (unix seconds)`);
        t = Number(ts.trim()) * 1000;
        if (Math.abs(now - t) > toleranceMs)
          throw unauthorized(`${tsHeader} is outside the ${toleranceMs / 1000}s tolerance window`);
        signed = Buffer.concat([Buffer.from(`${ts.trim()}.`), signed]);
      }
      let ok = false;
      for (const secret of load())
        ok = safeEqual(given, createHmac('sha256', secret).update(signed).digest('hex')) || ok;
      if (!ok) throw unauthorized('signature does not match');
      if (!tsHeader) return undefined;
      // A valid signature already answered 2xx, or still being processed, is a replay. Past its timestamp's
      // tolerance window the time check refuses it anyway, so that is how long it is remembered.
      let claim: ReplayClaim | undefined;
      try {
        claim = replay.claim(scope, given, Math.max(t, now) + toleranceMs, now);
      } catch (err) {
        throw new ZwError('ZW_ERR_NOT_READY', 'cannot check for replayed requests now', {
          retryAfterSeconds: 5,
          cause: err,
        });
      }
      if (!claim) throw unauthorized('replayed request (this signature was already accepted or is being processed)');
      return { claim, signedAt: t };
    },
  };
}

/** Parses a credential value: one accepted value per non-empty line (rotation: old and new side by side). */
export function splitCredentials(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}
