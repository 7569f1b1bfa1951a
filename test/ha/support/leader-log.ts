/**
 * The HA recorder's log (test/ha/fixtures/ha-recorder): leader terms and leader-only writes of every process, and
 * the analysis the suites assert on: leader-work intervals that never overlap, and writes only inside their
 * writer's own term.
 *
 * A process killed with SIGKILL records nothing more: its open term ends at the kill. A SIGSTOPped process does
 * nothing while stopped, so its term's work ends at the SIGSTOP — provided that, once continued, it records the
 * end of the term before any leader-only write succeeds (checked separately: `writesAfterResume`).
 */
import { faultIn, overlapping, type ProcessFault, pairs, readJsonLines } from './holds.ts';

export type { ProcessFault } from './holds.ts';

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
  return readJsonLines<LogEvent>(file);
}

export const terms = (events: LogEvent[]) => events.filter((e): e is TermEvent => e.event !== 'write');
export const writes = (events: LogEvent[]) => events.filter((e): e is WriteEvent => e.event === 'write');

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
  for (const { start, end } of pairs(
    terms(events),
    (e) => e.identity,
    (e) => e.event === 'start',
    'last',
  )) {
    const { identity, t: from } = start;
    if (end) {
      // A recorded stop: the term's work ended at a SIGSTOP inside it, else at the stop.
      const f = faultIn(faults, identity, from, end.t);
      if (f?.kind === 'stop') out.push({ identity, from, to: f.at, recordedStop: end.t, endedBy: 'sigstop' });
      else out.push({ identity, from, to: end.t, recordedStop: end.t, endedBy: 'stop' });
    } else {
      // No stop recorded: ended by a SIGKILL, or still leading.
      const f = faultIn(faults, identity, from, now);
      if (f?.kind === 'kill') out.push({ identity, from, to: f.at, endedBy: 'kill' });
      else out.push({ identity, from, to: Number.POSITIVE_INFINITY, endedBy: 'open' });
    }
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Pairs of intervals of different identities that overlap (should be none). */
export function overlaps(list: Interval[]): [Interval, Interval][] {
  return overlapping(list);
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
