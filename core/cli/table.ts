import { printable } from './printable.ts';

/** Plain aligned columns, kubectl style. Cells are escaped (printable): a value cannot move the cursor or add rows. */
export function table(headers: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map((c) => printable(c ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...safe.map(line)].join('\n')}\n`;
}
