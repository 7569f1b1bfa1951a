/**
 * The machine a run happened on, and how busy it was with other work while we measured: this machine is shared,
 * so every part reports the CPU that processes outside the benchmark's own tree used during it.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  ramGiB: number;
  node: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    ramGiB: totalmem() / 1024 ** 3,
    node: process.version,
    kernel: release(),
  };
}

const HZ = 100;

/** Busy CPU seconds of the whole machine since boot (all cores; /proc/stat, without idle and iowait). */
function machineBusy(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!;
  return busy / HZ;
}

function statCpu(pid: number | 'self', withChildren: boolean): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    return (withChildren ? own + Number(f[13]) + Number(f[14]) : own) / HZ;
  } catch {
    return 0;
  }
}

/** Live direct children of this process (zen-watcher, the baseline servers, the control plane). */
function children(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds used by this process and its children, live and exited (reaped children are in cutime/cstime). */
function ourCpu(): number {
  return statCpu('self', true) + children().reduce((n, pid) => n + statCpu(pid, false), 0);
}

export interface Noise {
  /** Machine CPU used by everything outside the benchmark's process tree, as % of all cores. */
  otherPct: number;
  load1: number;
}

/** Starts watching; call the result to get the background CPU since then. */
export function watchNoise(): () => Noise {
  const t0 = performance.now();
  const busy0 = machineBusy();
  const ours0 = ourCpu();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const other = Math.max(0, machineBusy() - busy0 - (ourCpu() - ours0));
    return { otherPct: (100 * other) / (secs * cpus().length), load1: loadavg()[0]! };
  };
}

/**
 * How fast this machine runs a fixed piece of JavaScript right now: nanoseconds per iteration of a small integer
 * loop, the median of five runs of ~25 ms. This VM's host is shared and its speed moved by up to 2.5× within
 * minutes (docs/BENCHMARKS.md, sixth round of issue #18) with no trace in /proc/stat (no steal time, background
 * CPU 0 %): the same build measured 127 and 208 µs of CPU per alert five minutes apart. A part's figures compare
 * with another run's only when this probe read about the same around both.
 */
export function hostSpeedNs(): number {
  const iterations = 2e7;
  const runs: number[] = [];
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink += i & 7;
    runs.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  if (sink < 0) runs.push(0); // the loop's result is used, so it cannot be optimized away
  return runs.sort((a, b) => a - b)[2]!;
}
