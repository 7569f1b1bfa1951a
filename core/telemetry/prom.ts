/**
 * prom-client's classes and its default process/runtime metrics, loaded from its own files instead of its index
 * (issue #18, idle RSS). The index also loads the Pushgateway (node:https, node:tls), the cluster aggregator
 * (node:cluster) and, for the process CPU counters' exemplars, all of `@opentelemetry/api` (51 modules): about
 * 13 MB of RSS in a process that uses none of them. Same classes, same files, same version: a metric made here is
 * a prom-client metric, and `/metrics` is byte for byte what `collectDefaultMetrics` produced.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = require('prom-client/lib/counter') as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = require('prom-client/lib/gauge') as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = require('prom-client/lib/histogram') as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;

type DefaultMetric = (
  registry: Prom.Registry,
  config: { prefix: string; eventLoopMonitoringPrecision: number },
) => void;

/**
 * `collectDefaultMetrics({ register, prefix })` without exemplars: the same metrics, registered in the same order
 * (prom-client 15's `lib/defaultMetrics.js`), with the process CPU counters of `lib/metrics/processCpuTotal.js`
 * written out here (it is the one that loads `@opentelemetry/api`, used only when exemplars are on).
 */
export function collectDefaultMetrics(registry: Prom.Registry, prefix: string): void {
  const config = { prefix, eventLoopMonitoringPrecision: 10 };
  processCpuTotal(registry, prefix);
  const names = [
    'processStartTime',
    'osMemoryHeap',
    'processOpenFileDescriptors',
    'processMaxFileDescriptors',
    'eventLoopLag',
    ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
    'processHandles',
    'processRequests',
    'heapSizeAndUsed',
    'heapSpacesSizeAndUsed',
    'version',
    'gc',
  ];
  for (const name of names) (require(`prom-client/lib/metrics/${name}`) as DefaultMetric)(registry, config);
}

function processCpuTotal(registry: Prom.Registry, prefix: string): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    labelNames: [],
    // One metric's collect sets all three, as prom-client does.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc({}, userMicros / 1e6);
      system.inc({}, systemMicros / 1e6);
      total.inc({}, (userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: 'Total system CPU time spent in seconds.',
    registers: [registry],
    labelNames: [],
  });
  const total = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
    labelNames: [],
  });
}
