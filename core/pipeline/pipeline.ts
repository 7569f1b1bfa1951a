/**
 * The pipeline every draft goes through (DESIGN §1): validate → normalize → filter → dedup → rate limit → sink.
 * Each Ingester is compiled once per generation (filters, windows, TTLs, bucket). Every drop is counted by
 * reason in a metric and logged once (see telemetry/logger.ts createDropLogger).
 *
 * Backpressure, not loss: a webhook is admitted (admit()) only if the source's rate bucket has a token and the
 * write queue has room; otherwise the caller answers 429/503 with Retry-After and nothing is accepted. Work that
 * was admitted is never dropped for rate: it may leave the bucket in debt, which delays the next admission.
 * Informer drafts wait for tokens instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Observation, ObservationDraft } from '../api/index.ts';
import { ZwError } from '../api/index.ts';
import { parseDurationMs } from '../config/duration.ts';
import type { IngesterConfig } from '../config/validate.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { SinkWriteError } from '../sinks/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { DedupCache } from './dedup.ts';
import { compileFilter, type DraftFilter, type FilterSpec } from './filter.ts';
import { canonicalJson, getPath, observationName, sha256Hex } from './fingerprint.ts';
import { isoString, parseIso } from './iso-time.ts';
import { type NormalizedDraft, normalizeDraft } from './normalize.ts';
import { OccurrenceCoalescer, type OccurrenceDelta, type ReportedContent } from './occurrences.ts';
import { TokenBucket } from './token-bucket.ts';

export const FIRST_SEEN_ANNOTATION = 'zen.kube-zen.io/first-seen';
/**
 * sha256 (first 16 hex) of what the source reports about a finding that may change while its identity does not:
 * severity, category, eventType, title, message, details. A different hash for the same name is an update in place.
 */
export const CONTENT_HASH_ANNOTATION = 'zen.kube-zen.io/content-hash';

export interface PipelineOptions {
  sink: ObservationSink;
  metrics: Metrics;
  dropLog: (source: string, reason: string, detail?: object) => void;
  /** Webhook writes the sink refused (answered 503): logged once per (source, reason). Default: dropLog. */
  refuseLog?: (source: string, reason: string, detail?: object) => void;
  now?: () => number;
  maxDetailsBytes: number;
  defaultTtlSeconds: number;
  dedupMaxEntries: number;
  /** Max Observations admitted and not yet written, across sources. */
  maxQueue: number;
  /** Max per source (one noisy source cannot take the whole queue). Default: maxQueue. */
  maxQueuePerSource?: number;
  /** Default dedup window for webhook Ingesters without `deduplication.window`. */
  webhookWindowMs: number;
  /**
   * The namespaces this instance owns (WATCH_NAMESPACE); empty or absent = all. A finding about a resource in
   * another namespace is written to its Ingester's namespace instead: a sharded instance must not write where
   * another shard (or nobody) owns the Observations, and its RBAC usually does not reach there anyway.
   */
  ownNamespaces?: readonly string[];
  /**
   * Occurrence counts: repeats of a webhook finding are added to its Observation's status.count at most once per
   * this interval per Observation (ZEN_OCCURRENCE_FLUSH_SECONDS). 0 or absent = not counted.
   */
  occurrenceIntervalMs?: number;
  /**
   * onObservation enrichment (the host passes the hook; the pipeline does not know hooks). May return the draft
   * itself, not a promise, when nothing enriches it (no await, no microtask per draft).
   */
  enrich?: (draft: ObservationDraft, ingester: IngesterConfig) => ObservationDraft | Promise<ObservationDraft>;
}

export interface CompiledIngester {
  readonly config: IngesterConfig;
  readonly filter: DraftFilter;
  readonly dedupEnabled: boolean;
  readonly strategy: 'fingerprint' | 'key' | 'hybrid';
  readonly fields: readonly string[];
  readonly windowMs: number;
  readonly ttl: { defaultS: number; minS: number | undefined; maxS: number | undefined };
  readonly bucket: TokenBucket | undefined;
}

export interface ProcessResult {
  created: number;
  duplicates: number;
  filtered: number;
  dropped: number;
  names: string[];
  /** Observations that exist now because of this call: written, or found already there by the sink. */
  stored: { namespace: string; name: string }[];
  /**
   * Webhook mode: drafts whose write the sink refused (store full or failing, quota, admission denial, API server
   * unreachable). They are not stored, so the request must not be answered 2xx: 503 with `refusal`'s Retry-After.
   */
  refused: number;
  refusal?: { reason: string; message: string; retryAfterSeconds: number };
  /** Drafts with `resolved` (plugin API 1.2.0) whose Observation was found and resolved (or stays Active, reported later). */
  resolved: number;
}

/**
 * Webhook mode: the answer's side of a request. `acknowledged` turns true when the request was answered 2xx before
 * its writes finished (202, `ZEN_WEBHOOK_ACK_PENDING=accept`): a write refused after that is lost, not refused.
 */
export interface WebhookAck {
  acknowledged: boolean;
}

export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #now: () => number;
  readonly #dedup: DedupCache;
  #inflight = 0;
  readonly #inflightBySource = new Map<string, number>();
  /** Writes under way by dedup key: true when the Observation is safe (created, or already there). */
  readonly #pending = new Map<string, Promise<boolean>>();
  /** process() calls under way (enrichment included): a graceful shutdown waits for these too. */
  #active = 0;
  #evictionsSeen = 0;
  readonly #occurrences: OccurrenceCoalescer | undefined;
  /** Waiting for busy to reach 0 (graceful shutdown). */
  #idleWaiters: (() => void)[] = [];

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#dedup = new DedupCache(options.dedupMaxEntries);
    const sink = options.sink;
    const m = options.metrics;
    if (sink.addOccurrences && (options.occurrenceIntervalMs ?? 0) > 0) {
      this.#occurrences = new OccurrenceCoalescer({
        apply: (d, signal) => sink.addOccurrences!(d, signal),
        intervalMs: options.occurrenceIntervalMs!,
        maxKeys: options.dedupMaxEntries,
        events: {
          flushed: (outcome, repeats, err) => {
            m.occurrenceWrites.inc({ outcome });
            if (outcome === 'error') {
              options.dropLog('occurrences', 'occurrences_write_failed', {
                repeats,
                error: (err as Error | undefined)?.message,
              });
            }
          },
          lost: (reason, repeats) => {
            m.occurrencesLost.inc({ reason }, repeats);
            options.dropLog('occurrences', `occurrences_${reason}`, { repeats });
          },
          pending: (n) => m.occurrencePending.set(n),
        },
      });
    }
  }

  /** Writes the occurrence counts still pending (graceful shutdown); afterwards repeats are not counted. */
  async close(): Promise<void> {
    await this.#occurrences?.close();
  }

  /** Writes pending occurrence counts now (tests, CLI). */
  async flushOccurrences(): Promise<void> {
    await this.#occurrences?.flush();
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Work accepted and not finished: drafts being processed plus writes in flight. */
  get busy(): number {
    return this.#active + this.#inflight;
  }

  /** Resolves when no accepted work is left (busy = 0), or after `timeoutMs`; true when idle. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.busy === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(this.busy === 0);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  #maybeIdle(): void {
    if (this.busy !== 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  get dedupEntries(): number {
    return this.#dedup.size;
  }

  compile(config: IngesterConfig): CompiledIngester {
    const spec = config.spec;
    const d = spec.deduplication;
    const defaultWindow = spec.ingester === 'webhook' ? this.#o.webhookWindowMs : 0;
    const rl = spec.rateLimit;
    const toS = (s: string | undefined) => (s === undefined ? undefined : Math.round(parseDurationMs(s) / 1000));
    const rate = rl?.requestsPerSecond ?? 100;
    return Object.freeze({
      config,
      filter: compileFilter(spec.filters as FilterSpec | undefined),
      dedupEnabled: d?.enabled ?? true,
      strategy: d?.strategy ?? 'fingerprint',
      fields: d?.fields ?? [],
      windowMs: d?.window !== undefined ? parseDurationMs(d.window) : defaultWindow,
      ttl: {
        defaultS: toS(spec.ttl?.default) ?? this.#o.defaultTtlSeconds,
        minS: toS(spec.ttl?.min),
        maxS: toS(spec.ttl?.max),
      },
      bucket:
        rl && rl.enabled !== false
          ? new TokenBucket(rate, rl.burst ?? Math.max(1, Math.ceil(rate * 2)), this.#now())
          : undefined,
    });
  }

  /** Webhook admission: a ZwError (429/503 with Retry-After) when the request must be refused before any work. */
  admit(ci: CompiledIngester): ZwError | undefined {
    if (this.#inflight >= this.#o.maxQueue) {
      return new ZwError('ZW_ERR_QUEUE_FULL', 'the write queue is full; retry later', { retryAfterSeconds: 1 });
    }
    const source = ci.config.spec.source;
    if ((this.#inflightBySource.get(source) ?? 0) >= (this.#o.maxQueuePerSource ?? this.#o.maxQueue)) {
      return new ZwError('ZW_ERR_QUEUE_FULL', `the write queue of source '${source}' is full; retry later`, {
        retryAfterSeconds: 1,
      });
    }
    if (ci.bucket) {
      const wait = ci.bucket.waitMs(this.#now());
      if (wait > 0) {
        return new ZwError('ZW_ERR_RATE_LIMITED', `source '${ci.config.spec.source}' is over its rate limit`, {
          retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
        });
      }
    }
    return undefined;
  }

  /** Runs drafts through the pipeline. `mode: 'informer'` waits for rate tokens; 'webhook' was admitted already. */
  async process(
    ci: CompiledIngester,
    drafts: readonly ObservationDraft[],
    mode: 'webhook' | 'informer',
    signal?: AbortSignal,
    ack?: WebhookAck,
  ): Promise<ProcessResult> {
    this.#active++;
    try {
      return await this.#process(ci, drafts, mode, signal, ack);
    } finally {
      this.#active--;
      this.#maybeIdle();
    }
  }

  async #process(
    ci: CompiledIngester,
    drafts: readonly ObservationDraft[],
    mode: 'webhook' | 'informer',
    signal: AbortSignal | undefined,
    ack: WebhookAck | undefined,
  ): Promise<ProcessResult> {
    const result: ProcessResult = {
      created: 0,
      duplicates: 0,
      filtered: 0,
      dropped: 0,
      names: [],
      stored: [],
      refused: 0,
      resolved: 0,
    };
    const source = ci.config.spec.source;
    const m = this.#o.metrics;
    const writes: Promise<unknown>[] = [];
    for (const raw of drafts) {
      signal?.throwIfAborted();
      const enriched = this.#o.enrich ? this.#o.enrich(raw, ci.config) : raw;
      const draft = enriched instanceof Promise ? await enriched : enriched;
      const now = this.#now();
      const norm = normalizeDraft(draft, { maxDetailsBytes: this.#o.maxDetailsBytes, now });
      if (!norm.ok) {
        result.dropped++;
        m.dropped.inc({ source, reason: 'invalid_draft' });
        this.#o.dropLog(source, 'invalid_draft', {
          plugin: ci.config.handler.plugin,
          field: norm.field,
          why: norm.reason,
        });
        continue;
      }
      const reason = ci.filter(norm.draft);
      if (reason) {
        result.filtered++;
        m.filtered.inc({ source, reason });
        this.#o.dropLog(source, `filtered:${reason}`);
        continue;
      }
      const fp = this.#fingerprint(ci, norm.draft);
      const dedupKey = `${ci.config.namespace}/${source}/${fp}`;
      if (norm.draft.resolvedAt !== undefined) {
        const why =
          mode !== 'webhook'
            ? 'resolved drafts are for webhook sources (informer sources resolve through reconcile)'
            : !ci.dedupEnabled
              ? 'resolved needs deduplication (this Ingester disables it, so a finding has no one Observation)'
              : norm.draft.fingerprint === undefined && ci.strategy !== 'key'
                ? 'resolved needs a fingerprint (or deduplication.strategy: key) to find the Observation'
                : undefined;
        if (why) {
          result.dropped++;
          m.dropped.inc({ source, reason: 'invalid_draft' });
          this.#o.dropLog(source, 'invalid_draft', { plugin: ci.config.handler.plugin, field: 'resolved', why });
          continue;
        }
        writes.push(this.#resolve(ci, norm.draft, fp, dedupKey, now, result, ack));
        continue;
      }
      const at = windowTime(norm.draft, now);
      if (ci.dedupEnabled && this.#dedup.seen(dedupKey, at, ci.windowMs)) {
        // A resend while the first copy is still being written must not be acknowledged before that write is safe:
        // wait for it; if it failed for good, write this copy instead.
        const pending = this.#pending.get(dedupKey);
        if (!pending || (await pending)) {
          result.duplicates++;
          m.deduped.inc({ source, layer: 'memory' });
          if (mode === 'webhook') this.#repeat(this.#dedup.target(dedupKey), at, this.#reported(ci, norm.draft, at));
          continue;
        }
        this.#dedup.remember(dedupKey, at);
      }
      if (ci.bucket) {
        if (mode === 'informer') {
          const wait = ci.bucket.waitMs(now);
          if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {});
        }
        ci.bucket.forceTake(this.#now());
      }
      const { obs, previous } = this.#toObservation(ci, norm.draft, fp, now, at);
      result.names.push(obs.name);
      const write = this.#write(ci, obs, previous, dedupKey, result, mode === 'informer', at, norm.draft, ack);
      this.#pending.set(dedupKey, write);
      writes.push(write.finally(() => this.#pending.get(dedupKey) === write && this.#pending.delete(dedupKey)));
    }
    await Promise.all(writes);
    m.dedupEntries.set(this.#dedup.size);
    const evictions = this.#dedup.evictions;
    if (evictions > this.#evictionsSeen) {
      m.dedupEvictions.inc(evictions - this.#evictionsSeen);
      this.#evictionsSeen = evictions;
    }
    return result;
  }

  /**
   * Where a draft would be written, without writing it: its name, namespace and in-memory dedup key; undefined
   * when the draft is invalid or filtered out. Informer reconciliation compares this with what exists.
   */
  async preview(
    ci: CompiledIngester,
    raw: ObservationDraft,
  ): Promise<{ name: string; namespace: string; dedupKey: string; obs: Observation } | undefined> {
    const draft = this.#o.enrich ? await this.#o.enrich(raw, ci.config) : raw;
    const now = this.#now();
    const norm = normalizeDraft(draft, { maxDetailsBytes: this.#o.maxDetailsBytes, now });
    if (!norm.ok || ci.filter(norm.draft)) return undefined;
    const fp = this.#fingerprint(ci, norm.draft);
    const { obs } = this.#toObservation(ci, norm.draft, fp, now);
    return {
      name: obs.name,
      namespace: obs.namespace,
      dedupKey: `${ci.config.namespace}/${ci.config.spec.source}/${fp}`,
      obs,
    };
  }

  /** Forget a finding (its Observation no longer exists: GC'd or deleted), so the next sighting writes it again. */
  forget(dedupKey: string): void {
    this.#dedup.forget(dedupKey);
  }

  async #write(
    ci: CompiledIngester,
    obs: Observation,
    previous: { name: string; notBefore: number } | undefined,
    dedupKey: string,
    result: ProcessResult,
    leaderOnly: boolean,
    at: number,
    /** What the source reported (for a repeat found in the store), and the webhook call's answer state. */
    draft: NormalizedDraft,
    ack: WebhookAck | undefined,
  ): Promise<boolean> {
    const source = obs.spec.source;
    const m = this.#o.metrics;
    this.#inflight++;
    this.#inflightBySource.set(source, (this.#inflightBySource.get(source) ?? 0) + 1);
    m.queueDepth.set(this.#inflight);
    const end = m.writeDuration.startTimer({ sink: this.#o.sink.kind });
    let target: string | undefined;
    try {
      const outcome = await this.#o.sink.write(obs, previous, {
        leaderOnly,
        fallbackNamespace: ci.config.namespace,
        onStored: (s) => {
          target = `${s.namespace}/${s.name}`;
          this.#dedup.setTarget(dedupKey, target);
        },
        onRetry: (reason) => m.writeErrors.inc({ source, reason }),
      });
      result.stored.push({ namespace: obs.namespace, name: obs.name });
      if (outcome === 'created') {
        result.created++;
        m.created.inc({ source });
      } else {
        result.duplicates++;
        m.deduped.inc({ source, layer: 'store' });
        // A webhook finding that another replica (or this one, before a restart) already stored is a repeat.
        if (!leaderOnly) this.#repeat(target, at, this.#reported(ci, draft, at));
      }
      return true;
    } catch (err) {
      this.#dedup.forget(dedupKey);
      const reason = err instanceof SinkWriteError ? err.reason : 'write_failed';
      const detail = { name: obs.name, error: (err as Error).message, ingester: ci.config.key };
      if (!leaderOnly) {
        // Webhook: the sender is told (503 + Retry-After) and retries; nothing was acknowledged.
        this.#refuse(result, ack, source, reason, err, detail);
        return false;
      }
      // Informer: the sink retried what it could; this draft is lost, so count it and say why, once.
      result.dropped++;
      m.dropped.inc({ source, reason });
      this.#o.dropLog(source, reason, detail);
      return false;
    } finally {
      end();
      this.#inflight--;
      const left = (this.#inflightBySource.get(source) ?? 1) - 1;
      if (left > 0) this.#inflightBySource.set(source, left);
      else this.#inflightBySource.delete(source);
      m.queueDepth.set(this.#inflight);
      this.#maybeIdle();
    }
  }

  /**
   * What a webhook source reported about a finding, for an update in place of its Observation; undefined when the
   * content cannot differ for the same identity (the identity is the hash of that content).
   */
  #reported(ci: CompiledIngester, d: NormalizedDraft, at: number): ReportedContent | undefined {
    if (d.fingerprint === undefined && ci.strategy === 'fingerprint') return undefined;
    return {
      hash: contentHash(d),
      at,
      severity: d.severity,
      category: d.category,
      eventType: d.eventType,
      title: d.title,
      ...(d.message !== undefined ? { message: d.message } : {}),
      ...(d.details ? { details: d.details } : {}),
    };
  }

  /**
   * A webhook source says a finding is over (plugin API 1.2.0): resolve the Observation the finding was written to
   * (where this replica stored it, else its name for the event's window bucket, the previous bucket's, and the
   * Ingester's namespace as the fallback the sink may have used). Written before the request is answered, so an
   * acknowledged resolution is stored; a refused one is answered 503 like any refused write.
   */
  async #resolve(
    ci: CompiledIngester,
    d: NormalizedDraft,
    fp: string,
    dedupKey: string,
    now: number,
    result: ProcessResult,
    ack: WebhookAck | undefined,
  ): Promise<void> {
    const source = ci.config.spec.source;
    const m = this.#o.metrics;
    const sink = this.#o.sink;
    const at = d.resolvedAt!;
    const { obs, previous } = this.#toObservation(ci, d, fp, now);
    const candidates = [
      this.#dedup.target(dedupKey),
      `${obs.namespace}/${obs.name}`,
      previous ? `${obs.namespace}/${previous.name}` : undefined,
      obs.namespace !== ci.config.namespace ? `${ci.config.namespace}/${obs.name}` : undefined,
    ].filter((c, i, all): c is string => c !== undefined && all.indexOf(c) === i);
    if (!sink.addOccurrences) {
      result.dropped++;
      m.dropped.inc({ source, reason: 'resolve_unsupported' });
      this.#o.dropLog(source, 'resolve_unsupported', { sink: sink.kind });
      return;
    }
    this.#inflight++;
    try {
      for (const target of candidates) {
        const slash = target.indexOf('/');
        const delta: OccurrenceDelta = {
          namespace: target.slice(0, slash),
          name: target.slice(slash + 1),
          count: 0,
          firstSeen: at,
          lastSeen: at,
          resolvedAt: at,
        };
        if ((await sink.addOccurrences(delta)) === 'applied') {
          result.resolved++;
          m.resolved.inc({ transition: 'source_resolved' });
          return;
        }
      }
      // Never written (filtered then, sent to another instance, or the firing was never received) or gone (TTL).
      result.dropped++;
      m.dropped.inc({ source, reason: 'resolve_unmatched' });
      this.#o.dropLog(source, 'resolve_unmatched', { name: obs.name, namespace: obs.namespace });
    } catch (err) {
      const reason = err instanceof SinkWriteError ? err.reason : `http_${(err as { code?: number }).code ?? 'error'}`;
      this.#refuse(result, ack, source, reason, err, { name: obs.name, error: (err as Error).message });
    } finally {
      this.#inflight--;
      this.#maybeIdle();
    }
  }

  /** One more occurrence of a stored webhook finding (`namespace/name`), for its status.count. */
  /**
   * A write the sender must retry: counted, logged, and the first one becomes the answer's refusal (503 +
   * Retry-After, the sink's or 5 s).
   */
  #refuse(
    result: ProcessResult,
    ack: WebhookAck | undefined,
    source: string,
    reason: string,
    err: unknown,
    detail: Record<string, unknown>,
  ): void {
    if (ack?.acknowledged) {
      // Answered 202 before this write failed (ZEN_WEBHOOK_ACK_PENDING=accept): the sender will not resend, so the
      // event is lost. Counted once, as dropped (not also as refused: no 503 was sent).
      result.dropped++;
      this.#o.metrics.dropped.inc({ source, reason });
      this.#o.dropLog(source, reason, { ...detail, acknowledged: 202 });
      return;
    }
    result.refused++;
    result.refusal ??= {
      reason,
      message: (err as Error).message,
      retryAfterSeconds: (err instanceof SinkWriteError ? err.retryAfterSeconds : undefined) ?? 5,
    };
    this.#o.metrics.refused.inc({ source, reason });
    (this.#o.refuseLog ?? this.#o.dropLog)(source, reason, detail);
  }

  #repeat(target: string | undefined, at: number, content?: ReportedContent): void {
    if (!this.#occurrences) return;
    if (!target) {
      // Dedup knew the finding but not where it was stored (e.g. a sink that does not say): not countable.
      this.#o.metrics.occurrencesLost.inc({ reason: 'untracked' });
      this.#o.dropLog('occurrences', 'occurrences_untracked');
      return;
    }
    const slash = target.indexOf('/');
    this.#occurrences.note(target.slice(0, slash), target.slice(slash + 1), at, content);
  }

  #fingerprint(ci: CompiledIngester, d: NormalizedDraft): string {
    // When normalization cut something (d.sent, rare), the basis is what was sent: two events that differ only in the
    // part cut off are two findings. Nothing cut: the basis is the normalized content, as always (names unchanged).
    const sent = d.sent;
    const content = () =>
      d.fingerprint ??
      canonicalJson({
        severity: d.severity,
        category: d.category,
        eventType: d.eventType,
        title: sent?.title ?? d.title,
        message: sent?.message ?? d.message,
        resource: d.resource,
        details: sent?.details ?? d.details,
      });
    const keyed = () => {
      const from = sent ? { ...d, ...sent } : d;
      return canonicalJson(ci.fields.map((f) => getPath(from, f) ?? null));
    };
    const basis = ci.strategy === 'key' ? keyed() : ci.strategy === 'hybrid' ? `${content()}\n${keyed()}` : content();
    return sha256Hex(basis);
  }

  #toObservation(ci: CompiledIngester, d: NormalizedDraft, fp: string, now: number, at = windowTime(d, now)) {
    const spec = ci.config.spec;
    const source = spec.source;
    let name: string;
    let previous: { name: string; notBefore: number } | undefined;
    if (!ci.dedupEnabled) {
      name = observationName(source, `${fp}\n${crypto.randomUUID()}`);
    } else if (ci.windowMs > 0) {
      // The bucket comes from the event's own time, so every replica — and a retry that arrives in the next
      // bucket while the first write is still stuck — derives the same name for the same event.
      const bucket = Math.floor(at / ci.windowMs);
      name = observationName(source, fp, bucket);
      previous = { name: observationName(source, fp, bucket - 1), notBefore: at - ci.windowMs };
    } else {
      name = observationName(source, fp);
    }
    let ttl = d.ttlSeconds ?? ci.ttl.defaultS;
    if (ci.ttl.minS !== undefined) ttl = Math.max(ttl, ci.ttl.minS);
    if (ci.ttl.maxS !== undefined) ttl = Math.min(ttl, ci.ttl.maxS);
    const own = this.#o.ownNamespaces ?? [];
    const resourceNs = d.resource?.namespace;
    const ownedResourceNs = resourceNs && (own.length === 0 || own.includes(resourceNs)) ? resourceNs : undefined;
    const crd = spec.destinations?.find((d) => d.type === 'crd');
    const namespace = crd?.namespace ?? ownedResourceNs ?? ci.config.namespace;
    // Built field by field in the order the spreads gave (the stored document's key order is unchanged), without the
    // temporary objects of conditional spreads: every new finding goes through here (issue #18).
    const obsSpec = {
      source,
      category: d.category,
      severity: d.severity,
      eventType: d.eventType,
      title: d.title,
    } as Record<string, unknown>;
    if (d.message !== undefined) obsSpec.message = d.message;
    if (d.resource) obsSpec.resource = d.resource;
    if (d.details) obsSpec.details = d.details;
    obsSpec.fingerprint = fp;
    obsSpec.detectedAt = d.detectedAt;
    obsSpec.ttlSecondsAfterCreation = ttl;
    const obs: Observation = {
      name,
      namespace,
      labels: {
        ...d.labels,
        source,
        severity: d.severity,
        category: d.category,
        'app.kubernetes.io/managed-by': 'zen-watcher',
        'zen.kube-zen.io/ingester': ci.config.name,
        'zen.kube-zen.io/ingester-namespace': ci.config.namespace,
      },
      // When this replica first saw the finding: the sliding-window check reads it from the previous bucket's object.
      annotations: {
        ...d.annotations,
        [FIRST_SEEN_ANNOTATION]: isoString(now),
        [CONTENT_HASH_ANNOTATION]: contentHash(d),
      },
      spec: obsSpec as unknown as Observation['spec'],
    };
    return { obs, previous };
  }
}

export function contentHash(d: {
  severity: string;
  category: string;
  eventType: string;
  title: string;
  message?: string | undefined;
  details?: unknown;
}): string {
  // canonicalJson({severity, category, eventType, title, message: message ?? null, details: details ?? null}): one
  // JSON.stringify for plain details (helpers.ts), so the hash reads one flat string, not a concatenation it copies.
  return sha256Hex(
    canonicalJson({
      category: d.category,
      details: d.details ?? null,
      eventType: d.eventType,
      message: d.message ?? null,
      severity: d.severity,
      title: d.title,
    }),
  ).slice(0, 16);
}

/**
 * The time a dedup window is measured on: the event's `detectedAt` (normalize fills it with the receipt time when
 * the source gave none). Event time, not receipt time, so a retry of the same event lands in the same bucket.
 */
function windowTime(d: NormalizedDraft, receivedAt: number): number {
  const t = parseIso(d.detectedAt);
  return Number.isFinite(t) ? t : receivedAt;
}
