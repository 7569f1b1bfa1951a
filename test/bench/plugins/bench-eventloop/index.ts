/**
 * Benchmark probe, loaded with ZEN_PLUGIN_DIRS=test/bench/plugins: samples the host's event-loop delay with
 * perf_hooks.monitorEventLoopDelay (10 ms resolution) and exposes it as plugin gauges
 * (`zen_watcher_plugin_bench_eventloop_{p50,p99,max}_seconds`, `..._samples`), refreshed every second, over the
 * window since the last reset. A webhook Ingester with `plugin: bench-eventloop` controls the window: POST
 * `{"reset": true}` starts a new one, POST `{}` refreshes the gauges now, and `{"gc": true}` runs a full garbage
 * collection first when the process has --expose-gc (memory figures of live data, not of garbage not yet
 * collected), and `{"stats": true}` logs process.memoryUsage() and V8's heap-space sizes (diagnosis). It returns no
 * drafts, so nothing is written. Delay = the recorded interval minus the resolution
 * (monitorEventLoopDelay records timer intervals).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { definePlugin } from 'zen-watcher/plugin-api';

const RESOLUTION_MS = 10;

export default definePlugin({
  name: 'bench-eventloop',
  version: '1.0.0',
  register(api) {
    const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    eld.enable();
    const help = (q: string) => `Event-loop delay ${q} since the last reset (bench probe), seconds.`;
    const p50 = api.metrics.gauge('bench_eventloop_p50_seconds', help('p50'));
    const p99 = api.metrics.gauge('bench_eventloop_p99_seconds', help('p99'));
    const max = api.metrics.gauge('bench_eventloop_max_seconds', help('max'));
    const samples = api.metrics.gauge('bench_eventloop_samples', 'Event-loop delay samples since the last reset.');
    const seconds = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;
    const publish = () => {
      p50.set(seconds(eld.percentile(50)));
      p99.set(seconds(eld.percentile(99)));
      max.set(seconds(eld.max));
      samples.set(eld.count);
    };
    const timer = setInterval(publish, 1000);
    timer.unref();
    api.hooks.onStop.tapPromise(async () => {
      clearInterval(timer);
      eld.disable();
    });
    api.hooks.onWebhook.for('bench-eventloop').tapPromise(async (req) => {
      const body = req.body as { reset?: unknown; gc?: unknown } | undefined;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (body?.gc === true && gc) {
        gc();
        gc();
      }
      if (body?.reset === true) eld.reset();
      if ((body as { stats?: unknown })?.stats === true) {
        const v8 = await import('node:v8');
        api.log.info('bench memory stats', {
          memoryUsage: process.memoryUsage(),
          heap: v8.getHeapStatistics(),
          spaces: v8.getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size, x.space_used_size]),
        });
      }
      publish();
      return [];
    });
  },
});
