import os from 'node:os';
import { kernelsInUse, setThreads } from '../kernels/wasm.js';
import type { LrnMode } from '../onnx/context.js';
import type { Net } from '../runtime/net.js';
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { NativeLayerTimer } from './native.js';
import { OnnxLayerTimer } from './onnx.js';
import type { Backend, BackendResult } from './result.js';
import { checkCount, checkThreads } from './counts.js';
import { type Contender, interleave, summarize } from './stats.js';
import { nameRecord } from '../util/names.js';
import { CORE_PROBE, coreProbe, coreSpeed } from './probe.js';

export interface BenchNetOptions {
  backends: readonly Backend[];
  /** Threads for the compute; 0 = one per core. */
  threads: number;
  iterations: number;
  /** Images per forward: the inputs' first axis. */
  batch: number;
  warmup?: number;
  /** Per-node times from ONNX Runtime's profiler (on during the timed runs). Default true. */
  onnxLayers?: boolean;
  /** ONNX backend: ACROSS_CHANNELS LRN as ONNX's LRN op (default) or decomposed into a subgraph. */
  lrn?: LrnMode;
  onRound?: () => void;
}

/**
 * Untimed forwards before the timed ones: 2, or 8 when the native engine runs on more than one thread. There the
 * pool's judge (src/kernels/pool.ts) first times each job both ways and keeps what its first runs said until it
 * explores again: res10 SSD at 2 threads, 8 timed forwards, medians 29.6-39.0 ms after 2 warm-ups, 28.5-30.7 after
 * 8, 27.0-27.9 after 12 (23-26 ms over 30 forwards).
 */
export function defaultWarmup(nativeThreads: number): number {
  return nativeThreads > 1 ? 8 : 2;
}

/** Refuses counts that would make no sense or hang (negative, fractional, absurd). */
export function checkBenchCounts(o: { threads: number; iterations: number; batch: number; warmup?: number }): void {
  checkThreads(o.threads);
  checkCount('iterations', o.iterations, 1, 100_000);
  checkCount('batch', o.batch, 1, 4096);
  checkCount('warmup', o.warmup ?? 0, 0, 10_000);
}

/** Threads a backend will use when asked for `threads` (0 = one per core). */
export function resolveThreads(threads: number): number {
  return threads > 0 ? threads : os.availableParallelism();
}

/**
 * Sets the native engine's threads for `nets` (and starts the WebAssembly kernels' workers); returns how many
 * it will use: `threads` (0 = one per core) up to one per core, or 1 with the plain TypeScript kernels (not
 * built, CREMA_KERNELS=js).
 */
export async function setNativeThreads(threads: number, nets: readonly Net[] = []): Promise<number> {
  const used = kernelsInUse() === 'wasm' ? await setThreads(resolveThreads(threads)) : 1;
  for (const net of nets) net.threads = used;
  return used;
}

/** Whether every layer of the net is an Input layer (the `input:` fields load as one too). */
export function onlyInputs(net: Net): boolean {
  return net.layers.every((l) => l.type === 'Input');
}

/**
 * Times a loaded net on each backend, side by side: every round runs each backend once (interleaved, so load
 * from elsewhere hits them alike). Inputs are fixed pseudo-random values in [-1, 1) with the net's input
 * shapes, batch `batch`.
 */
export async function benchNet(net: Net, options: BenchNetOptions): Promise<BackendResult[]> {
  checkBenchCounts(options);
  // An empty prototxt loads (Caffe's too); there is nothing to time (the native timer started at layer 0).
  if (net.layers.length === 0) throw new CremaError('the net has no layers: nothing to time');
  // A net of Input layers alone timed an empty forward (and ONNX Runtime refuses a model without nodes).
  if (onlyInputs(net)) throw new CremaError('the net has only inputs (no layer besides Input): nothing to time');
  net.checkWeights(); // before ONNX Runtime sees empty initializers (a stack trace) or the native warm-up
  const inputs = benchInputs(net, options.batch);
  const threads = resolveThreads(options.threads);
  const nativeThreads = options.backends.includes('native') ? await setNativeThreads(threads, [net]) : 1;
  const native = options.backends.includes('native') ? new NativeLayerTimer(net, inputs) : undefined;
  if (!native) net.reshape(Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, t.dims])));
  const onnx = options.backends.includes('onnx')
    ? await OnnxLayerTimer.create(net.graph, inputs, { threads, lrn: options.lrn, profile: options.onnxLayers ?? true })
    : undefined;
  const contenders: Contender[] = [];
  if (native) contenders.push({ name: 'native', run: () => native.run() });
  if (onnx) contenders.push({ name: 'onnx', run: () => onnx.run() });
  const probe = native ? coreProbe() : undefined;
  if (probe) contenders.push(probe);
  try {
    await interleave(contenders, { iterations: 0, warmup: options.warmup ?? defaultWarmup(nativeThreads) });
    native?.reset();
    onnx?.reset();
    const timed = await interleave(contenders, { iterations: options.iterations, warmup: 0, onRound: options.onRound });
    const results: BackendResult[] = [];
    if (native)
      results.push({ backend: 'native', threads: nativeThreads, batch: options.batch, ...summarize(timed.get('native')!), layers: native.layerTimes(), ...withCore(timed.get(CORE_PROBE)) });
    if (onnx) {
      const layers = await onnx.finish();
      results.push({ backend: 'onnx', threads, batch: options.batch, ...summarize(timed.get('onnx')!), layers });
    }
    return results;
  } catch (err) {
    await onnx?.finish().catch(() => undefined);
    throw err;
  }
}

/** The `core` field of the native result: the probe's rates, none without the probe. */
function withCore(times: number[] | undefined): Pick<BackendResult, 'core'> {
  const core = coreSpeed(times);
  return core ? { core } : {};
}

/** One tensor per net input, batch `batch`, filled with a fixed hash sequence in [-1, 1). */
export function benchInputs(net: Net, batch: number): Record<string, Tensor> {
  const out = nameRecord<Tensor>();
  for (const name of net.inputs) {
    const shape = net.shapes.get(name)!;
    if (shape.length === 0) throw new CremaError(`input '${name}' is a scalar: it has no batch axis to set`);
    const dims: Shape = [batch, ...shape.slice(1)];
    const count = sizeOf(dims);
    if (count > 1 << 28) throw new CremaError(`input '${name}' at batch ${batch} would be ${shapeString(dims)}: too large to benchmark`);
    out[name] = new Tensor(dims, hashFill(count, name.length * 7919 + 17));
  }
  return out;
}

function hashFill(count: number, seed: number): Float32Array {
  const data = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return data;
}
