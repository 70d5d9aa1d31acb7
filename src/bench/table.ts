// The benchmarks print with the CLI's compact table style (src/cli/table.ts).
export { columnsTable as timingTable } from '../cli/table.js';
