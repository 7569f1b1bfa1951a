/**
 * Failover baseline: the simplest correct Lease elector one would write with plain @kubernetes/client-node — the
 * client-go algorithm without its extras: every retry period (jittered as client-go's JitterUntil does, by up to
 * 1.2 × the period, when following; exact when leading) read the Lease; take
 * it when it is free or when its record has not changed for a lease duration on our clock; renew it when ours.
 * Graceful stop releases it (holder cleared), crash just stops. No watch on the Lease: a follower notices a release
 * on its next retry. Same timings as zen-watcher's defaults, same API server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';

export interface PlainElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseMs: number;
  retryMs: number;
  onLead: (at: number) => void;
}

export class PlainElector {
  readonly #o: PlainElectorOptions;
  #stopped = false;
  #leading = false;
  #observed: { key: string; at: number } = { key: '', at: 0 };
  #loop: Promise<void> | undefined;

  constructor(o: PlainElectorOptions) {
    this.#o = o;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.#tryAcquireOrRenew().catch(() => {});
        if (this.#stopped) break;
        await sleep(this.#leading ? this.#o.retryMs : this.#o.retryMs * (1 + Math.random() * 1.2));
      }
    })();
  }

  /** kill -9: stop renewing, leave the Lease as it is. */
  async crash(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** Graceful: stop and release the Lease (holder cleared, as client-go's ReleaseOnCancel does). */
  async release(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    if (!this.#leading) return;
    const { api, namespace, name } = this.#o;
    const lease = await api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== this.#o.identity) return;
    lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) };
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    this.#leading = false;
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { api, namespace, name, identity } = this.#o;
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
      await api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.#o.leaseMs / 1000,
            acquireTime: new V1MicroTime(now),
            renewTime: new V1MicroTime(now),
            leaseTransitions: 0,
          },
        },
      });
      this.#lead();
      return;
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity}|${String(spec.renewTime)}|${String(spec.acquireTime)}`;
    if (key !== this.#observed.key) this.#observed = { key, at: now };
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== identity && now < this.#observed.at + this.#o.leaseMs) return;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.#o.leaseMs / 1000,
      acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    };
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    this.#lead();
  }

  #lead() {
    if (this.#leading) return;
    this.#leading = true;
    this.#o.onLead(Date.now());
  }
}
