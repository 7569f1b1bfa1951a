/**
 * What leader-log.ts (leader terms) and shard-trace.ts (slot holds) share: reading a JSON Lines log, pairing each
 * start with the next end of the same key, the faults the test sent (SIGKILL / SIGSTOP) that close a hold early,
 * and the overlap check between holds of different identities. How a fault closes a hold stays with each module.
 */
import { readFileSync } from 'node:fs';

/** What the test did to a process, for closing its intervals. */
export interface ProcessFault {
  identity: string;
  kind: 'kill' | 'stop';
  /** SIGKILL / SIGSTOP sent (just before). */
  at: number;
  /** SIGCONT sent (stop only). */
  resumedAt?: number;
}

/** One JSON value per non-empty line; a missing file is an empty log (the process never wrote one). */
export function readJsonLines<T>(file: string): T[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** The first fault sent to `identity` within [from, to]. */
export function faultIn(faults: ProcessFault[], identity: string, from: number, to: number): ProcessFault | undefined {
  return faults.find((f) => f.identity === identity && f.at >= from && f.at <= to);
}

/**
 * Start/end pairs per key, in time order: first the closed ones (in the order of their ends), then the ones still
 * open (`end` undefined). An end without an open start is ignored. A second start while one is open either keeps
 * the first (`'first'`) or replaces it (`'last'`).
 */
export function pairs<E extends { t: number }>(
  events: readonly E[],
  key: (e: E) => string,
  isStart: (e: E) => boolean,
  repeatedStart: 'first' | 'last',
): { start: E; end?: E }[] {
  const out: { start: E; end?: E }[] = [];
  const open = new Map<string, E>();
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    const k = key(e);
    if (isStart(e)) {
      if (repeatedStart === 'last' || !open.has(k)) open.set(k, e);
      continue;
    }
    const start = open.get(k);
    if (!start) continue;
    open.delete(k);
    out.push({ start, end: e });
  }
  for (const start of open.values()) out.push({ start });
  return out;
}

/** Pairs of holds of different identities that overlap in time. */
export function overlapping<H extends { identity: string; from: number; to: number }>(list: readonly H[]): [H, H][] {
  const bad: [H, H][] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!;
      const b = list[j]!;
      if (a.identity !== b.identity && a.from < b.to && b.from < a.to) bad.push([a, b]);
    }
  }
  return bad;
}
