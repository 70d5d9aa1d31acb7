import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { CremaError } from '../../util/errors.js';
import { benchNet, checkBenchCounts, onlyInputs } from '../../bench/bench-net.js';
import { kernelBound } from '../../bench/bound.js';
import type { Backend, BackendResult } from '../../bench/result.js';
import { startProgress } from '../progress.js';
import { loadNetFor, type NetArgs, netArgs, printNotes } from '../shared.js';
import { printJson } from '../json.js';
import { columnsTable } from '../table.js';

interface BenchArgs extends NetArgs {
  backend: Backend | 'both';
  threads: number;
  iterations: number;
  warmup?: number;
  batch?: number;
  lrn: 'native' | 'decomposed';
  json: boolean;
}

export const benchCommand = {
  builder: (y: Argv) =>
    netArgs(y)
      .option('backend', { choices: ['native', 'onnx', 'both'], default: 'native', describe: 'which engine to time (both: side by side, interleaved)' })
      .option('threads', { type: 'number', default: 0, describe: 'threads for the compute (0: one per core)' })
      .option('iterations', { type: 'number', default: 10, describe: 'timed forward passes per backend' })
      .option('warmup', { type: 'number', describe: 'untimed forward passes first (default: 2; 8 when the native engine runs on more than one thread, for its pool to settle which jobs run in parallel)' })
      .option('batch', { type: 'number', describe: 'images per forward (default: the net\'s own input batch)' })
      .option('lrn', { choices: ['native', 'decomposed'], default: 'native', describe: 'ONNX backend: LRN as ONNX\'s LRN op or as a subgraph' })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON array, one object per backend, instead of the table' })
      .example(example('$0 bench models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel --backend both --threads 1'), 'native vs ONNX Runtime on one thread')
      .example(example('$0 bench models/lenet/deploy.prototxt models/lenet/weights.caffemodel --batch 10 --json'), 'timings as JSON'),
  handler: async (args: BenchArgs) => {
    checkBenchCounts({ threads: args.threads, iterations: args.iterations, batch: args.batch ?? 1, warmup: args.warmup });
    const net = await loadNetFor(args, args.backend !== 'onnx');
    if (net.layers.length === 0) throw new CremaError(`${args.net}: the net has no layers: nothing to time`);
    if (onlyInputs(net)) throw new CremaError(`${args.net}: the net has only inputs (no layer besides Input): nothing to time`);
    printNotes(net, args);
    const backends: Backend[] = args.backend === 'both' ? ['native', 'onnx'] : [args.backend];
    const netBatch = net.shapes.get(net.inputs[0] ?? '')?.[0] ?? 1;
    const perImage = kernelBound(net.graph).ideal / Math.max(1, netBatch); // at the loaded shapes: the `bound` line
    const progress = startProgress('bench', args.iterations, { unit: 'rounds' });
    let results: BackendResult[];
    try {
      results = await benchNet(net, {
        backends,
        threads: args.threads,
        iterations: args.iterations,
        warmup: args.warmup,
        batch: args.batch ?? netBatch,
        lrn: args.lrn,
        onRound: () => progress.tick(),
      });
    } finally {
      progress.stop();
    }
    // A net whose layers size their tops (Faster R-CNN's proposals) is shaped by its last forward, not as loaded.
    const sized = net.layers.some((l) => l.impl.sizesTops);
    const ideal = sized ? kernelBound(net.graph).ideal : perImage * (args.batch ?? netBatch);
    if (args.json) printJson(results, 2); // an array, one object per backend: the shape tools read since the first release
    else console.log(formatBench(net.name || args.net, results, args.iterations, ideal));
  },
};

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');

/**
 * The core probe's line (src/bench/probe.ts): its median rate against its fastest in the same run, and what a
 * large gap means for the numbers above.
 */
function coreNote(core: BackendResult['core']): string {
  if (!core) return '';
  const share = core.median_gmacs / core.max_gmacs;
  const shared = share < 0.85 ? ': another thread shared this core for much of the run, which slows the native engine (up to 1.6x), not ONNX Runtime' : '';
  return `core: crema's GEMM kernel on cached data ran at ${core.median_gmacs.toFixed(1)} G multiply-adds/s (median of the rounds; fastest ${core.max_gmacs.toFixed(1)})${shared}`;
}

/**
 * The least time the native forward could take on this core (src/bench/bound.ts): the fewest multiply-adds
 * crema's algorithms need at the probe's fastest rate on every thread, and that against ONNX Runtime's median.
 */
function boundNote(results: readonly BackendResult[], idealMacs: number | undefined): string {
  const native = results.find((r) => r.core);
  if (!native?.core || !idealMacs) return '';
  const least = idealMacs / (native.core.max_gmacs * 1e6 * native.threads);
  const onnx = results.find((r) => r.backend === 'onnx');
  const vs = onnx ? `, ${(least / onnx.median_ms).toFixed(2)}x ONNX Runtime's median` : '';
  return `bound: the fewest multiply-adds crema's algorithms need for this forward (${idealMacs >= 1e8 ? `${(idealMacs / 1e9).toFixed(2)} G` : `${(idealMacs / 1e6).toFixed(2)} M`}; 1x1 as they are, Winograd's best cut elsewhere) take at least ${ms(least)} ms at that fastest rate on ${native.threads} thread${native.threads === 1 ? '' : 's'}${vs}`;
}

/**
 * With both backends, where ONNX Runtime ran the net clearly faster (1.25x or more: round nineteen's hosts, whose
 * 512-bit kernels are 4x crema's 128-bit WebAssembly on 1x1-heavy nets), where that engine is one flag away.
 */
export function backendNote(results: readonly BackendResult[]): string {
  const native = results.find((r) => r.backend === 'native'), onnx = results.find((r) => r.backend === 'onnx');
  if (!native || !onnx || !(native.median_ms >= 1.25 * onnx.median_ms)) return '';
  return `ONNX Runtime ran this net ${(native.median_ms / onnx.median_ms).toFixed(1)}x faster here: \`--backend onnx\` runs it there in crema run, classify and detect, and net.run(feeds, { backend: 'onnx' }) in the library`;
}

/**
 * `caffe time`'s report as a table: one row per layer (median ms per backend), then the whole forward's
 * median / min / max. A layer with no time on a backend shows '-': folded into the layer before it (native: a
 * whole forward computes an in-place ReLU inside its Convolution), or ONNX Runtime fused it into another node or
 * removed it (Dropout); rows `(ORT ...)` are nodes ONNX Runtime added.
 */
export function formatBench(name: string, results: readonly BackendResult[], iterations: number, idealMacs?: number): string {
  const head = ['layer', 'type', ...results.map((r) => `${r.backend} ms (${r.threads} thread${r.threads === 1 ? '' : 's'})`)];
  const table = columnsTable(head, 2);
  const rows = new Map<string, { type: string; times: (number | undefined)[] }>();
  results.forEach((r, i) =>
    r.layers.forEach((l) => {
      const row = rows.get(l.name) ?? { type: l.type, times: results.map(() => undefined) };
      row.times[i] = l.median_ms;
      rows.set(l.name, row);
    }),
  );
  for (const [layer, row] of rows) table.push([layer, row.type, ...row.times.map((t) => (t === undefined ? '-' : ms(t)))]);
  table.push(['forward, median', '', ...results.map((r) => ms(r.median_ms))]);
  table.push(['forward, min', '', ...results.map((r) => ms(r.min_ms))]);
  table.push(['forward, max', '', ...results.map((r) => ms(r.max_ms))]);
  const batch = results[0]?.batch ?? 1;
  const notes = [
    results.some((r) => r.backend === 'native') ? 'native: \'-\' = computed inside the layer before it (folded: BatchNorm, Scale, ReLU)' : '',
    results.some((r) => r.backend === 'onnx') ? 'onnx per-layer times are from ONNX Runtime\'s profiler (on during the runs); \'-\': fused into another node or removed' : '',
    coreNote(results.find((r) => r.core)?.core),
    boundNote(results, idealMacs),
    backendNote(results),
  ].filter(Boolean).map((n) => `\n${n}`).join('');
  return `${name}: batch ${batch}, ${iterations} timed forward passes per backend (interleaved); per-layer figures are medians\n${table.toString()}${notes}`;
}
