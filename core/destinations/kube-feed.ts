/**
 * Kubernetes mode: the Destination resources (watched on every replica, validated like Ingesters), their
 * credentials (the Secret in `spec.secretRef`, watched, read per send), the cluster-backed delivery state
 * (kube-state.ts) and the status the delivering replica writes: conditions Ready (InvalidConfig / PluginMissing
 * when False) and Delivering (SendFailing when False), backlog, delivered count, last delivery, last error.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ZwError } from '../api/index.ts';
import { createInformer, type InformerMetrics, type KubeApi, type KubeObject } from '../kube/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { DESTINATION_GVR, KubeDeliveryState } from './kube-state.ts';
import type { DestinationManager, RejectedDestination, SecretReader } from './manager.ts';
import type { DestinationConfig, DestinationValidator } from './validate.ts';

type CredentialSource = () => readonly string[];

export interface KubeDestinationDeps {
  kc: KubeConfig;
  api: KubeApi;
  namespaces: readonly string[];
  log: Logger;
  canAct: () => boolean;
  /** Watched Secrets (core/host/kube-credentials.ts). */
  secretCredentials: (namespace: string, name: string, key: string) => CredentialSource;
  /** Stops the Destination watch (the runtime's lifetime). */
  signal: AbortSignal;
  informerMetrics?: InformerMetrics;
  /** How often the delivering replica refreshes Destination status (ms). Default 10 000. */
  statusEveryMs?: number;
}

interface DestinationObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { generation?: number };
  status?: {
    sending?: string[];
    droppedBefore?: string;
    conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[];
  };
}

export function createKubeDestinations(deps: KubeDestinationDeps) {
  const log = deps.log.child({ component: 'destinations' });
  const state = new KubeDeliveryState({
    kc: deps.kc,
    api: deps.api,
    namespaces: deps.namespaces,
    log,
    canAct: deps.canAct,
    ...(deps.informerMetrics ? { informerMetrics: deps.informerMetrics } : {}),
  });
  const objects = new Map<string, DestinationObject>();
  let manager: DestinationManager | undefined;
  let validator: DestinationValidator | undefined;
  let lastStatus = new Map<string, string>();

  const secrets: SecretReader = async (dest, key) => {
    const ref = dest.spec.secretRef;
    if (!ref) return undefined;
    const source = deps.secretCredentials(dest.namespace, ref.name, key);
    for (let i = 0; ; i++) {
      try {
        return source().join('\n');
      } catch (err) {
        const m = (err as Error).message;
        if (/has no key/.test(m)) return undefined;
        if (/not loaded yet/.test(m) && i < 50) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new ZwError('ZW_ERR_DESTINATION', `Destination ${dest.key}: ${m}`);
      }
    }
  };

  const apply = async () => {
    if (!manager || !validator) return;
    const valid: DestinationConfig[] = [];
    const rejected: RejectedDestination[] = [];
    for (const [key, o] of objects) {
      const r = validator.validate(o, o.metadata?.namespace);
      if (r.ok) valid.push(r.destination);
      else rejected.push({ key, reason: r.reason, errors: r.errors });
      const created = Date.parse(o.metadata?.creationTimestamp ?? '');
      const dropped = Date.parse(o.status?.droppedBefore ?? '');
      state.setMeta(key, {
        createdAt: Number.isFinite(created) ? created : 0,
        droppedBefore: Number.isFinite(dropped) ? dropped : 0,
        sending: new Set(o.status?.sending ?? []),
      });
    }
    await manager.setDestinations(valid, rejected);
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => void apply().catch((err) => log.error({ err: (err as Error).message }, 'applying Destinations failed')),
      50,
    );
  };

  /** The status a Destination should show now; written only when it changed (and only by the leader). */
  const writeStatus = async () => {
    if (!manager || !deps.canAct()) return;
    const health = manager.health();
    const now = new Date().toISOString();
    const rejected = new Map(manager.rejected.map((r) => [r.key, r]));
    const next = new Map<string, string>();
    for (const [key, o] of objects) {
      const gen = o.metadata?.generation ?? 1;
      const prev = o.status?.conditions ?? [];
      const cond = (type: string, on: boolean, reason: string, message: string) => {
        const before = prev.find((c) => c.type === type);
        const status = on ? 'True' : 'False';
        return {
          type,
          status,
          reason,
          message: message.slice(0, 1000),
          lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
          observedGeneration: gen,
        };
      };
      const r = rejected.get(key);
      const h = health.get(key);
      const used = manager.routes(key).length;
      const conditions = r
        ? [cond('Ready', false, r.reason, r.errors.map((e) => `${e.path}: ${e.message}`).join('; '))]
        : [
            cond('Ready', true, 'Valid', used ? `used by ${used} Ingester route(s)` : 'valid; no Ingester uses it yet'),
            cond(
              'Delivering',
              h ? h.ok : true,
              h && !h.ok ? 'SendFailing' : 'Delivering',
              h && !h.ok ? (h.lastError ?? 'the last send failed') : 'the last send succeeded (or none was due)',
            ),
          ];
      const status = {
        observedGeneration: gen,
        conditions,
        backlog: h?.backlog ?? 0,
        delivered: h?.delivered ?? 0,
        ...(h?.lastDelivery ? { lastDeliveryTime: new Date(h.lastDelivery).toISOString() } : {}),
        lastError: h && !h.ok ? (h.lastError ?? '').slice(0, 1000) : '',
      };
      const { conditions: cs, ...rest } = status;
      const fingerprint = JSON.stringify({ ...rest, c: cs.map(({ lastTransitionTime: _t, ...c }) => c) });
      next.set(key, fingerprint);
      if (lastStatus.get(key) === fingerprint) continue;
      const [namespace, name] = key.split('/') as [string, string];
      try {
        await deps.api.patch({ ...DESTINATION_GVR, namespace, name, subresource: 'status', body: { status } });
      } catch (err) {
        next.delete(key);
        log.debug({ destination: key, err: (err as Error).message }, 'Destination status write failed');
      }
    }
    lastStatus = next;
  };

  return {
    state,
    secrets,
    /** Watch the Destinations; resolves after the first complete list (or 10 s, e.g. without the CRD). */
    async watch(v: DestinationValidator, m: DestinationManager): Promise<void> {
      validator = v;
      manager = m;
      const key = (o: DestinationObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      const scopes = deps.namespaces.length ? deps.namespaces.map((n) => n as string | undefined) : [undefined];
      let pendingLists = scopes.length;
      let listed!: () => void;
      const first = new Promise<void>((r) => (listed = r));
      for (const namespace of scopes) {
        void createInformer<DestinationObject>(
          deps.kc,
          {
            group: DESTINATION_GVR.group,
            version: DESTINATION_GVR.version,
            resource: DESTINATION_GVR.plural,
            ...(namespace ? { namespace } : {}),
            signal: deps.signal,
          },
          {
            add: (o) => {
              objects.set(key(o), o);
              schedule();
            },
            update: (o) => {
              objects.set(key(o), o);
              schedule();
            },
            delete: (o) => {
              objects.delete(key(o));
              schedule();
            },
            synced: (all) => {
              for (const o of all) objects.set(key(o), o);
              schedule();
              if (--pendingLists === 0) listed();
            },
          },
          {
            log: log.child({ component: 'destination-watch' }),
            ...(deps.informerMetrics ? { metrics: deps.informerMetrics } : {}),
          },
        ).catch((err) => log.error({ err: (err as Error).message }, 'Destination watch stopped'));
      }
      const ok = await Promise.race([first.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!ok)
        log.warn(
          'Destinations not listed within 10 s (is the Destination CRD installed? config/crd/bases); delivery starts when they are',
        );
      clearTimeout(timer);
      await apply();
      const statusLoop = setInterval(() => void writeStatus().catch(() => {}), deps.statusEveryMs ?? 10_000);
      statusLoop.unref();
      deps.signal.addEventListener('abort', () => clearInterval(statusLoop), { once: true });
    },
    /** Write the current status now (tests, shutdown). */
    writeStatus,
    async close() {
      clearTimeout(timer);
      await writeStatus().catch(() => {});
    },
  };
}
