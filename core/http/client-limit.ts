/**
 * Per-client-IP token buckets (429 + Retry-After). The client is the TCP peer; `X-Forwarded-For` is believed only
 * when the peer is in ZEN_TRUSTED_PROXY_CIDRS (then the right-most address not itself a trusted proxy is the
 * client). Memory is bounded: at most `maxClients` buckets, oldest first out.
 */
import { BlockList, isIP } from 'node:net';
import { ZwError } from '../api/index.ts';
import { TokenBucket } from '../pipeline/token-bucket.ts';

export function parseCidrs(list: readonly string[]): BlockList {
  const bl = new BlockList();
  for (const entry of list) {
    const [addr, bits] = entry.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!addr || isIP(addr) === 0) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `not an IP or CIDR: '${entry}'`);
    if (bits === undefined) bl.addAddress(addr, type);
    else bl.addSubnet(addr, Number(bits), type);
  }
  return bl;
}

function normalize(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: BlockList | undefined): string {
  const p = normalize(peer);
  const trustedPeer = (ip: string) =>
    trusted !== undefined && isIP(ip) !== 0 && trusted.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  if (!forwardedFor || !trustedPeer(p)) return p;
  const hops = forwardedFor
    .split(',')
    .map((s) => normalize(s.trim()))
    .filter((s) => isIP(s) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) if (!trustedPeer(hops[i]!)) return hops[i]!;
  return hops[0] ?? p;
}

export class ClientLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;

  constructor(rate: number, burst: number, maxClients = 10_000) {
    this.#rate = rate;
    this.#burst = burst;
    this.#max = maxClients;
  }

  /** A 429 ZwError when `client` is over its rate, else undefined (and one token is taken). */
  take(client: string, now: number): ZwError | undefined {
    let b = this.#buckets.get(client);
    if (!b) {
      b = new TokenBucket(this.#rate, this.#burst, now);
      if (this.#buckets.size >= this.#max) this.#buckets.delete(this.#buckets.keys().next().value as string);
    } else this.#buckets.delete(client); // re-insert: most recently used last
    this.#buckets.set(client, b);
    if (b.tryTake(now)) return undefined;
    return new ZwError('ZW_ERR_RATE_LIMITED', 'this client is over its request rate', {
      retryAfterSeconds: Math.max(1, Math.ceil(b.waitMs(now) / 1000)),
    });
  }

  get size(): number {
    return this.#buckets.size;
  }
}
