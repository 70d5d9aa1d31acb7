/**
 * crema's tables (info, bench, verify): box-drawn columns, no separator lines between rows (crema's tables are long
 * and read as columns), a cell may span lines. Written here rather than with cli-table3: its width function
 * compiles a large emoji regex on every call, which took ~30 ms of `crema info`'s startup.
 */
export interface ColumnsTable {
  push(row: (string | number)[]): void;
  toString(): string;
}

/** A plain (uncoloured) table: the first `left` columns left-aligned, the rest right-aligned (numbers). */
export function columnsTable(head: string[], left: number): ColumnsTable {
  const rows: string[][] = [head];
  return {
    push: (row) => void rows.push(row.map(String)),
    toString: () => renderTable(rows, left),
  };
}

function renderTable(rows: string[][], left: number): string {
  const columns = rows[0].length;
  const cells = rows.map((row) => Array.from({ length: columns }, (_, i) => (row[i] ?? '').split('\n')));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...cells.map((row) => Math.max(...row[i].map(textWidth)))));
  const rule = (l: string, mid: string, r: string) => l + widths.map((w) => '─'.repeat(w + 2)).join(mid) + r;
  const lines = [rule('┌', '┬', '┐')];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let k = 0; k < height; k++)
      lines.push(`│ ${row.map((c, i) => pad(c[k] ?? '', widths[i], i < left)).join(' │ ')} │`);
  }
  lines.push(rule('└', '┴', '┘'));
  return lines.join('\n');
}

function pad(text: string, width: number, alignLeft: boolean): string {
  const fill = ' '.repeat(width - textWidth(text));
  return alignLeft ? text + fill : fill + text;
}

/** Columns a terminal gives the text: combining marks take none, East Asian wide and fullwidth characters two. */
function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += /\p{Mn}/u.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
  return width;
}

const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
