import { type DialectOf, loadNet, type LoadOptions } from '../caffe/load.js';
import type { NetParameter } from '../caffe/types.js';
import { buildGraph, inferShapes, repeatedNameNotes, reshapeAfter, shapeBack, sizingNote, type Graph, type GraphLayer } from '../graph/graph.js';
import { type DecodedWeights, type Owned, adoptWeights, boundThreads, collectGarbage, compileEngine, decodedWeights, defaultThreads, setThreads, wasmEngine, wasmEngineIfLoaded } from '../kernels/wasm.js';
import { type Layer, LayerError, declaredWeights } from '../layers/layer.js';
import { type InputValue, checkEveryInput, checkFeeds, checkFetches, inputTensor } from './feeds.js';
import { loadPlugins } from '../layers/plugin.js';
import { builtInPythonNote, registerLayer } from '../layers/registry.js';
import { type Fusion, chainMembers, computedByProducer, findFusions, fusedProducer, fusionMembers, producerFor, releaseFolded, unfuse, withFoldBuffers } from './fold.js';
import { NetRunner, runnersAlive, runnersStarted } from './runner.js';
import { ForwardJudge } from './forward-judge.js';
import { type ConcatSlice, concatSlices } from './concat-views.js';
import { MemoryPlan, releasedBlob, unkeptError, unkeptFetch } from './memory-plan.js';
import { platform } from '../platform.js';
import { type Shape, Tensor, heldTensors, sameShape, shapeString, sizeOf, viewOf, viewedShares } from '../tensor.js';
import { CremaError, MemoryFullError } from '../util/errors.js';
import { checkInputNames, checkNames, checkOptionKeys } from '../util/options.js';
import { listSome, nameRecord } from '../util/names.js';
import { type Source, isBytes, kindOf } from '../util/source.js';

export type { LoadOptions };

/** The most scratch Net.load writes ahead for the first forward (see prepare). */
const PREFAULT_SCRATCH_BYTES = 64 * 2 ** 20;
/** Scratch every net gets written ahead: the pooling, Eltwise and copy kernels' tables (a few KiB each). */
const SCRATCH_TABLES_BYTES = 256 * 1024;
/** Weights moved by Net.load beyond which their loaded copies are collected at once (a full GC costs ~10 ms). */
const PREPARED_COLLECT_BYTES = 64 * 2 ** 20;

/** What Net.load's options may hold (LoadOptions and NetOptions): anything else is refused, naming these. */
const NET_LOAD_OPTIONS = ['threads', 'plugins', 'keepBlobs', 'phase', 'level', 'stages', 'lenient', 'dataShapes', 'dialect', 'warn', 'frcnnConfig'];

export interface NetOptions {
  /**
   * Threads for the native kernels, at most one per core (more cannot help: they only take turns): all cores
   * by default on the main thread, 1 by default in a worker thread; 1 = this thread only (no workers).
   */
  threads?: number;
  /** Plugin modules to import before loading (Net.load only): each exports layer types (see registerLayer). */
  plugins?: readonly string[];
  /** The blobs that keep their values after a forward: see Net.keepBlobs (default 'all'). */
  keepBlobs?: KeepBlobs;
}

/** 'all' (every blob, as pycaffe), or the blobs kept beside the net's outputs (the rest share storage: Net.keepBlobs). */
export type KeepBlobs = 'all' | readonly string[];

export type { InputValue, TensorLike } from './feeds.js';

export interface RunOptions {
  /** The blobs to return (default: the net's outputs), each a fresh tensor of its value after the forward. */
  fetches?: string[];
  /**
   * 'onnx': the net converted to ONNX (once: one session runs every batch size unless the conversion depends on it;
   * again when the fetches or the other input dimensions change) and run in
   * onnxruntime-node on the net's threads, as `crema run --backend onnx` and the browser's `run(feeds, { backend })`.
   * Default 'native', crema's engine.
   */
  backend?: 'native' | 'onnx';
}

/** A net to load: the prototxt (a path, its bytes or its text) and its weights (a path or the file's bytes). */
export interface NetFiles {
  prototxt: Source;
  weights?: Source;
}

export interface ForwardOptions {
  /** Run from this layer (by name: the first layer of a repeated name, as pycaffe) on; blobs before it keep their values. */
  start?: string;
  /** Run up to and including this layer. */
  end?: string;
  /**
   * Called after each layer that ran, with its wall time in ms (`crema bench`'s per-layer times). Layers folded
   * into the one before them (fold.ts) are computed there and not reported on their own.
   */
  onLayer?: (layer: GraphLayer, ms: number) => void;
}

/**
 * A Caffe net ready to run natively, as pycaffe's caffe.Net: `inputs`, `outputs`, `blobs` (every blob by name, in
 * net order, holding its value after the last forward), `params` (layer name -> weight tensors) and `forward`.
 */
export class Net {
  /**
   * Every blob by name. A blob a fused chain did not write (fold.ts: `hidden`) is recomputed by the original
   * layers the first time its data is read after the forward, so reading any blob gives Caffe's value.
   */
  get blobs(): Map<string, Tensor> {
    this.usable(); // disposed, or handed to its worker: say so rather than look empty
    return this.blobMap;
  }
  private readonly blobMap = new Map<string, Tensor>();
  /** The blobs as the layers see them: the same buffers, without the read hooks of `blobs`. */
  private readonly store = new Map<string, Tensor>();
  /** Hidden blob -> its fusion, and a fusion's source blob (a bottom of its producer) -> the fusions that read it. */
  private readonly hiddenBy = new Map<string, Fusion>();
  private readonly sourceOf = new Map<string, Fusion[]>();
  /** Fusions whose hidden blobs the last forward did not compute (recomputed on first read, see `materialize`). */
  private readonly stale = new Set<Fusion>();
  /** Layer name -> its weight tensors (read-only: see README). */
  get params(): Map<string, Tensor[]> {
    this.usable();
    if (!this.paramsShown) for (const ts of this.paramMap.values()) for (const t of ts) heldTensors.add(t);
    this.paramsShown = true;
    return this.paramMap;
  }
  /** net.params was read: its caller may hold the weights' arrays (see heldTensors). */
  private paramsShown = false;
  private readonly paramMap = new Map<string, Tensor[]>();
  /** What loading noticed (unused weights, layers without weights, dropped loss layers, ...). */
  readonly notes: string[];
  /** The format upgrades loading applied (V0/V1 to V2, net-level inputs to an Input layer). */
  upgrades: string[] = [];
  /** Threads the native kernels use for this net's forward (at most the workers started by setThreads + 1). */
  threads: number;
  /** Convolution / InnerProduct layer index -> the in-place BatchNorm / Scale / ReLU it computes (fold.ts). */
  private readonly fusions: Map<number, Fusion>;
  /** BatchNorm / Scale / ReLU layer index -> the fusion that may compute it. */
  private readonly fusedMembers: Map<number, Fusion>;
  /** The wasm memory blocks this net's layers own (packed weights): freed at once by dispose. */
  private readonly owned = new Set<Owned>();
  /** Blobs whose data is a view of a Concat's top (concat-views.ts): their own buffer is made again when that ends. */
  private views = new Set<string>();
  /**
   * @internal Chooses whether a whole forward at several threads runs in parallel or alone (forward-judge.ts);
   * undefined with CREMA_JUDGE=0 (always parallel: the tests' 2-thread cases) or CREMA_JUDGE=jobs (the pool's
   * per-job judge only).
   */
  forwardJudge = ['0', 'jobs'].includes(platform().env('CREMA_JUDGE') ?? '') ? undefined : new ForwardJudge();
  /**
   * @internal Whether the pool's per-job Judge also decides inside the forwards the ForwardJudge runs in parallel
   * (CREMA_JUDGE=both; its first alone forward then times every job alone for it). Not by default: on a quiet
   * host its trials and one-sample choices ran jobs alone through a benchmark's few forwards (CaffeNet at 2
   * threads, 10 forwards, 18:57, load ~1.5: 1.13-1.56x ORT with both judges, 0.96-1.14 with the forward judge
   * alone, 0.91-0.99 unjudged), and with a busy core the ForwardJudge runs whole forwards alone anyway.
   */
  jobsInForwards = platform().env('CREMA_JUDGE') === 'both';
  /** The worker thread `run` handed the net to (from the first run on). */
  private runner: NetRunner | undefined;
  /**
   * @internal Whether dispose frees the blobs' arrays in the kernels' memory too, not only the collector: for a net
   * whose callers get copies of its blobs, never the blobs (the browser's engine worker, where no collection can be
   * asked for). Not by default: a caller may hold a net's output after dispose.
   */
  freesBlobs = false;
  /** Why the net can no longer run here: disposed, or handed to its worker. */
  private gone: string | undefined;
  /**
   * @internal What else holds a copy of the weights in this thread for this net (detect's ONNX Runtime sessions,
   * src/detect/node.ts): released with the net's own (dispose, or the hand-over to its worker).
   */
  readonly companions = new Set<{ release(): Promise<void> }>();

  /** @internal Its layers as they are, for what reads no shape (layer-files.ts): not shaped back for it. */
  get layersAsIs(): readonly GraphLayer[] {
    return this.anyShapes.layers;
  }

  /**
   * @internal The layer graph (shapes, layer implementations): the engine's, not the library's API. At the net's own
   * shapes: shaped back first when ONNX Runtime's sessions left it at another size's (shapeAway).
   */
  get graph(): Graph {
    // Shaped back from the inputs, a sized layer's tops (Filter's, Proposal's rows) are at their most again, where
    // the blobs may hold a forward's fewer: allocated again for the shapes, or the next forward of as many rows as
    // the shapes say would take the smaller buffers as sized (afterSizing).
    if (shapeBack(this.anyShapes)) this.allocate();
    return this.anyShapes;
  }

  private constructor(
    /** The graph as it is, maybe at another size's shapes (see `graph`): for what reads only its layers and weights. */
    private readonly anyShapes: Graph,
    notes: string[],
    options: NetOptions,
  ) {
    const graph = anyShapes;
    this.notes = [...notes, ...repeatedNameNotes(graph), ...sizingNote(graph), ...graph.layers.flatMap((l) => builtInPythonNote(l.def) ?? [])];
    for (const l of graph.layers) for (const note of l.impl.notes ?? []) this.notes.push(`layer '${l.name}' (${l.type}): ${note}`);
    this.threads = boundThreads(checkedThreads(options.threads) ?? defaultThreads());
    this.fusions = findFusions(graph.layers);
    this.fusedMembers = fusionMembers(this.fusions);
    for (const f of this.fusions.values()) {
      if (!f.hidden.length) continue;
      for (const b of f.hidden) this.hiddenBy.set(b, f);
      for (const b of graph.layers[f.producer].bottoms) this.sourceOf.set(b, [...(this.sourceOf.get(b) ?? []), f]);
    }
    // Workers start in the background; Net.load awaits the same start and reports a failure there.
    setThreads(this.threads).catch(() => undefined);
    for (const l of graph.layers) if (l.weights.length) this.paramMap.set(l.name, l.weights);
    holdShared(this.paramMap);
    // Weights in wasm memory (decoded there by Net.load, or moved by another net's layers) are this net's to free
    // (dispose) too, not only the collector's: the last net using them frees them.
    for (const ts of this.paramMap.values()) for (const t of ts) adoptWeights(t.data, this.owned);
    this.kept = checkedKeep(options.keepBlobs, graph.blobShapes);
    this.allocate();
  }

  /**
   * Which blobs keep their values after a forward. 'all' (the default): every blob, as pycaffe's net.blobs. A list:
   * the net's outputs and the blobs named; every other blob's storage is reused once the last layer reading it has
   * run (a memory plan: FCN-8s's blobs on a 500 x 375 image take 240 MB instead of 505, `crema segment`'s peak 1.82 GB
   * instead of 2.09), and
   * reading one after the forward (net.blobs, a forward's `start` after it) throws a one-line CremaError naming it.
   * A planned blob's data array is valid until the next forward or reshape. Setting it lays the blobs out again (the
   * arrays of the blobs it plans are freed: read them before).
   * In a net with a layer that sizes its tops at run time (Proposal, Filter, DetectionOutput), its tops and the blobs
   * after them that follow their rows keep arrays of their own; the rest (the backbone, an SSD's heads) are planned.
   */
  get keepBlobs(): KeepBlobs {
    return this.kept;
  }
  set keepBlobs(keep: KeepBlobs) {
    this.usable();
    this.kept = checkedKeep(keep, this.graph.blobShapes);
    this.allocate();
  }
  private kept: KeepBlobs = 'all';
  /** The memory plan for `kept` (undefined: every blob has its own storage), and its slots' arrays. */
  private plan: MemoryPlan | undefined;
  private slots: Float32Array[] = [];

  /**
   * Loads a net: `Net.load('deploy.prototxt', 'weights.caffemodel')`, or `Net.load({ prototxt, weights }, options)`
   * where each is a file path or the file's bytes (Uint8Array, ArrayBuffer, Buffer) and the prototxt may be its
   * text. Weights: a .caffemodel of any version, or Caffe HDF5 (told apart by content).
   */
  static async load(files: NetFiles, options?: LoadOptions & NetOptions): Promise<Net>;
  static async load(prototxt: Source, weights?: Source, options?: LoadOptions & NetOptions): Promise<Net>;
  static async load(first: Source | NetFiles, second?: Source | (LoadOptions & NetOptions), third?: LoadOptions & NetOptions): Promise<Net> {
    const files = isNetFiles(first);
    if (files && second !== undefined && (typeof second !== 'object' || isBytes(second) || second instanceof URL))
      throw new CremaError(`Net.load({ prototxt, weights }, options): the second argument is the options, got ${kindOf(second)} (the weights go in the object)`);
    if (files && third !== undefined) throw new CremaError('Net.load({ prototxt, weights }, options): a third argument is not taken (the weights go in the object)');
    const [prototxt, weights, options = {}] = files ? [first.prototxt, first.weights, second as LoadOptions & NetOptions | undefined] : [first, second as Source | undefined, third];
    return Net.open(prototxt, weights, options, { prepare: true });
  }

  /**
   * @internal Net.load for a net that is converted, inspected or run in ONNX Runtime, not natively (`crema convert`,
   * `info`, `--backend onnx`): the weights stay as loaded, nothing packed, folded or written ahead for a native
   * forward (ResNet-50: 0.5 s and ~300 MB less). A native forward still works: its layers pack on first use.
   */
  static async loadUnprepared(prototxt: Source, weights?: Source, options: LoadOptions & NetOptions = {}): Promise<Net> {
    return Net.open(prototxt, weights, options, { prepare: false });
  }

  /**
   * @internal Net.load (`prepare`) or loadUnprepared with crema's own hooks beside the public options: `dialectOf`,
   * edges' choice of HED's dialect in the one load (LoadHooks).
   */
  static async open(prototxt: Source, weights: Source | undefined, options: LoadOptions & NetOptions, how: { prepare: boolean; dialectOf?: DialectOf }): Promise<Net> {
    checkOptionKeys(options, NET_LOAD_OPTIONS, 'Net.load');
    checkNames(options.plugins, 'options.plugins');
    const fresh = !wasmEngineIfLoaded();
    const compiling = compileEngine(); // while the files are read
    // The weights' float runs go straight into the kernels' memory (one write of each page, not two), the large
    // ones copied on two threads at two threads or more: the helper thread starts now, to be up when they come.
    const decoded = decodedWeights(typeof weights === 'string' || weights instanceof URL ? threadsAsked(options.threads) : 1); // bytes: no file to read
    try {
      return await Net.loadWith(prototxt, weights, options, fresh, compiling, decoded, how);
    } finally {
      decoded?.helper?.close(); // unless the kernels took it as their worker
    }
  }

  private static async loadWith(prototxt: Source, weights: Source | undefined, options: LoadOptions & NetOptions, fresh: boolean, compiling: Promise<void>, decoded: DecodedWeights | undefined, how: { prepare: boolean; dialectOf?: DialectOf }): Promise<Net> {
    let loaded: Awaited<ReturnType<typeof loadNet>>;
    try {
      // A turn of the event loop for the compile's first step on this thread (V8 runs it as a task): without it
      // the compile waited for the weights' synchronous decode to end (AlexNet: 140-290 ms after it, load 5-6).
      if (fresh) await new Promise((resolve) => setTimeout(resolve, 1));
      await reclaimDroppedNets();
      if (options.plugins?.length) await loadPlugins(options.plugins, registerLayer);
      loaded = await loadNet(prototxt, weights, options, { into: decoded, dialectOf: how.dialectOf });
    } catch (err) {
      decoded?.releaseExcept(new Set());
      throw err;
    }
    decoded?.releaseExcept(new Set([...loaded.weights.values()].flatMap((ts) => ts.map((t) => t.data))));
    await compiling;
    let net: Net;
    try {
      net = Net.build(loaded.net, loaded.weights, loaded.notes, { ...options, dialect: loaded.dialect });
    } catch (err) {
      throw withWeightsFile(err, loaded.weightsFile, options.dataShapes === undefined);
    }
    net.upgrades = loaded.upgrades;
    net.graph.file = loaded.file;
    if (how.prepare) net.prepare();
    await setThreads(net.threads);
    return net;
  }

  /**
   * @internal
   * A net from an already upgraded, phase-filtered V2 NetParameter and weights by layer name. Worker threads
   * start in the background: forwards before they are ready use fewer threads.
   */
  static fromNetParameter(net: NetParameter, weights: Map<string, Tensor[]> = new Map(), notes: string[] = [], options: NetOptions & Pick<LoadOptions, 'dialect' | 'frcnnConfig'> = {}): Net {
    if (netsBuilt) wasmEngineIfLoaded()?.heap.reclaimAtGrowth(); // its blocks may take those of nets dropped before it
    return Net.build(net, weights, notes, options);
  }

  /** fromNetParameter without arming Heap.reclaimAtGrowth (Net.load armed it once for the whole load). */
  private static build(net: NetParameter, weights: Map<string, Tensor[]>, notes: string[], options: NetOptions & Pick<LoadOptions, 'dialect' | 'frcnnConfig'>): Net {
    netsBuilt++;
    return new Net(buildGraph(net, ownTensors(weights), { dialect: options.dialect, frcnnConfig: options.frcnnConfig }), notes, options);
  }

  get name(): string {
    return this.anyShapes.name;
  }
  get inputs(): string[] {
    return this.anyShapes.inputs;
  }
  get outputs(): string[] {
    return this.anyShapes.outputs;
  }
  get layers(): readonly GraphLayer[] {
    return this.graph.layers;
  }
  /** Every blob's shape, in net order. */
  get shapes(): Map<string, Shape> {
    return this.graph.blobShapes;
  }

  /** Changes input shapes (another batch or image size; inputs not named keep theirs); every blob's shape is inferred again. */
  reshape(inputShapes: Record<string, Shape>): void {
    this.usable();
    checkFeeds(inputShapes, 'reshape', '{ data: [1, 3, 224, 224] }');
    checkInputNames(Object.keys(inputShapes), this.inputs, 'reshape');
    const before = this.currentInputShapes();
    this.materializeAll(); // the hidden blobs of the last forward, from the blobs as they were
    try {
      inferShapes(this.graph, inputShapes);
    } catch (err) {
      inferShapes(this.graph, before); // layers keep per-shape state: put it back so the net still runs as it was
      throw atShapes(err, inputShapes, before);
    }
    this.allocate();
  }

  /**
   * Runs the net. Inputs whose shape differs from the net's reshape it first (the batch comes from the data).
   * Returns the output blobs; like pycaffe, they are the net's own buffers, overwritten by the next forward.
   * An HDF5Output's file is not written here (synchronous): `run` writes it.
   */
  forward(inputs: Record<string, InputValue> = {}, options: ForwardOptions = {}): Record<string, Tensor> {
    this.usable();
    checkOptionKeys(options, ['start', 'end', 'onLayer'], 'forward');
    return this.inScope(() => this.forwardHere(inputs, options));
  }

  /**
   * Runs the net off the caller's thread (a worker thread; the event loop keeps going) and resolves with fresh
   * output tensors, as onnxruntime's session.run: `await net.run({ data }, { fetches: ['prob'] })`. Concurrent
   * runs queue and never share buffers. The first run hands the net to its worker (the weights go with it, they
   * are not kept twice): from then on this net runs there only, and `forward` refuses.
   */
  async run(feeds: Record<string, InputValue>, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    if (this.gone && !this.runner) this.usable();
    checkFeeds(feeds, 'run');
    checkOptionKeys(options, ['fetches', 'backend'], 'run');
    const backend = options.backend ?? 'native';
    if (backend !== 'native' && backend !== 'onnx') throw new CremaError(`run: options.backend is 'native' or 'onnx', got ${typeof backend === 'string' ? `'${backend}'` : kindOf(backend)}`);
    checkNames(options.fetches, 'run: options.fetches');
    checkEveryInput(this.inputs, (n) => this.graph.blobShapes.get(n)!, feeds);
    const tensors: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(feeds)) tensors[name] = inputTensor(name, value, this.inputShape(name));
    const fetches = options.fetches === undefined ? undefined : [...options.fetches];
    checkFetches(fetches, this.graph.blobShapes);
    if (backend === 'native') this.checkKept(fetches); // ONNX Runtime's sessions compute what they are asked, plan or not
    if (!this.runner) {
      this.checkWeights();
      this.runner = this.handOver();
      droppedRunners.register(this, this.runner, this);
    }
    return this.runner.run(tensors, fetches, backend);
  }

  /**
   * run's native fetches with a memory plan (keepBlobs a list, handed to the worker with the net): the inputs, the
   * outputs and the blobs listed; any other refused in one line before the run (unkeptFetch).
   */
  private checkKept(fetches: readonly string[] | undefined): void {
    const name = unkeptFetch(fetches, this.graph.inputs, this.graph.outputs, this.kept);
    if (name !== undefined) throw unkeptError(name, 'net.keepBlobs', `list '${name}' in it, or set it to 'all', before the net's first run`);
  }

  /** Releases the net now: its worker thread, and its packed weights in the kernels' wasm memory. Idempotent. */
  async dispose(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    droppedRunners.unregister(this);
    this.gone = 'this net was disposed';
    this.releaseHere();
    await Promise.all([runner?.terminate(), this.releaseCompanions()]);
  }

  /** Releases the companions (their sessions' memory): the net's weights are gone from this thread. */
  private releaseCompanions(): Promise<unknown> {
    const all = [...this.companions];
    this.companions.clear();
    return Promise.all(all.map((c) => c.release()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** Gives the net to a worker thread: the weights go with it and this thread's copies (and wasm blocks) are freed. */
  private handOver(): NetRunner {
    const runner = new NetRunner(this.anyShapes, this.threads, this.kept);
    this.gone = 'this net runs in its worker thread since its first run (net.run): use run, or load the net again for forward, reshape, convert or verify';
    this.releaseHere();
    this.releaseCompanions().catch(() => undefined); // nothing can use them any more: a failed release loses nothing
    return runner;
  }

  /** Frees what this thread holds of the net: packed weights, weights, blobs (the graph keeps only its shapes). */
  private releaseHere(): void {
    // A weight tensor kept from net.params may view the kernels' wasm memory (fully connected weights live there
    // once): from now on it refuses to be read rather than read freed memory. The tensors are this net's own
    // (ownTensors): another net's over the same arrays stays readable, and a block it lists too stays
    // (releaseScope frees what no other net lists).
    for (const weights of this.paramMap.values()) for (const t of weights) refuseData(t, this.gone ?? 'this net was released');
    const engine = wasmEngine();
    engine?.releaseScope(this.owned);
    if (this.freesBlobs && engine) for (const a of new Set([...[...this.store.values()].map((t) => t.data), ...this.rooms.values(), ...this.slots])) engine.releaseArray(a);
    this.plan = undefined;
    this.slots = [];
    for (const l of this.anyShapes.layers) l.weights = [];
    this.fusions.clear();
    this.fusedMembers.clear();
    this.stale.clear();
    this.paramMap.clear();
    this.blobMap.clear();
    this.store.clear();
    this.layerBlobs.clear();
    this.chainBlobs.clear();
    this.rooms.clear();
  }

  /** @internal Refuses a disposed net, or one handed to its worker, in one line (its message). */
  usable(): void {
    if (this.gone) throw new CremaError(this.gone);
  }

  /** Runs `fn` with this net's wasm blocks listed as its own (for dispose), the environment's settings read once. */
  private inScope<T>(fn: () => T): T {
    const engine = wasmEngine();
    if (!engine) return fn();
    const [outer, settings] = [engine.scope, engine.settings];
    engine.scope = this.owned;
    engine.settings = new Map();
    try {
      return fn();
    } finally {
      engine.scope = outer;
      engine.settings = settings;
    }
  }

  private inputShape(name: string): Shape {
    return this.graph.blobShapes.get(name)!; // a name among the inputs: run and forward refuse the others first
  }

  private forwardHere(inputs: Record<string, InputValue>, options: ForwardOptions): Record<string, Tensor> {
    const layers = this.graph.layers;
    const from = options.start === undefined ? 0 : this.layerIndex(options.start);
    const to = options.end === undefined ? layers.length - 1 : this.layerIndex(options.end);
    // Caffe's ForwardFromTo runs nothing then and pycaffe hands back the end's stale tops: say so instead.
    if (from > to) throw new CremaError(`forward: start '${options.start}' (layer ${from}) comes after end '${layers[to].name}' (layer ${to}): nothing would run`);
    this.setInputs(inputs);
    this.checkWeights(from, to);
    // A whole forward recomputes every chain; a partial one may rewrite a chain's sources without running the
    // chain, so the hidden blobs of the last forward are computed first, from the blobs they came from.
    if (from === 0 && to === layers.length - 1) this.stale.clear();
    else this.materializeAll();
    if (from === 0) this.plan?.startForward();
    this.useThreads();
    const pool = this.threads > 1 ? wasmEngine()?.pool : undefined;
    // A whole forward at several threads runs the way that was faster lately (ForwardJudge): in parallel, the
    // workers polling between its jobs, or alone.
    const judge = pool && from === 0 && to === layers.length - 1 ? this.forwardJudge : undefined;
    const key = judge ? this.forwardKey() : '';
    const way = judge?.choose(key) ?? 'parallel';
    if (pool) {
      // Alone: the first alone forward times every job alone for the pool's Judge; the later ones run as one thread.
      pool.alone = way === 'alone' && judge!.jobTrial && this.jobsInForwards;
      if (way === 'alone' && !pool.alone) wasmEngine()!.threads = 1;
      // A whole forward judged parallel runs every job in parallel unless jobsInForwards.
      pool.judging = !judge || this.jobsInForwards;
      // Not in a net's first forward: it packs weights in JavaScript between its jobs, during which polling
      // workers only take cores from it on a loaded machine (AlexNet's first forward 1.6x at load 6).
      pool.hold(way === 'parallel' && !judge?.cold);
    }
    const t0 = performance.now();
    try {
      this.runLayers(from, to, options.onLayer);
    } finally {
      if (pool) {
        pool.alone = false;
        pool.judging = true;
        pool.hold(false);
        this.useThreads();
      }
    }
    const ms = performance.now() - t0;
    judge?.record(key, way, ms);
    // A whole forward at one thread is what a forward judged alone at several threads runs (ForwardJudge.oneThread).
    if (this.threads === 1 && from === 0 && to === layers.length - 1 && wasmEngine()) this.forwardJudge?.oneThread(this.shapesKey(), ms);
    const out = nameRecord<Tensor>();
    for (const name of options.end === undefined ? this.outputs : layers[to].tops) out[name] = this.blobMap.get(name)!;
    return out;
  }

  /** Runs layers `from`..`to` (a fused chain inside its producer), telling `onLayer` each one's time. */
  private runLayers(from: number, to: number, onLayer: ForwardOptions['onLayer']): void {
    const layers = this.graph.layers;
    for (let i = from; i <= to; i++) {
      // A fused chain runs inside its producer, unless this forward starts or stops inside the chain.
      const fusion = this.fusions.get(i);
      const owner = fusion ? undefined : this.fusedMembers.get(i);
      if (owner && computedByProducer(owner, from, to)) continue;
      const impl = fusion ? producerFor(fusion, layers, to, (name) => this.store.get(name)!) : layers[i].impl;
      const top = fusion && fusion.last <= to ? fusion.top : undefined;
      const t0 = onLayer ? performance.now() : 0;
      if (impl.sizesTops) this.growTops(i);
      this.runLayer(layers[i], impl, top);
      if (impl.sizesTops) {
        this.afterSizing(i);
        this.allocateUnshaped(this.nextSizing(i));
      }
      if (top !== undefined && fusion!.hidden.length) this.stale.add(fusion!);
      onLayer?.(layers[i], performance.now() - t0);
    }
    // A forward that stops before the layers a sizing layer shaped: their blobs as the shapes say.
    this.allocateUnshaped(Infinity);
  }

  /** The next layer after `index` whose forward sizes its tops, or the last layer. */
  private nextSizing(index: number): number {
    const layers = this.graph.layers;
    let i = index + 1;
    while (i < layers.length - 1 && !layers[i].impl.sizesTops) i++;
    return i;
  }

  /**
   * Puts the weights into the kernels' layout now (the first forward then runs at the speed of the next ones);
   * fully connected weights move into wasm memory, and their loaded copies, garbage from then on, are collected
   * at once when they were large (one copy of the weights, not two).
   */
  private prepare(): void {
    const engine = wasmEngine();
    if (!engine) return;
    const before = engine.heap.used;
    const run: Layer[] = [];
    this.inScope(() => withFoldBuffers(() => {
      const layers = this.graph.layers;
      for (let i = 0; i < layers.length; i++) {
        const fusion = this.fusions.get(i);
        const impl = fusion ? fusedProducer(fusion, layers) : layers[i].impl;
        impl.prepare?.();
        run.push(impl);
        if (fusion) releaseFolded(fusion, layers);
      }
    }));
    if (engine.heap.used - before >= PREPARED_COLLECT_BYTES) collectGarbage();
    // The pages the first forward writes, written now: a page's first write costs 12 us or more on the team's VM,
    // and a first AlexNet forward took 1900-2900 page faults (its blobs, the scratch) and 3-6x a steady one.
    // The engine's scratch is what the layers ask as they run (Winograd's bordered input and tiles, the other
    // kernels' small tables): until round eighteen 4x the largest blob, which held 4-35 MiB more than the zoo's
    // nets asked (VGG-16 49 MiB for 13.5, the MobileNets 12-18 for none).
    // Not the blobs a fused chain leaves hidden (MobileNet v2: 35 of its 70 MiB, ResNet-50 21 of 63): whole
    // forwards never write them, and their pages stay out of memory until someone reads one.
    for (const [name, t] of this.store) if (!this.hiddenBy.has(name)) t.data.fill(0);
    const threads = Math.max(1, this.threads), poolThreads = Math.max(threads, engine.pool.size + 1);
    let scratch = SCRATCH_TABLES_BYTES;
    for (const impl of run) scratch = Math.max(scratch, impl.scratchBytes?.(threads, poolThreads) ?? 0);
    engine.prefault(Math.min(scratch, PREFAULT_SCRATCH_BYTES));
  }

  /**
   * @internal Layers that need weights and got none cannot run: refuse rather than compute with placeholders. Only the
   * layers a forward runs (`from` to `to`, and of those `only`'s: an ONNX model's) are asked: pycaffe's
   * forward(end=...) runs with later layers unweighted.
   */
  checkWeights(from = 0, to = this.anyShapes.layers.length - 1, only?: ReadonlySet<number>): void {
    this.usable(); // a disposed net, or one handed to its worker, has no weights here
    const missing = this.anyShapes.layers.slice(from, to + 1).filter((l, i) => (!only || only.has(from + i)) && l.weights.length === 0 && (declaredWeights.get(l.def)?.length ?? 0) > 0);
    if (missing.length)
      throw new CremaError(`no weights for ${listSome(missing.map((l) => `'${l.name}' (${l.type})`))}: give the .caffemodel that goes with the net`);
  }

  private setInputs(inputs: Record<string, InputValue>): void {
    checkFeeds(inputs, 'forward');
    checkInputNames(Object.keys(inputs), this.inputs, 'forward');
    const reshapeTo = nameRecord<Shape>();
    const tensors = new Map<string, Tensor>();
    for (const [name, value] of Object.entries(inputs)) {
      const t = inputTensor(name, value, this.inputShape(name));
      if (!sameShape(t.dims, this.graph.blobShapes.get(name)!)) reshapeTo[name] = t.dims;
      tensors.set(name, t);
    }
    if (Object.keys(reshapeTo).length) this.reshape(reshapeTo);
    for (const [name, t] of tensors) this.store.get(name)!.data.set(t.data);
  }

  private currentInputShapes(): Record<string, Shape> {
    return Object.fromEntries(this.inputs.map((n) => [n, this.graph.blobShapes.get(n)!]));
  }

  /** Runs one layer over the stored blobs; `top` redirects a fused chain's single output to the chain's last blob. */
  private runLayer(l: GraphLayer, impl: Layer = l.impl, top?: string): void {
    if (l.type === 'Input') return;
    try {
      this.runLayerAsIs(l, impl, top);
    } catch (err) {
      // Blobs that do not fit the wasm memory fall back to JavaScript arrays; a kernel's own block (its scratch, packed
      // panels) has no such fallback: its refusal names the layer it stopped at.
      throw err instanceof MemoryFullError ? new LayerError(l.def, err.message) : err;
    }
  }

  private runLayerAsIs(l: GraphLayer, impl: Layer, top: string | undefined): void {
    const { bottoms, tops, aliased } = this.blobsOf(l, top);
    if (this.plan) this.planWrites(l, top);
    if (bottoms.some((b) => b.data.length === 0) && skipsEmpty(l, impl, bottoms, tops, top === undefined ? l.tops : [top])) return;
    if (impl.inPlace || !aliased) {
      impl.forward(bottoms, tops);
      return;
    }
    // A layer that cannot write over its input gets scratch tops, copied back: the blob keeps the last value written.
    const scratch = tops.map((t, i) => (aliased[i] ? Tensor.zeros(t.dims) : t));
    impl.forward(bottoms, scratch);
    scratch.forEach((s, i) => aliased[i] && tops[i].data.set(s.data));
  }

  /** A layer of the plan about to run: its bottoms still hold their values (else refused), its tops take their slots. */
  private planWrites(l: GraphLayer, top: string | undefined): void {
    const plan = this.plan!, released = l.bottoms.find((b) => !plan.readable(b));
    if (released !== undefined) throw releasedBlob(released, `forward: layer '${l.name}' reads a released blob: `);
    plan.wrote(top === undefined ? l.tops : [top]);
  }

  /**
   * Before a layer whose forward sizes its tops (Layer.sizesTops): each top of the most rows it can get (mostTops, else
   * its reshape's; the last forward may have left it smaller), in room kept for the blob (`room`).
   */
  private growTops(index: number): void {
    const l = this.graph.layers[index], most = l.impl.mostTops?.(l.bottomShapes) ?? l.impl.reshape(l.bottomShapes);
    l.tops.forEach((name, k) => {
      const t = this.store.get(name)!, length = sizeOf(most[k]);
      // The array allocate made, kept whole: the forward leaves a view of its start, which must not outlive it.
      if (!this.rooms.has(name) && t.size === length) this.rooms.set(name, t.data);
      t.dims = most[k];
      t.data = this.room(name, length);
    });
  }

  /**
   * After it: when a top's rows changed, the layers after it are shaped again and their blobs reallocated, in the
   * room each blob keeps for the most it held (no new arrays forward after forward as the rows go up and down).
   */
  private afterSizing(index: number): void {
    const l = this.graph.layers[index], tops = l.tops.map((name) => this.store.get(name)!), sized = tops.map((t) => [...t.dims]);
    if (l.tops.every((name, k) => sameShape(sized[k], this.graph.blobShapes.get(name)!))) return;
    tops.forEach((t, k) => {
      if (!(t.data instanceof Float32Array) || t.data.length !== sizeOf(sized[k]))
        throw new LayerError(l.def, `its forward gave top '${l.tops[k]}' the shape ${shapeString(sized[k])} and ${t.data instanceof Float32Array ? t.data.length : 'no'} values`);
    });
    reshapeAfter(this.graph, index, sized);
    this.unshapedFrom = Math.min(this.unshapedFrom, index + 1);
  }

  /**
   * Allocates, for the shapes a layer that sized its tops left, the blobs of the layers up to the next such layer
   * (`limit`, or all): the ones after it wait, as that layer will shape them again (an FPN cascade's twelve sizing
   * layers each resized every blob after them, and the first forward left gigabytes of superseded arrays).
   */
  private allocateUnshaped(limit: number): void {
    if (this.unshapedFrom === Infinity || this.unshapedFrom > limit) return;
    this.allocate(true, limit);
    this.unshapedFrom = limit < this.graph.layers.length - 1 ? limit + 1 : Infinity;
  }
  /** The first layer whose tops are not allocated for the current shapes (Infinity: none). */
  private unshapedFrom = Infinity;

  /**
   * `length` floats of the room kept for a blob whose size follows a layer's forward (see allocate), grown by half
   * again when it must grow (rows that rise stage by stage reallocate a few times, not at every stage).
   */
  private room(name: string, length: number): Float32Array {
    let full = this.rooms.get(name);
    if (!full || full.length < length) this.rooms.set(name, (full = blobData(Math.max(length, Math.ceil(1.5 * (full?.length ?? 0))))));
    return viewOf(full, 0, length);
  }

  /** The index of the first layer that writes `blob` (its Input layer's for an input). */
  private firstWriter(blob: string): number {
    if (!this.writers) {
      this.writers = new Map();
      this.graph.layers.forEach((l, i) => l.tops.forEach((t) => this.writers!.has(t) || this.writers!.set(t, i)));
    }
    return this.writers.get(blob) ?? 0;
  }
  private writers: Map<string, number> | undefined;
  /** Blob -> the array its data is the start of: kept (its block alive) while the blob's size follows a forward. */
  private readonly rooms = new Map<string, Float32Array>();

  /**
   * A layer's bottom and top tensors (`top`: a fused chain's single output), and which tops are bottoms too
   * (undefined: none), made once for the blobs `allocate` made (not three arrays a layer in every forward).
   */
  private blobsOf(l: GraphLayer, top: string | undefined): LayerBlobs {
    const cache = top === undefined ? this.layerBlobs : this.chainBlobs;
    let io = cache.get(l);
    if (io && (top === undefined || io.top === top)) return io;
    const bottoms = l.bottoms.map((b) => this.store.get(b)!);
    const tops = top === undefined ? l.tops.map((t) => this.store.get(t)!) : [this.store.get(top)!];
    const aliased = tops.map((t) => bottoms.includes(t));
    io = { bottoms, tops, aliased: aliased.includes(true) ? aliased : undefined, top };
    cache.set(l, io);
    return io;
  }
  /** blobsOf's answers, by layer: as the net defines it, and as the producer of a fused chain. */
  private readonly layerBlobs = new Map<GraphLayer, LayerBlobs>();
  private readonly chainBlobs = new Map<GraphLayer, LayerBlobs>();

  private layerIndex(name: string): number {
    if (typeof name !== 'string') throw new CremaError(`forward: start and end are layer names, got ${kindOf(name)}`);
    const i = this.graph.layers.findIndex((l) => l.name === name);
    if (i < 0) throw new CremaError(`no layer named '${name}' in the net`);
    return i;
  }

  /**
   * Computes the hidden blobs of a fusion the last forward ran fused: its producer and the chain's layers up to
   * the last hidden blob run as the original layers (the chain's final blob, already written, is left alone).
   */
  private materialize(f: Fusion): void {
    // Planned, a chain's hidden blobs are released (memory-plan.ts keeps the chain whose hidden blob is kept).
    if (!this.stale.delete(f) || this.plan?.has(f.hidden[0])) return;
    const layers = this.graph.layers, producer = layers[f.producer];
    unfuse(producer.impl);
    this.useThreads();
    this.inScope(() => {
      this.runLayer(producer);
      for (const m of chainMembers(f)) {
        if (!f.hidden.includes(layers[m].tops[0])) break;
        this.runLayer(layers[m]);
      }
    });
  }

  /** What a forward's way is judged by: its threads and input shapes (each shape runs its own jobs). */
  private forwardKey(): string {
    return `${this.threads} ${this.shapesKey()}`;
  }

  /** The input shapes, as forwardKey writes them after the thread count. */
  private shapesKey(): string {
    return this.inputs.map((n) => this.graph.blobShapes.get(n)!.join(',')).join(' ');
  }

  /** The kernels' jobs from now on use this net's thread count. */
  private useThreads(): void {
    const engine = wasmEngine();
    if (engine) engine.threads = this.threads;
  }

  private materializeAll(): void {
    for (const f of [...this.stale]) this.materialize(f);
  }

  /**
   * (Re)allocates every blob for the current shapes (checked by inferShapes); a blob keeps its buffer when its size
   * is unchanged. A Concat's bottoms are views of their slices of its top where that changes no value
   * (concat-views.ts), decided again at each reshape.
   */
  private allocate(sized = false, limit = Infinity): void {
    const shapes = this.graph.blobShapes;
    const slices = this.concatSlicesNow();
    if (!sized) this.unshapedFrom = Infinity;
    // Blobs first written after `limit` keep their arrays for now (allocateUnshaped), unless a Concat lays them out.
    const laidOut = new Set([...slices.keys(), ...[...slices.values()].map((v) => v.top), ...this.views]);
    const waits = (name: string) => limit < Infinity && this.store.has(name) && !laidOut.has(name) && this.firstWriter(name) > limit;
    const data = new Map<string, Float32Array>();
    const wasPlanned = this.plan;
    // Shaped again after a layer sized its tops, mid-forward: the plan stays, its slots holding values the layers
    // after it still read (the blobs it plans are none of the sized ones, so their shapes did not change).
    if (!sized) this.planSlots(slices);
    const dataOf = (name: string): Float32Array => {
      let d = data.get(name);
      if (d) return d;
      const length = sizeOf(shapes.get(name)!), slice = slices.get(name), old = this.store.get(name), slot = this.plan?.slotFor(name);
      if (slice) d = viewOf(dataOf(slice.top), slice.offset, slice.offset + length);
      else if (slot !== undefined) d = viewOf(this.slots[slot], 0, length);
      else if (old && old.size === length && !this.views.has(name) && !wasPlanned?.has(name)) d = old.data;
      else if (sized) {
        // Shaped again after a layer sized its tops: the blob's data starts its room, the largest it has had.
        if (!this.rooms.has(name) && old && !this.views.has(name)) this.rooms.set(name, old.data);
        d = this.room(name, length);
      } else {
        this.rooms.delete(name);
        d = blobData(length);
      }
      data.set(name, d);
      return d;
    };
    for (const [name, shape] of shapes) {
      if (waits(name)) continue;
      const t = new Tensor(shape, dataOf(name));
      this.store.set(name, t);
      this.blobMap.set(name, this.published(name, t));
    }
    this.views = new Set(slices.keys());
    this.layerBlobs.clear();
    this.chainBlobs.clear();
    for (const name of [...this.store.keys()])
      if (!this.graph.blobShapes.has(name)) {
        this.store.delete(name);
        this.blobMap.delete(name);
        this.rooms.delete(name);
      }
  }

  /**
   * The memory plan for the blobs `keepBlobs` does not keep (none for 'all'), and its slots: the last plan's freed
   * first (a planned blob's array is valid until the next reshape), so that the new ones, larger at a larger image,
   * may take their room in the wasm memory, which never shrinks.
   */
  private planSlots(slices: ReadonlyMap<string, ConcatSlice>): void {
    const engine = wasmEngine(), last = this.plan;
    for (const a of this.slots) engine?.releaseArray(a);
    this.plan = this.planFor(slices);
    // A blob planned now that had an array of its own (keepBlobs set after a forward, or after Net.load wrote every
    // blob's pages): that array freed too, for the slots to take.
    for (const [name, t] of this.store) if (this.plan?.has(name) && !last?.has(name)) engine?.releaseArray(t.data);
    this.slots = (this.plan?.lengths ?? []).map((length) => blobData(length));
  }

  /** The memory plan for the graph's present shapes and `keepBlobs` (undefined for 'all'). */
  private planFor(slices: ReadonlyMap<string, ConcatSlice>): MemoryPlan | undefined {
    const graph = this.graph, kept = this.kept;
    return kept === 'all' ? undefined : new MemoryPlan(graph.layers, graph.blobShapes, slices, this.fusions, new Set([...graph.inputs, ...graph.outputs, ...kept]));
  }

  /** The Concat bottoms laid out in their tops at the graph's present shapes (concat-views.ts; none with CREMA_CONCAT=copy). */
  private concatSlicesNow(): Map<string, ConcatSlice> {
    return platform().env('CREMA_CONCAT') === 'copy' ? new Map() : concatSlices(this.graph.layers, this.graph.blobShapes, this.fusions);
  }

  /**
   * @internal The bytes the blobs take at the graph's present shapes (crema segment's room check): every blob's, or
   * with a memory plan (keepBlobs) its slots' and the unplanned blobs' (a Concat's laid-out bottoms in its top).
   */
  blobBytes(): number {
    const shapes = this.graph.blobShapes;
    if (this.kept === 'all') return 4 * [...shapes.values()].reduce((sum, s) => sum + sizeOf(s), 0);
    const slices = this.concatSlicesNow(), plan = this.planFor(slices)!;
    let floats = plan.lengths.reduce((a, b) => a + b, 0);
    for (const [name, s] of shapes) if (!plan.has(name) && !slices.has(name)) floats += sizeOf(s);
    return 4 * floats;
  }

  /**
   * The tensor `blobs` shows for a stored one: the same object, or for a hidden blob (or a source a caller might
   * write into) one whose `data`, when read, first computes what the last forward left hidden; for a planned blob
   * one whose `data` refuses once its storage went to another blob.
   */
  private published(name: string, t: Tensor): Tensor {
    const hidden = this.hiddenBy.get(name), sources = this.sourceOf.get(name), plan = this.plan?.has(name) ? this.plan : undefined;
    if (!hidden && !sources && !plan) return t;
    const view = new Tensor(t.dims, t.data);
    Object.defineProperty(view, 'data', {
      enumerable: true,
      get: () => {
        if (plan && !plan.readable(name)) throw releasedBlob(name, 'net.blobs: ');
        if (hidden) this.materialize(hidden);
        for (const f of sources ?? []) this.materialize(f);
        return t.data;
      },
      set: (data: Float32Array) => void (t.data = data),
    });
    return view;
  }
}

/** A layer's tensors as runLayer passes them (see blobsOf). */
interface LayerBlobs {
  bottoms: Tensor[];
  tops: Tensor[];
  aliased: boolean[] | undefined;
  top: string | undefined;
}

/** The threads a net of these options will use (1 for a value the net will refuse). */
function threadsAsked(threads: number | undefined): number {
  try {
    return boundThreads(checkedThreads(threads) ?? defaultThreads());
  } catch {
    return 1;
  }
}

/** `options.threads` as asked (0, like the CLI's `--threads 0`: one per core), or a one-line refusal. */
function checkedThreads(threads: number | undefined): number | undefined {
  if (threads === undefined) return undefined;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 0)
    throw new CremaError(`options.threads: expected a whole number of threads, 1 or more (0: one per core), got ${typeof threads === 'number' ? threads : kindOf(threads)}`);
  return threads === 0 ? undefined : threads;
}

/**
 * A blob's storage: in the wasm kernels' memory when they run (its kernels then read and write it in place:
 * no copy in and out around every layer), else, or when that memory is full, a plain array.
 */
function blobData(length: number): Float32Array {
  return wasmEngine()?.residentArray(length) ?? new Float32Array(length);
}

/** keepBlobs as given: 'all', or names of the net's blobs (a one-line refusal of anything else). */
function checkedKeep(keep: unknown, shapes: ReadonlyMap<string, Shape>): KeepBlobs {
  if (keep === undefined || keep === 'all') return 'all';
  if (typeof keep === 'string') throw new CremaError(`keepBlobs: 'all' or an array of blob names, got '${keep}'`);
  checkNames(keep, 'keepBlobs');
  const names = keep as string[], unknown = names.find((n) => !shapes.has(n));
  if (unknown !== undefined) throw new CremaError(`keepBlobs: no blob named '${unknown}' in the net`);
  return [...names];
}

function isNetFiles(value: unknown): value is NetFiles {
  if (value === null || typeof value !== 'object' || isBytes(value) || value instanceof URL) return false;
  if (!('prototxt' in value)) throw new CremaError(`Net.load: expected a prototxt (path, bytes or text) or { prototxt, weights }, got ${kindOf(value)} without 'prototxt'`);
  checkOptionKeys(value, ['prototxt', 'weights'], 'Net.load({ prototxt, weights })');
  return true;
}

/**
 * The worker threads of nets dropped without dispose after net.run: ended when their net is collected (each holds a
 * whole net, in its own memory: a ResNet-50 loaded, run once and dropped in a loop added ~430 MB a net, for good).
 */
const droppedRunners = new FinalizationRegistry<NetRunner>((runner) => runner.retire());

/** Nets built in this thread: before the first, no net can have been dropped (a process's one load pays no collection). */
let netsBuilt = 0;

/**
 * runnersStarted() at reclaimDroppedNets' last collection: it collects only when a worker started since. Only a
 * collection tells a dropped net from one in use, and one took 25-35 ms at every load while any worker ran
 * (cifar10_full's Net.load is ~12 ms without it; a 10 MiB JavaScript heap, load 8 on 2 cores). A net loaded, run
 * and dropped starts a worker each time, so a loop of them is still collected at every load; a net dropped while
 * no worker has started since the last collection has its worker ended by a later one (V8's own, or the Net.load
 * after the next worker starts).
 */
let runnersCollected = 0;

/**
 * Frees what nets dropped without dispose hold before loading another: their finalizers free it, but only after a
 * garbage collection, which neither wasm memory pressure triggers (a 233 MB net loaded and dropped 17 times filled
 * the 4 GiB) nor a net worker's memory (droppedRunners). Their wasm blocks: freed by the load's first growth of the
 * memory, if it needs one (Heap.reclaimAtGrowth; a server holding one big net and loading small ones pays no
 * collection). Their workers: a full collection, then a turn of the event loop for the finalizers.
 */
async function reclaimDroppedNets(): Promise<void> {
  // Armed before the load's awaited reads: another net's growth meanwhile (a concurrent load, a forward) may take
  // the arm, but its reclaim frees the nets dropped before this load, which is what the arm is for; only a net
  // dropped in between keeps its blocks, to the next load's arm or a full memory's reclaim.
  if (netsBuilt) wasmEngineIfLoaded()?.heap.reclaimAtGrowth();
  const started = runnersStarted();
  if (runnersAlive() === 0 || started === runnersCollected) return;
  runnersCollected = started;
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The net's own tensor objects over the caller's weight arrays (one for each tensor given: a tensor two layers share
 * stays one). The net points its own at the kernels' memory (moveWeights) and makes them refuse reads once it is
 * released; the caller's tensors are never changed, so one weights map builds any number of nets, before or after
 * others are disposed. Arrays already in the kernels' memory (another net's params) are shared, not copied: each
 * net lists their blocks (adoptWeights) and the last one released frees them.
 */
function ownTensors(weights: Map<string, Tensor[]>): Map<string, Tensor[]> {
  const own = new Map<Tensor, Tensor>();
  const of = (t: Tensor): Tensor => {
    let o = own.get(t);
    if (!o) {
      own.set(t, (o = new Tensor([...t.dims], t.data)));
      if (viewedShares.has(t)) viewedShares.add(o);
    }
    return o;
  };
  return new Map([...weights].map(([name, ts]) => [name, ts.map(of)]));
}

/** The tensors over an array that several layers' weights hold (params shared by name): each layer reads it as it is. */
function holdShared(params: Map<string, Tensor[]>): void {
  const layers = new Map<Float32Array, number>();
  for (const ts of params.values()) for (const a of new Set(ts.map((t) => t.data))) layers.set(a, (layers.get(a) ?? 0) + 1);
  for (const ts of params.values()) for (const t of ts) if (layers.get(t.data)! > 1) heldTensors.add(t);
}

/** From now on `t.data` (and `t.size`) throws a CremaError saying why (a disposed net's weights). */
function refuseData(t: Tensor, why: string): void {
  const message = `net.params: ${why}; its weights were freed (copy one out before: Float32Array.from(t.data))`;
  Object.defineProperty(t, 'data', { get: () => { throw new CremaError(message); }, configurable: true });
}

/**
 * A layer's (or the net's size bound's) refusal of input shapes asked (net.reshape, or inputs fed at another shape:
 * forward, run, the CLI's --input) says which input made it: "input 'data' given as [1, 3, 32] (the net's
 * [1, 3, 32, 32]): layer 'conv1' ..."; a LeNet fed CIFAR-10's [1, 3, 32, 32] was told only that conv1's weights do
 * not fit.
 */
function atShapes(err: unknown, asked: Record<string, Shape>, before: Record<string, Shape>): unknown {
  const other = Object.entries(asked).filter(([name, shape]) => before[name] && !sameShape(shape, before[name]));
  // A layer's refusal, or the net's (its blobs beyond 16 GiB); not one that names its input already ("input 'x': ...").
  const named = !(err instanceof LayerError) && err instanceof CremaError && /^(input )?'/.test(err.message);
  if (!(err instanceof CremaError) || named || other.length === 0) return err;
  err.message = `${other.map(([name, shape]) => `input '${name}' given as ${shapeString(shape)} (the net's ${shapeString(before[name])})`).join(', ')}: ${err.message}`;
  return err;
}

/**
 * A layer whose weights from the file do not fit it, at the prototxt's own input size, has most likely been given
 * another net's weights (the wrong .caffemodel beside the prototxt): the message names the file, which it did not.
 */
function withWeightsFile(err: unknown, weightsFile: string | undefined, ownSize: boolean): unknown {
  if (err instanceof LayerError && weightsFile !== undefined && ownSize && /\(blob \d+\) has shape .* but the layer needs /.test(err.message))
    err.message += ` (weights from ${weightsFile}: another net's?)`;
  return err;
}

/**
 * Called for a layer with an empty bottom (0 items: a Filter that selected none, as Caffe gives): true when its tops
 * are empty too, so there is nothing to compute and it is not run (no kernel meets an empty blob); false when it runs
 * as Caffe does, its empty bottoms all ones it takes (Layer.takesEmpty: Crop's reference, PriorBox's, Concat's);
 * otherwise (ROIPooling of empty features) refused in one line rather than handed to kernels never run on empty blobs.
 */
function skipsEmpty(l: GraphLayer, impl: Layer, bottoms: readonly Tensor[], tops: readonly Tensor[], topNames: readonly string[]): boolean {
  const full = tops.findIndex((t) => t.data.length > 0), empty = bottoms.findIndex((b, i) => b.data.length === 0 && !impl.takesEmpty?.(i));
  if (full < 0) return true;
  if (empty < 0) return false;
  throw new LayerError(l.def, `bottom '${l.bottoms[empty]}' is empty (${shapeString(bottoms[empty].dims)}) but top '${topNames[full]}' would not be (${shapeString(tops[full].dims)}): crema runs a layer on an empty blob only when its tops are empty too`);
}
