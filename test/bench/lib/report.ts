/**
 * Result rows and the printed table. Every row holds zen-watcher's figure, the baseline measured in the same run
 * on the same machine, their ratio, and the target (reported, never asserted: benchmarks are not tests).
 */

export interface Row {
  /** Section of the issue: 1 ingest, 2 writes, 3 audit, 4 informer, 5 failover, 6 memory / event loop. */
  section: number;
  name: string;
  unit: string;
  value: number;
  /** Extra figures printed with the value (e.g. p50/p99/p99.9). */
  detail?: string;
  baseline: number;
  baselineDetail?: string;
  /** What the baseline is. */
  baselineName: string;
  /** 'higher' (throughput) or 'lower' (latency, time, memory) is better; sets how the ratio reads. */
  better: 'higher' | 'lower';
  target?: { text: string; met: boolean; miss?: string };
  note?: string;
}

export interface Skipped {
  section: number;
  name: string;
  reason: string;
}

export class Report {
  readonly rows: Row[] = [];
  readonly skipped: Skipped[] = [];
  readonly notes: string[] = [];

  add(row: Row): void {
    this.rows.push(row);
    process.stderr.write(`  ${formatRow(row)}\n`);
  }

  skip(s: Skipped): void {
    this.skipped.push(s);
    process.stderr.write(`  SKIPPED ${s.name}: ${s.reason}\n`);
  }

  note(text: string): void {
    this.notes.push(text);
    process.stderr.write(`  note: ${text}\n`);
  }
}

export function fmt(n: number, unit = ''): string {
  if (!Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (Number.isInteger(n) && abs < 1000) return unit ? `${n} ${unit}` : String(n);
  const s =
    abs >= 1000
      ? Math.round(n).toLocaleString('en-US')
      : abs >= 100
        ? n.toFixed(0)
        : abs >= 10
          ? n.toFixed(1)
          : abs >= 1
            ? n.toFixed(2)
            : n.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

export function ratio(r: Row): number {
  return r.value / r.baseline;
}

function formatRow(r: Row): string {
  return `${r.name}: ${fmt(r.value, r.unit)}${r.detail ? ` (${r.detail})` : ''} vs ${r.baselineName} ${fmt(r.baseline, r.unit)} = ${fmt(ratio(r))}×${r.target ? ` — target ${r.target.text}: ${r.target.met ? 'met' : 'MISSED'}${r.target.miss ? ` (${r.target.miss})` : ''}` : ''}`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** A plain-text table (also valid Markdown) of every row, grouped by section. */
export function table(report: Report, markdown = false): string {
  const head = ['#', 'measurement', 'zen-watcher', 'baseline', 'ratio', 'target', 'status'];
  const body: string[][] = [];
  for (const r of [...report.rows].sort((a, b) => a.section - b.section)) {
    body.push([
      String(r.section),
      r.name,
      `${fmt(r.value, r.unit)}${r.detail ? ` (${r.detail})` : ''}`,
      `${fmt(r.baseline, r.unit)}${r.baselineDetail ? ` (${r.baselineDetail})` : ''} ${r.baselineName}`,
      `${fmt(ratio(r))}×`,
      r.target?.text ?? '-',
      r.target
        ? r.target.met
          ? `met${r.target.miss ? ` (${r.target.miss})` : ''}`
          : `MISSED${r.target.miss ? `: ${r.target.miss}` : ''}`
        : '-',
    ]);
  }
  for (const s of report.skipped) body.push([String(s.section), s.name, 'skipped', '-', '-', '-', s.reason]);
  if (markdown) {
    const esc = (c: string) => c.replace(/\|/g, '\\|');
    return [
      `| ${head.join(' | ')} |`,
      `|${head.map((_, i) => (i === 2 || i === 3 || i === 4 ? '---:' : '---')).join('|')}|`,
      ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
    ].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i === 4)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
