/**
 * Ingesters in kubernetes mode: every replica watches the Ingester objects, validates them (colliding webhook paths
 * go to the first by namespace/name) and runs the valid ones; the leader writes their status through the status
 * subresource, only when it changed.
 */
import type { PluginKube } from '../api/index.ts';
import { zwError } from '../api/index.ts';
import { type Rejected, resolveConflicts } from '../config/ingester-set.ts';
import type { IngesterConfig, IngesterValidator } from '../config/validate.ts';
import type { KubeApi, KubeObject } from '../kube/api.ts';
import type { Logger } from '../telemetry/logger.ts';
import { desiredStatus, type IngesterStatus, type Outcome, sameStatus } from './ingester-status.ts';
import type { IngesterFeed } from './runtime.ts';

export const INGESTER_GVR = Object.freeze({ group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' });

/** How long the first complete list of Ingesters may take before startup fails. */
const FIRST_LIST_TIMEOUT_MS = 30_000;
/** Bursts of events (a relist) become one recomputation after this quiet time. */
const RECOMPUTE_DEBOUNCE_MS = 50;

interface IngesterObject extends KubeObject {
  spec?: unknown;
  status?: IngesterStatus;
}

export interface IngesterWatch {
  /** Watches the Ingesters and feeds every change; resolves after the first complete set was applied. */
  start(feed: IngesterFeed): Promise<void>;
  /** Leader: write the status of each Ingester whose status differs (called at the start of a term, and on change). */
  syncStatus(): void;
}

export function createIngesterWatch(deps: {
  kube: PluginKube;
  api: KubeApi;
  log: Logger;
  canActAsLeader: () => boolean;
  signal: AbortSignal;
}): IngesterWatch {
  const { log } = deps;
  const objects = new Map<string, IngesterObject>();
  let outcomes = new Map<string, Outcome>();
  const statusWriter = createStatusWriter(deps);
  const syncStatus = () => statusWriter.sync(objects, outcomes);
  return {
    syncStatus,
    async start(feed) {
      let firstSync!: () => void;
      const synced = new Promise<void>((r) => (firstSync = r));
      let pending: NodeJS.Timeout | undefined;
      const recompute = async () => {
        outcomes = evaluate([...objects.values()], feed.validator);
        const valid = [...outcomes.values()].flatMap((o) => (o.kind === 'active' ? [o.ingester] : []));
        const rejected = [...outcomes.values()].flatMap((o) => (o.kind === 'rejected' ? [o.rejected] : []));
        await feed.apply(valid, rejected);
        syncStatus();
      };
      const schedule = () => {
        clearTimeout(pending);
        pending = setTimeout(
          () =>
            void recompute().catch((err) => log.error({ err: (err as Error).message }, 'applying Ingesters failed')),
          RECOMPUTE_DEBOUNCE_MS,
        );
      };
      const key = (o: IngesterObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      const put = (o: IngesterObject) => {
        objects.set(key(o), o);
        schedule();
      };
      void deps.kube
        .informer<IngesterObject>(
          {
            group: INGESTER_GVR.group,
            version: INGESTER_GVR.version,
            resource: INGESTER_GVR.plural,
            signal: deps.signal,
          },
          {
            add: put,
            update: put,
            delete: (o) => {
              objects.delete(key(o));
              schedule();
            },
            synced: (all) => {
              for (const o of all) objects.set(key(o), o);
              schedule();
              firstSync();
            },
          },
        )
        .catch((err) => log.error({ err: (err as Error).message }, 'Ingester watch stopped'));
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          synced,
          new Promise((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  zwError('ZW_ERR_STARTUP_TIMEOUT', {
                    what: 'Ingester list',
                    seconds: FIRST_LIST_TIMEOUT_MS / 1000,
                  }),
                ),
              FIRST_LIST_TIMEOUT_MS,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      clearTimeout(pending);
      await recompute();
    },
  };
}

/** Validate every Ingester object; webhook paths that collide go to the first by namespace/name. */
function evaluate(objects: IngesterObject[], validator: IngesterValidator): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const valid: IngesterConfig[] = [];
  for (const o of objects) {
    const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
    const generation = Number(o.metadata?.generation ?? 1);
    const res = validator.validate(
      {
        apiVersion: o.apiVersion,
        kind: o.kind,
        metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, generation, uid: o.metadata?.uid },
        spec: o.spec,
      },
      o.metadata?.namespace,
    );
    if (res.ok) valid.push(res.ingester);
    else {
      const source = (o.spec as { source?: unknown } | undefined)?.source;
      out.set(key, {
        kind: 'rejected',
        generation,
        rejected: {
          key,
          source: typeof source === 'string' ? source : 'unknown',
          reason: res.reason,
          errors: res.errors,
        },
      });
    }
  }
  const { active, rejected } = resolveConflicts(valid);
  for (const ing of active) out.set(ing.key, { kind: 'active', ingester: ing });
  for (const r of rejected as Rejected[]) {
    const ing = valid.find((v) => v.key === r.key)!;
    out.set(r.key, { kind: 'rejected', generation: ing.generation, rejected: r });
  }
  return out;
}

/** Writes Ingester status through the status subresource: leader only, only when it changed. */
function createStatusWriter(deps: { api: KubeApi; log: Logger; canActAsLeader: () => boolean }) {
  const written = new Map<string, string>();
  return {
    sync(objects: Map<string, IngesterObject>, outcomes: Map<string, Outcome>) {
      if (!deps.canActAsLeader()) return;
      for (const [key, outcome] of outcomes) {
        const obj = objects.get(key);
        if (!obj?.metadata?.name) continue;
        const want = desiredStatus(outcome, obj.status, new Date());
        if (sameStatus(obj.status, want)) continue;
        const fingerprint = `${obj.metadata.resourceVersion}:${JSON.stringify(want.conditions.map((c) => [c.type, c.status, c.reason, c.message]))}`;
        if (written.get(key) === fingerprint) continue;
        written.set(key, fingerprint);
        deps.api
          .patch({
            ...INGESTER_GVR,
            namespace: obj.metadata.namespace!,
            name: obj.metadata.name,
            subresource: 'status',
            type: 'merge',
            body: { status: want },
          })
          .then(() => deps.log.debug({ ingester: key, ready: want.conditions[0]?.status }, 'Ingester status written'))
          .catch((err: Error & { code?: number }) => {
            written.delete(key);
            if (err.code !== 404)
              deps.log.warn(
                { ingester: key, err: err.message },
                'writing Ingester status failed; retried on the next change',
              );
          });
      }
    },
  };
}
