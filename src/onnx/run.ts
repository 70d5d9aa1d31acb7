import type * as ort from 'onnxruntime-node';
import { type Graph, shapeAway } from '../graph/graph.js';
import type { Net } from '../runtime/net.js';
import { Tensor, sameShape, shapeString } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { nameRecord } from '../util/names.js';
import { checkInputNames } from '../util/options.js';
import { type ModelObj, encodeModel } from './proto.js';
import { externalModel } from './external.js';
import { type VaryingAxes, batchDependence, batchShapes, freeBatchDimension, freeSize, freeSizeDimensions, graphReshaper, sizeVariation } from './batch.js';
import { type ConvertOptions, type OnnxConversion, convertGraph, neededLayers, wantedBlobs } from './convert.js';
import type { OrtModule } from './ort.js';
import { platform } from '../platform.js';
import { LayerError } from '../layers/layer.js';
import { layerTypeOf } from '../layers/registry.js';

export interface RunOnnxOptions extends ConvertOptions {
  /** Threads for ONNX Runtime's operators (intra-op); default: ONNX Runtime's choice (one per core). */
  threads?: number;
  /** The model's batch dimension symbolic: one session runs every batch size (only for a batchDependence-free graph). */
  anyBatch?: boolean;
  /**
   * Converted size-free (ConvertOptions.anySize) with its height and width symbolic: one session runs every input
   * size. OnnxRunner refuses, in one line, a net that builds the size in (sizeDependence); OnnxSessions asks once
   * per outputs and keeps to one session per size for such a net.
   */
  anySize?: boolean;
}

export type Inputs = Map<string, Tensor> | Record<string, Tensor>;

function inputMap(inputs: Inputs): Map<string, Tensor> {
  return inputs instanceof Map ? inputs : new Map(Object.entries(inputs));
}

/**
 * A Caffe graph converted in memory and loaded into ONNX Runtime (no file). The graph's input shapes are
 * fixed at creation; `run` checks that the inputs have them.
 */
export class OnnxRunner {
  private constructor(
    private readonly graph: Graph,
    private readonly conversion: OnnxConversion,
    private readonly session: ort.InferenceSession,
    /** The session's name for a graph input or output, where it is not the model's (see `sessionSafe`). */
    private readonly renamed: Map<string, string>,
    private readonly ort: OrtModule,
    /** The input shapes the session was made for (the graph's may change after). */
    private readonly inputShapes: Map<string, readonly number[]>,
    /** Whether any batch size runs (dimension 0 of the inputs free). */
    private readonly anyBatch: boolean,
    /** Whether any height and width run (dimensions 2 and up of the inputs free). */
    private readonly anySize: boolean,
  ) {}

  /**
   * `conversion`: the graph's conversion with `options`, when the caller made it already (it is changed here; with
   * `anySize`, its sizes already freed: freeSize).
   */
  static async create(graph: Graph, options: RunOnnxOptions = {}, given?: OnnxConversion): Promise<OnnxRunner> {
    const threads = options.threads ?? 0;
    if (!Number.isInteger(threads) || threads < 0) throw new CremaError(`options.threads must be a whole number, got ${threads}`);
    const conversion = given ?? convertGraph(graph, options);
    if (options.anySize && !given) {
      const why = freeSize(graph, conversion, graphReshaper(graph), options);
      if (why) throw new CremaError(`options.anySize: the net does not serve every input size: ${why}`);
    }
    if (options.anyBatch) freeBatchDimension(conversion.model);
    const renamed = sessionSafe(conversion.model);
    const ort = (await platform().onnxRuntime()) as OrtModule;
    const { session, leftover } = await openSession(ort, conversion.model, sessionOptions(conversion.model, threads));
    const runner = new OnnxRunner(graph, conversion, session, renamed, ort, new Map(graph.inputs.map((n) => [n, graph.blobShapes.get(n)!])), options.anyBatch === true, options.anySize === true);
    runner.leftover = leftover;
    return runner;
  }

  /** Model files a session maps that could not be removed when it was made (Windows): removed at release. */
  private leftover?: () => boolean;

  /**
   * Runs one forward; returns each requested blob's value after the whole net, by Caffe blob name: the
   * conversion's outputs, or those of them `wanted` names (only those are copied out; ONNX Runtime still runs every
   * node of the model, so a node that fails at run time fails the run even when no wanted blob needs it).
   */
  async run(inputs: Inputs, wanted?: readonly string[]): Promise<Map<string, Tensor>> {
    const given = inputMap(inputs);
    const feeds = nameRecord<ort.Tensor>();
    const sessionName = (n: string) => this.renamed.get(n) ?? n;
    for (const name of this.graph.inputs) {
      const t = given.get(name);
      if (!t) throw new CremaError(`no value given for the net's input '${name}'`);
      const want = this.inputShapes.get(name)!;
      if (!sameShape(freeAxes(t.dims, this.anyBatch, this.anySize), freeAxes(want, this.anyBatch, this.anySize))) throw new CremaError(`input '${name}' has shape ${shapeString(t.dims)}, the net takes [${freeAxes(want, this.anyBatch, this.anySize).map((d) => (d < 0 ? 'any' : d)).join(', ')}]`);
      feeds[sessionName(name)] = new this.ort.Tensor('float32', t.data, [...t.dims]);
    }
    checkInputNames(given.keys(), this.graph.inputs, 'run');
    const blobs = this.blobOrder(wanted);
    const fetches = blobs.filter((b) => !this.conversion.passthrough.includes(b)).map((b) => sessionName(this.conversion.outputs.get(b)!));
    const results = fetches.length ? await this.session.run(feeds, fetches).catch((err: unknown) => { throw this.explained(err); }) : {}; // ONNX Runtime refuses an empty fetch list
    const out = new Map<string, Tensor>();
    for (const blob of blobs) {
      if (this.conversion.passthrough.includes(blob)) {
        out.set(blob, given.get(blob)!);
        continue;
      }
      const value = results[sessionName(this.conversion.outputs.get(blob)!)];
      out.set(blob, new Tensor([...value.dims], value.data as Float32Array));
    }
    return out;
  }

  /**
   * ONNX Runtime's run-time refusal of a node, as the layer that made it explains it in one line (onnxRunFailure),
   * where it does; else `err` as it is.
   */
  private explained(err: unknown): unknown {
    const m = /running \w+ node\. Name:'([^']*)' Status Message: (.*)/s.exec(err instanceof Error ? err.message : '');
    const at = m ? this.conversion.model.graph.node.findIndex((n) => n.name === m[1]) : -1;
    const span = this.conversion.spans.find((s) => s.nodes[0] <= at && at < s.nodes[1]);
    const layer = span && this.graph.layers.find((l) => l.name === span.name);
    const why = layer && layerTypeOf(layer.def).onnxRunFailure?.(layer.def, m![2].trim(), layer.bottomShapes);
    return why ? new LayerError(layer.def, why) : err;
  }

  /** The requested blobs (the conversion's outputs, or those of them in `wanted`) in net order. */
  private blobOrder(wanted?: readonly string[]): string[] {
    const served = new Set([...this.conversion.outputs.keys(), ...this.conversion.passthrough]);
    const asked = wanted ? new Set(wanted.filter((b) => served.has(b))) : served;
    return [...this.graph.blobShapes.keys()].filter((b) => asked.has(b));
  }

  async release(): Promise<void> {
    await this.session.release();
    this.leftover?.();
  }
}

/**
 * @internal The options users' sessions are made with (OnnxRunner's; `crema bench --backend onnx` adds its own to
 * them): `threads` intra-op (0: ONNX Runtime's choice), one sequential inter-op thread, every graph optimization, and
 * the layout `model`'s size allows (layoutOptions; none without a model, for a hand-built one of a benchmark's).
 */
export function sessionOptions(model: ModelObj | undefined, threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4, // fatal only: a failed run's error reaches the caller (as one crema line where a layer explains it), not also stderr
    ...(model ? layoutOptions(model) : {}),
  };
}

/**
 * @internal A session for `model`: from its files where the platform writes them (Node: the weights mapped, not
 * copied; see src/onnx/external.ts), else from memory. `leftover` removes files that outlived the session's
 * creation. Users' sessions (OnnxRunner) and the benchmark's (src/bench/onnx.ts) are made here alike.
 */
export async function openSession(ort: OrtModule, model: ModelObj, options: ort.InferenceSession.SessionOptions): Promise<{ session: ort.InferenceSession; leftover?: () => boolean }> {
  const files = writtenFiles(model);
  if (!('path' in files)) return { session: await sessionInMemory(ort, model, files.unwritten, options) };
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.path, options);
  } catch (err) {
    files.remove();
    throw err;
  }
  return { session, leftover: files.remove() ? undefined : files.remove };
}

/**
 * A session from the model in memory: as the platform gives it (a browser: the large tensors as external data,
 * views of the net's weights), else from the model's bytes (sessionBytes), every weight copied into them.
 */
async function sessionInMemory(ort: OrtModule, model: ModelObj, unwritten: string | undefined, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const source = await platform().onnxSessionSource?.(model);
  if (!source) return ort.InferenceSession.create(sessionBytes(model, unwritten), options);
  return ort.InferenceSession.create(source.model, { ...options, externalData: source.externalData });
}

/**
 * The model's files, where the platform writes them; where it cannot (a full or read-only temporary folder), why:
 * the session is then made from the bytes, as in a browser, which costs memory but gives the same session.
 */
function writtenFiles(model: ModelObj): { path: string; remove(): boolean } | { unwritten?: string } {
  try {
    return platform().onnxModelFiles?.(externalModel(model)) ?? {};
  } catch (err) {
    if (err instanceof CremaError) return { unwritten: err.message };
    throw err;
  }
}

/**
 * @internal The model's bytes for a session made from them, refused in one line past protobuf's limit (`limit`
 * lowered in tests): where the files could not be written (`unwritten` says why), or the platform writes none.
 */
export function sessionBytes(model: ModelObj, unwritten: string | undefined, limit?: number): Uint8Array {
  const advice = unwritten === undefined
    ? 'ONNX Runtime is given the model as bytes here, which cannot hold a net this large'
    : `ONNX Runtime is given a net this large as files, its weights as external data, and they could not be written (${unwritten})`;
  return encodeModel(model, advice, limit);
}

/**
 * Above this many bytes of Conv weights, ONNX Runtime's NCHWc layout transformer is left out: it copies each Conv
 * weight into its blocked layout when the session is made, where every other weight is mapped. FCN-8s (470 MiB of
 * Conv weights) took 14.7 s and 1.7 GiB more at its peak to open with it, 0.4 s and 26 MiB without. Below the bound
 * it stays, for its faster forwards (VGG-16, 56 MiB of Conv weights: 726 against 985 ms at 2 threads; ResNet-50).
 */
export const NCHWC_MAX_BYTES = 256 * 1048576;

/**
 * Session options for the model's size: without the NCHWc transformer when its Conv weights pass `bound`. The type
 * is written out: the package's types must not name onnxruntime-node's (an optional peer).
 */
export function layoutOptions(model: ModelObj, bound = NCHWC_MAX_BYTES): { extra?: { optimization: { disable_specified_optimizers: string } } } {
  return convWeightBytes(model) > bound ? { extra: { optimization: { disable_specified_optimizers: 'NchwcTransformer' } } } : {};
}

/** The bytes of the initializers that are Conv weights (input 1 of a Conv node). */
export function convWeightBytes(model: ModelObj): number {
  const weights = new Set(model.graph.node.filter((n) => n.op_type === 'Conv').map((n) => n.input[1]));
  return model.graph.initializer.reduce((sum, t) => sum + (weights.has(t.name) ? t.raw_data.length : 0), 0);
}

/**
 * onnxruntime-node passes feeds and results as plain objects keyed by name, where `__proto__` is no key: such a
 * graph input or output (a Caffe blob may have any name) is renamed in the model run in memory. Returns the renames.
 */
export function sessionSafe(model: ModelObj): Map<string, string> {
  const renamed = new Map<string, string>();
  for (const v of [...model.graph.input, ...model.graph.output])
    if (v.name === '__proto__') renamed.set(v.name, `${v.name}#crema`);
  if (renamed.size === 0) return renamed;
  const rename = (n: string) => renamed.get(n) ?? n;
  for (const v of [...model.graph.input, ...model.graph.output]) v.name = rename(v.name);
  for (const node of model.graph.node) {
    node.input = node.input.map(rename);
    node.output = node.output.map(rename);
  }
  return renamed;
}

/**
 * Converts `graph` and runs it once in ONNX Runtime. When the inputs' shapes differ from the graph's, the graph's
 * shapes are inferred again for them for the conversion (atShapes: a Net's graph is shaped back before it next runs
 * natively).
 */
export async function runOnnx(graph: Graph, inputs: Inputs, options: RunOnnxOptions = {}): Promise<Map<string, Tensor>> {
  const given = inputMap(inputs);
  const runner = await atShapes(graph, given, () => OnnxRunner.create(graph, options));
  try {
    return await runner.run(given);
  } finally {
    await runner.release();
  }
}

/**
 * Runs `make` with the graph's shapes inferred for the inputs' shapes where they differ, and leaves them so
 * (shapeAway): the graph may be a Net's, whose buffers are at its own shapes, and the Net shapes it back before its
 * next native use (a net.forward would otherwise take the new shapes for its buffers': silently wrong), not here:
 * ONNX Runtime's runs at a new size shape the graph once, not there and back.
 */
async function atShapes<T>(graph: Graph, given: Map<string, Tensor>, make: () => Promise<T>): Promise<T> {
  const changed = nameRecord<readonly number[]>();
  for (const [name, t] of given) {
    const want = graph.blobShapes.get(name);
    if (want && graph.inputs.includes(name) && !sameShape(want, t.dims)) changed[name] = t.dims;
  }
  if (Object.keys(changed).length > 0) shapeAway(graph, changed); // a layer refusing them leaves the graph as it was
  return make();
}

/** The input sizes a size-free session remembers as checked (OnnxSessions.run): MTCNN's pyramid's dozen scales several times over. */
export const CHECKED_SIZES = 64;

/**
 * ONNX Runtime for many forwards of one graph (classify and detect `--backend onnx`, net.run's): the graph is
 * converted and loaded once for the inputs' shapes, again only when they change or a run asks for a blob the
 * session does not output, the old session released first so that one copy of the weights is held at a time.
 * At the same shapes the new session outputs the old one's blobs too (ONNX Runtime computes only what a run
 * fetches): runs alternating two fetch lists make two sessions, not one a switch. With `anyBatch`, a graph whose
 * conversion does not depend on the batch size (batchDependence, asked once per outputs) gets one session for
 * every batch size: a server's requests of 1, 3 and 8 images do not convert the net at each switch. With
 * `anySize`, likewise one session for every input height and width where the net allows it (sizeDependence, asked
 * once per outputs): MTCNN's pyramid, an FCN's images of every size; a net that builds the size in (an
 * InnerProduct) gets the plain model, one per size, as without it.
 */
export class OnnxSessions {
  private readonly graph: Graph;
  /** The session now: its shapes' key, the blobs it outputs, the inputs' dims last run and the dims the graph took (`checked`: the CHECKED_SIZES used last). */
  private current?: { shapes: string; served: ReadonlySet<string>; runner: OnnxRunner; dims: string; checked: Set<string> };
  /** Per outputs (their key): whether one model serves every batch size. */
  private readonly batchFree = new Map<string, boolean>();
  /** Per outputs (their key): the output axes that vary where one model serves every input height and width (with `anySize`), else false. */
  private readonly sizeFree = new Map<string, VaryingAxes | false>();
  /** Sessions made (for tests). */
  made = 0;

  constructor(private readonly net: Net, private readonly options: RunOnnxOptions = {}) {
    net.usable(); // a disposed net says so; the layers' weights are asked per model, when one is made
    this.graph = net.graph;
  }

  /** One forward: the blobs `outputs` names (default: the options', else the net's outputs), by Caffe blob name. */
  async run(inputs: Inputs, outputs = this.options.outputs): Promise<Map<string, Tensor>> {
    const wanted = wantedBlobs(this.graph, outputs ?? 'net');
    const given = inputMap(inputs);
    const shapesOf = (served: ReadonlySet<string>) => {
      const key = keyOf(served), batch = this.batchFree.get(key) === true, size = this.sizeFree.get(key) instanceof Map;
      return JSON.stringify(this.graph.inputs.map((n) => { const dims = given.get(n)?.dims; return dims && freeAxes(dims, batch, size); }));
    };
    const current = this.current;
    const sameShapes = current !== undefined && current.shapes === shapesOf(current.served);
    if (!sameShapes || !wanted.every((b) => current.served.has(b))) {
      const served = new Set(sameShapes ? [...current.served, ...wanted] : wanted);
      // ONNX Runtime would fail on empty initializers with a stack trace: refused here, for the layers this model
      // holds (colorize's class8_ab, which the release leaves without weights, is not in it)
      this.net.checkWeights(0, this.graph.layers.length - 1, neededLayers(this.graph, [...served]));
      await this.release();
      const runner = await atShapes(this.graph, given, () => this.open(keyOf(served), { ...this.options, outputs: [...served] }));
      this.made++;
      this.current = { shapes: shapesOf(served), served, runner, dims: dimsOf(given), checked: new Set([dimsOf(given)]) };
    } else if (current.dims !== dimsOf(given)) {
      // One session serves this size too: the graph's shapes are inferred for it first, as the native engine would,
      // so that a size a layer refuses (too small for a kernel) is said in one line naming it, not by ONNX Runtime
      // from inside a node. Once per size, not at every change (MTCNN's pyramid goes through the same scales image
      // after image); left at it (atShapes: the Net shapes it back before its next native use).
      // The sizes kept are the CHECKED_SIZES used last (a Set in the order of use, the oldest first): a camera's or a
      // crawler's sizes without end do not grow it.
      const dims = dimsOf(given);
      if (!current.checked.delete(dims)) await atShapes(this.graph, given, async () => undefined);
      current.checked.add(dims);
      if (current.checked.size > CHECKED_SIZES) current.checked.delete(current.checked.values().next().value!);
      current.dims = dims;
    }
    return this.current!.runner.run(given, wanted);
  }

  /**
   * A session for the graph at its shapes now, its size and batch free where asked and the net allows: each asked
   * once per outputs (`key`), the batch against the model as converted, before its sizes are freed.
   */
  private open(key: string, options: RunOnnxOptions): Promise<OnnxRunner> {
    let conversion: OnnxConversion | undefined, varying: VaryingAxes | undefined;
    if (this.options.anySize && this.sizeFree.get(key) !== false) {
      conversion = sizeFreeConversion(this.graph, options);
      // the check once per outputs: a later session of them (another batch) reuses its answer
      const known = this.sizeFree.get(key), found = known || (conversion && sizeVariation(this.graph, conversion, graphReshaper(this.graph), options));
      varying = typeof found === 'object' ? found : undefined;
      this.sizeFree.set(key, varying ?? false);
    }
    // A net that builds the size in gets the model it always had, one per size (and is asked about the batch as such).
    const made = { ...options, anySize: varying !== undefined };
    if (!varying) conversion = convertGraph(this.graph, made);
    let batch = this.batchFree.get(key);
    if (batch === undefined && this.options.anyBatch) {
      batch = batchDependence(this.graph, conversion!, (b) => graphReshaper(this.graph)(batchShapes(this.graph, b)), made) === undefined;
      this.batchFree.set(key, batch);
    }
    if (varying) freeSizeDimensions(conversion!.model, varying);
    return OnnxRunner.create(this.graph, { ...made, anyBatch: batch === true }, conversion);
  }

  async release(): Promise<void> {
    const runner = this.current?.runner;
    this.current = undefined;
    await runner?.release();
  }
}

/** The inputs' shapes as a key. */
function dimsOf(given: Map<string, Tensor>): string {
  return JSON.stringify([...given].map(([name, t]) => [name, t.dims]));
}

/** A set of blob names as a key. */
function keyOf(blobs: ReadonlySet<string>): string {
  return JSON.stringify([...blobs].sort());
}

/**
 * The graph converted size-free, or undefined where a layer has no size-free form (a Pooling whose last window
 * leaves the image at some sizes): OnnxSessions then converts it as always, one model per size.
 */
function sizeFreeConversion(graph: Graph, options: RunOnnxOptions): OnnxConversion | undefined {
  try {
    return convertGraph(graph, { ...options, anySize: true });
  } catch (err) {
    if (err instanceof CremaError) return undefined;
    throw err;
  }
}

/** `dims` with the axes a model leaves free as -1: the batch (axis 0), the height and width (2 and up, rank 3 or more). */
function freeAxes(dims: readonly number[], batch: boolean, size: boolean): number[] {
  return dims.map((d, i) => ((batch && i === 0) || (size && i >= 2 && dims.length >= 3) ? -1 : d));
}

/** What `crema run --backend onnx` needs from a forward: Caffe's net outputs and the requested blobs. */
export interface OnnxForward {
  outputs: Record<string, Tensor>;
  blobs: Map<string, Tensor>;
}

/**
 * Runs a loaded Net in ONNX Runtime instead of natively, with the same inputs (reshaping the net first when
 * their shapes differ, as `net.forward` does). `blobs: 'all'` returns every blob, else only the outputs.
 */
export async function forwardOnnx(net: Net, inputs: Record<string, Tensor>, options: RunOnnxOptions & { blobs?: 'all' | 'outputs' } = {}): Promise<OnnxForward> {
  const changed = nameRecord<readonly number[]>();
  net.checkWeights(); // ONNX Runtime would fail on the empty initializers with a stack trace
  for (const [name, t] of Object.entries(inputs)) {
    const want = net.shapes.get(name);
    if (want && net.inputs.includes(name) && !sameShape(want, t.dims)) changed[name] = t.dims;
  }
  if (Object.keys(changed).length > 0) net.reshape({ ...Object.fromEntries(net.inputs.map((n) => [n, net.shapes.get(n)!])), ...changed });
  const blobs = await runOnnx(net.graph, inputs, { ...options, outputs: options.blobs === 'all' ? 'all' : 'net' });
  const outputs = Object.fromEntries(net.outputs.map((n) => [n, blobs.get(n)!]));
  return { outputs, blobs };
}
