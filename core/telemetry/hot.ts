/**
 * prom-client metrics for the per-request and per-alert path (issue #18). An update is a number added to a cell found
 * by its label values (a Map per label, no string built, no label object validated per call); the cells are handed
 * to prom-client when the metric is collected (a scrape of /metrics, or get()). What a scrape shows is exactly
 * what prom-client's own inc/observe/set would have made (names, labels, values, buckets): core/telemetry/hot.test.ts
 * compares the two on random updates.
 *
 * The label names of a cell are checked when the cell is made (the first update with those label values); like
 * prom-client, an unknown label name or a bad value throws.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { Counter, Gauge, Histogram } from './prom.ts';

const require = createRequire(import.meta.url);
const { validateLabel } = require('prom-client/lib/validation') as {
  validateLabel: (names: readonly string[], labels: Record<string, unknown>) => void;
};
const { hashObject } = require('prom-client/lib/util') as {
  hashObject: (labels: Record<string, unknown>, sortedNames?: readonly string[]) => string;
};

type Labels = Record<string, string | number>;

/** Cells by label values, one Map level per label name (in the metric's labelNames order). */
class Cells<C> {
  readonly #names: readonly string[];
  readonly #root = new Map<unknown, unknown>();
  readonly #all: C[] = [];
  readonly #make: (labels: Labels) => C;

  constructor(names: readonly string[], make: (labels: Labels) => C) {
    this.#names = names;
    this.#make = make;
  }

  get(labels: Labels): C {
    const names = this.#names;
    let map = this.#root;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const v = labels[names[i]!];
      let next = map.get(v) as Map<unknown, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        map.set(v, next);
      }
      map = next;
    }
    const v = last >= 0 ? labels[names[last]!] : undefined;
    let cell = map.get(v) as C | undefined;
    if (cell === undefined) {
      validateLabel(names, labels);
      cell = this.#make({ ...labels });
      map.set(v, cell);
      this.#all.push(cell);
    }
    return cell;
  }

  get all(): readonly C[] {
    return this.#all;
  }

  clear(): void {
    this.#root.clear();
    this.#all.length = 0;
  }
}

const isLabels = (v: unknown): v is Labels => typeof v === 'object' && v !== null;

function chain(own: () => void, user: (() => unknown) | undefined): () => unknown {
  if (!user) return own;
  return () => {
    own();
    return user();
  };
}

interface CounterEntry {
  labels: Labels;
  value: number;
}

/**
 * A Counter whose inc() adds to prom-client's own entry for those labels, found without building its hash (the entry
 * is made by prom-client's inc by 0, which also checks the labels).
 */
export class HotCounter<T extends string = string> extends Counter<T> {
  readonly #cells: Cells<CounterEntry>;

  constructor(config: Prom.CounterConfiguration<T>) {
    super(config);
    const names = (config.labelNames ?? []) as readonly string[];
    const self = this as unknown as {
      hashMap: Record<string, CounterEntry>;
      sortedLabelNames: string[];
      inc: unknown;
    };
    // Counter.prototype has no inc (prom-client assigns it per instance): its inc without exemplars.
    const promInc = (Counter.prototype as unknown as { incWithoutExemplar: (l: Labels, v: number) => void })
      .incWithoutExemplar;
    this.#cells = new Cells(names, (labels) => {
      promInc.call(this, labels, 0);
      return self.hashMap[hashObject(labels, self.sortedLabelNames)]!;
    });
    self.inc = (labels?: Labels | number, value?: number) => {
      let l: Labels;
      if (isLabels(labels)) l = labels;
      else {
        value = labels;
        l = {};
      }
      if (value === undefined || value === null) value = 1;
      // What prom-client refuses, refused by prom-client itself (the same error).
      else if (!Number.isFinite(value) || value < 0) return promInc.call(this, l, value);
      this.#cells.get(l).value += value;
    };
  }

  override reset(): void {
    if (#cells in this) this.#cells.clear(); // prom-client's constructor resets before the cells exist
    super.reset();
  }

  override remove(...args: unknown[]): void {
    this.#cells.clear();
    (super.remove as (...a: unknown[]) => void)(...args);
  }
}

/** A Gauge without labels whose set() keeps the number; prom-client gets the last one when collected. */
export class HotGauge<T extends string = string> extends Gauge<T> {
  #pending: number | undefined;
  readonly #plain: boolean;

  constructor(config: Prom.GaugeConfiguration<T>) {
    super(config);
    // Labelled gauges are prom-client's own (set() below passes them on); only labelless ones keep a pending value.
    this.#plain = (config.labelNames ?? []).length === 0;
    (this as unknown as { collect: () => unknown }).collect = chain(
      () => this.#flush(),
      config.collect as (() => unknown) | undefined,
    );
  }

  #flush(): void {
    if (this.#pending === undefined) return;
    const v = this.#pending;
    this.#pending = undefined;
    super.set(v);
  }

  override set(labels: unknown, value?: number): void {
    if (this.#plain && typeof labels === 'number' && value === undefined) {
      this.#pending = labels;
      return;
    }
    if (this.#plain && isLabels(labels) && Object.keys(labels).length === 0 && typeof value === 'number') {
      this.#pending = value;
      return;
    }
    this.#pending = undefined;
    (super.set as (l: unknown, v?: number) => void)(labels, value);
  }

  override inc(...args: unknown[]): void {
    this.#flush();
    (super.inc as (...a: unknown[]) => void)(...args);
  }

  override dec(...args: unknown[]): void {
    this.#flush();
    (super.dec as (...a: unknown[]) => void)(...args);
  }

  override reset(): void {
    if (#pending in this) this.#pending = undefined; // prom-client's constructor resets before the field exists
    super.reset();
  }
}

interface PromHistogramEntry {
  labels: Labels;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface HistogramCell {
  /** prom-client's entry for these labels: sum and count are added to it as its observe() does. */
  entry: PromHistogramEntry;
  /** Per bucket (upper bound), the observations that fell in it first since the last flush. */
  buckets: Float64Array;
  pending: boolean;
}

/**
 * A Histogram whose observe() adds sum and count to prom-client's own entry and counts the bucket in an array; the
 * bucket counts are added to the entry's (prom-client 15's fields) when collected.
 */
export class HotHistogram<T extends string = string> extends Histogram<T> {
  readonly #cells: Cells<HistogramCell>;
  readonly #bounds: readonly number[];
  readonly #exemplars: boolean;

  constructor(config: Prom.HistogramConfiguration<T>) {
    super(config);
    const self = this as unknown as {
      upperBounds: number[];
      collect: () => unknown;
      observe: unknown;
      hashMap: Record<string, PromHistogramEntry>;
      sortedLabelNames: string[];
      bucketValues: Record<string, number>;
    };
    const bounds = self.upperBounds;
    this.#bounds = bounds;
    const names = (config.labelNames ?? []) as readonly string[];
    this.#cells = new Cells(names, (labels) => {
      const hash = hashObject(labels, self.sortedLabelNames);
      let entry = self.hashMap[hash];
      if (!entry) {
        entry = { labels, bucketValues: { ...self.bucketValues }, sum: 0, count: 0 };
        self.hashMap[hash] = entry;
      }
      return { entry, buckets: new Float64Array(bounds.length), pending: false };
    });
    self.collect = chain(() => this.#flush(), config.collect as (() => unknown) | undefined);
    // With exemplars, prom-client's own observe (and startTimer) stay: they keep what this does not.
    this.#exemplars = config.enableExemplars === true;
    if (this.#exemplars) return;
    self.observe = (labels: Labels | number, value?: number) => {
      if (isLabels(labels)) this.#observe(labels, value as number);
      else this.#observe({}, labels);
    };
  }

  #observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) {
      // Refused by prom-client itself (the same error).
      (
        Histogram.prototype as unknown as { observeWithoutExemplar: (l: Labels, v: number) => void }
      ).observeWithoutExemplar.call(this, labels, value);
      return;
    }
    const cell = this.#cells.get(labels);
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        cell.buckets[i]!++;
        cell.pending = true;
        break;
      }
    }
    cell.entry.sum += value;
    cell.entry.count += 1;
  }

  override startTimer(
    labels?: Partial<Record<T, string | number>>,
  ): (end?: Partial<Record<T, string | number>>) => number {
    if (this.#exemplars) return super.startTimer(labels);
    const start = performance.now();
    return (end) => {
      const value = (performance.now() - start) / 1000;
      this.#observe((end ? { ...labels, ...end } : (labels ?? {})) as Labels, value);
      return value;
    };
  }

  #flush(): void {
    const bounds = this.#bounds;
    for (const c of this.#cells.all) {
      if (!c.pending) continue;
      c.pending = false;
      for (let i = 0; i < bounds.length; i++) {
        if (c.buckets[i]! > 0) c.entry.bucketValues[bounds[i]!]! += c.buckets[i]!;
        c.buckets[i] = 0;
      }
    }
  }

  override reset(): void {
    if (#cells in this) this.#cells.clear(); // prom-client's constructor resets before the cells exist
    super.reset();
  }

  override zero(labels: Partial<Record<T, string | number>>): void {
    this.#flush();
    this.#cells.clear();
    super.zero(labels);
  }

  override remove(...args: unknown[]): void {
    this.#flush();
    this.#cells.clear();
    (super.remove as (...a: unknown[]) => void)(...args);
  }
}
