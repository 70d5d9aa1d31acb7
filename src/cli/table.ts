import Table from 'cli-table3';

/** Rows without separator lines between them: crema's tables are long and read as columns. */
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** A plain (uncoloured) table: the first `left` columns left-aligned, the rest right-aligned (numbers). */
export function columnsTable(head: string[], left: number): Table.Table {
  const colAligns = head.map((_, i) => (i < left ? 'left' : 'right') as 'left' | 'right');
  return new Table({ head, chars: COMPACT, style: { head: [], border: [] }, colAligns });
}
