/**
 * The HA recorder's log (test/ha/fixtures/ha-recorder): leader terms and leader-only writes of every process, and
 * the analysis the suites assert on: leader-work intervals that never overlap, and writes only inside their
 * writer's own term.
 *
 * A process killed with SIGKILL records nothing more: its open term ends at the kill. A SIGSTOPped process does
 * nothing while stopped, so its term's work ends at the SIGSTOP — provided that, once continued, it records the
 * end of the term before any leader-only write succeeds (checked separately: `writesAfterResume`).
 */
import { readFileSync } from 'node:fs';

export interface TermEvent {
  event: 'start' | 'stop';
  identity: string;
  t: number;
}
export interface WriteEvent {
  event: 'write';
  identity: string;
  seq: number;
  t0: number;
  t1: number;
  created: number;
  dropped: number;
  error?: string;
}
export type LogEvent = TermEvent | WriteEvent;

export function readLog(file: string): LogEvent[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEvent);
}

export const terms = (events: LogEvent[]) => events.filter((e): e is TermEvent => e.event !== 'write');
export const writes = (events: LogEvent[]) => events.filter((e): e is WriteEvent => e.event === 'write');

/** What the test did to a process, for closing its intervals. */
export interface ProcessFault {
  identity: string;
  kind: 'kill' | 'stop';
  /** SIGKILL / SIGSTOP sent (just before). */
  at: number;
  /** SIGCONT sent (stop only). */
  resumedAt?: number;
}

export interface Interval {
  identity: string;
  /** Recorded start. */
  from: number;
  /** When leader work really ended: recorded stop, or the SIGKILL / SIGSTOP time. */
  to: number;
  /** Recorded stop (undefined: killed, or still leading). */
  recordedStop?: number;
  endedBy: 'stop' | 'kill' | 'sigstop' | 'open';
}

export function intervals(events: LogEvent[], faults: ProcessFault[], now = Date.now()): Interval[] {
  const out: Interval[] = [];
  const open = new Map<string, number>();
  const sorted = terms(events).sort((a, b) => a.t - b.t);
  const faultIn = (id: string, from: number, to: number) =>
    faults.find((f) => f.identity === id && f.at >= from && f.at <= to);
  for (const e of sorted) {
    if (e.event === 'start') {
      open.set(e.identity, e.t);
      continue;
    }
    const from = open.get(e.identity);
    if (from === undefined) continue;
    open.delete(e.identity);
    const f = faultIn(e.identity, from, e.t);
    if (f?.kind === 'stop') out.push({ identity: e.identity, from, to: f.at, recordedStop: e.t, endedBy: 'sigstop' });
    else out.push({ identity: e.identity, from, to: e.t, recordedStop: e.t, endedBy: 'stop' });
  }
  for (const [identity, from] of open) {
    const f = faultIn(identity, from, now);
    if (f?.kind === 'kill') out.push({ identity, from, to: f.at, endedBy: 'kill' });
    else out.push({ identity, from, to: Number.POSITIVE_INFINITY, endedBy: 'open' });
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Pairs of intervals of different identities that overlap (should be none). */
export function overlaps(list: Interval[]): [Interval, Interval][] {
  const bad: [Interval, Interval][] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!;
      const b = list[j]!;
      if (b.from >= a.to) continue;
      if (a.identity !== b.identity && b.from < a.to && a.from < b.to) bad.push([a, b]);
    }
  }
  return bad;
}

/** Successful leader-only writes whose start lies outside every interval of their writer (should be none). */
export function writesOutsideTerms(events: LogEvent[], list: Interval[]): WriteEvent[] {
  return writes(events).filter(
    (w) => w.created > 0 && !list.some((i) => i.identity === w.identity && w.t0 >= i.from && w.t0 <= i.to),
  );
}

/** For a SIGSTOP fault: the writes its process started after SIGCONT, before it recorded the end of its term. */
export function writesAfterResume(events: LogEvent[], f: ProcessFault): WriteEvent[] {
  const stop = terms(events).find((e) => e.identity === f.identity && e.event === 'stop' && e.t >= f.at);
  return writes(events).filter(
    (w) => w.identity === f.identity && w.t0 >= (f.resumedAt ?? f.at) && (stop === undefined || w.t0 <= stop.t),
  );
}
