/**
 * How many CPUs this process may use: the CPUs it may run on (affinity, cpuset) and, under a cgroup CPU limit (a
 * Kubernetes `resources.limits.cpu`), the quota. The standalone store's writer is chosen by it (ADR 0035): a worker
 * thread only pays for its hand-over where a CPU is left for it beside the event loop.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface UsableCpus {
  /** CPUs the process may use, fractional under a quota (a limit of 500m is 0.5). */
  cpus: number;
  /** What bounds it: the CPUs the process may run on, or the cgroup's quota. */
  boundBy: 'affinity' | 'cgroup quota';
}

export interface UsableCpusOptions {
  /** CPUs the process may run on (default: os.availableParallelism(), which follows affinity and cpusets). */
  parallelism?: number;
  /** Where the cgroup file systems are mounted (default /sys/fs/cgroup; tests point it elsewhere). */
  cgroupRoot?: string;
  /** The process's cgroup membership (default: /proc/self/cgroup). */
  procCgroup?: string;
}

export function usableCpus(o: UsableCpusOptions = {}): UsableCpus {
  const parallelism = o.parallelism ?? availableParallelism();
  const quota = cgroupQuota(o.cgroupRoot ?? '/sys/fs/cgroup', o.procCgroup ?? read('/proc/self/cgroup') ?? '');
  return quota !== undefined && quota < parallelism
    ? { cpus: quota, boundBy: 'cgroup quota' }
    : { cpus: parallelism, boundBy: 'affinity' };
}

/**
 * The CPU quota in CPUs (quota / period), or undefined when there is none. cgroup v2: `cpu.max` ("max 100000" = no
 * limit), in the process's own cgroup (a host without a cgroup namespace sees the whole tree) or at the root (a
 * container's namespaced view). cgroup v1: `cpu.cfs_quota_us` (-1 = no limit) and `cpu.cfs_period_us`.
 */
export function cgroupQuota(root: string, procCgroup: string): number | undefined {
  const lines = procCgroup.split('\n').filter(Boolean);
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  for (const dir of v2 !== undefined ? [...new Set([`${root}${v2 === '/' ? '' : v2}`, root])] : []) {
    const max = read(`${dir}/cpu.max`);
    if (max === undefined) continue;
    const [quota, period] = max.trim().split(/\s+/);
    return quota === 'max' ? undefined : perCpu(Number(quota), Number(period));
  }
  const v1 = lines.find((l) => /^\d+:[^:]*\bcpu\b[^:]*:/.test(l))?.replace(/^\d+:[^:]*:/, '');
  const sub = v1 === '/' ? '' : v1;
  for (const dir of v1 !== undefined ? [`${root}/cpu${sub}`, `${root}/cpu`, `${root}/cpu,cpuacct`] : []) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    if (quota === undefined) continue;
    return perCpu(Number(quota), Number(read(`${dir}/cpu.cfs_period_us`)));
  }
  return undefined;
}

function perCpu(quota: number, period: number): number | undefined {
  return quota > 0 && period > 0 ? quota / period : undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Fewest usable CPUs at which `ZEN_STORE_WRITER=auto` commits on the worker thread. Measured on 2 CPUs (ADR 0035):
 * the worker took the same events per second as the event loop and 9–15 % more CPU per event in total, since the
 * second CPU was not free (the load, V8's helper thread and the network stack use it); under the chart's default
 * limit of 1 CPU it only competes with the event loop. From 3 a CPU is left for it (ADR 0029: a fifth more room on
 * the event loop).
 */
export const STORE_WORKER_MIN_CPUS = 3;

/** The store writer for a ZEN_STORE_WRITER setting: `auto` by the usable CPUs, else as set. */
export function storeWriterFor(
  setting: 'auto' | 'worker' | 'inline',
  cpus: () => UsableCpus = usableCpus,
): { writer: 'worker' | 'inline'; why: string } {
  if (setting !== 'auto') return { writer: setting, why: `ZEN_STORE_WRITER=${setting}` };
  const u = cpus();
  const n = Number(u.cpus.toFixed(2));
  return u.cpus >= STORE_WORKER_MIN_CPUS
    ? { writer: 'worker', why: `ZEN_STORE_WRITER=auto: ${n} usable CPUs (${u.boundBy})` }
    : {
        writer: 'inline',
        why: `ZEN_STORE_WRITER=auto: ${n} usable CPUs (${u.boundBy}); a writer thread pays from ${STORE_WORKER_MIN_CPUS}`,
      };
}
