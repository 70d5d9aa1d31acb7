// The engine worker: crema's core running off the page's main thread (a forward takes as long as it takes, and the
// kernels' threads wait on Atomics.wait, which a page's main thread may not call). It compiles the kernels by URL
// (beside this script), then answers the requests of src/browser/index.ts in order, one at a time.
import '../platform/browser.js';
import { NativeLayerTimer } from '../bench/native.js';
import { formatFloat32, formatPrototxt } from '../caffe/prototxt.js';
import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { colorizeImage, isColorizer } from '../detect/colorize.js';
import { type MtcnnNets, facesInImage } from '../detect/mtcnn.js';
import { type Forward, onnxForwardEach, onnxForwardOf } from '../detect/forward.js';
import { modelOf, posesInImage } from '../detect/openpose.js';
import { denseKind, edgesDialectOf, edgesInImage, segmentImage } from '../detect/dense.js';
import { FLOW_BLOB, flowColors, flowInputs, isTemplate } from '../detect/flow.js';
import { type FlowForward, FlowNets, checkFlowNet, flowOfCheckedNet, onnxFlowForward } from '../detect/flow-net.js';
import { type Detection, type DetectOptions, detectImage, detectOnnx, detectorKind } from '../detect/detect.js';
import { netToDot } from '../graph/dot.js';
import { summarize } from '../graph/summary.js';
import { canShareMemory, preloadKernels, setH5wasmUrl, setOnnxRuntimeUrl } from '../platform/browser.js';
import type { LrnParams } from '../layers/lrn.js';
import { unkeptError, unkeptFetch } from '../runtime/memory-plan.js';
import { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { bytesLabel, namingTemplate } from '../util/source.js';
import { wholeBuffers } from '../util/spare.js';
import { wasmEngineIfLoaded } from '../kernels/wasm.js';
import type { OnnxSessions, RunOnnxOptions } from '../onnx/run.js';
import type { BrowserVerifyReport, EngineMemory, EngineReady, EngineStats, FlowResult, LayerTiming, NetInfo, Reply, Request, TensorData } from './protocol.js';

interface WorkerScope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request & { id: number }>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

const nets = new Map<number, Net>();
let nextId = 1;
/** Per net: its last forward's time (ms) and its forward judge's ways since the last 'stats' (see EngineStats). */
const counts = new Map<number, { forwardMs: number; parallel: number; alone: number }>();
/** The pool's counters at the last 'stats'. */
let seen = { wakeups: 0, cut: 0, waitedMs: 0 };

/** Counts the ways `net`'s forward judge chooses, for 'stats'. */
function counting(id: number, net: Net): void {
  const c = { forwardMs: NaN, parallel: 0, alone: 0 };
  counts.set(id, c);
  const judge = net.forwardJudge;
  if (!judge) return;
  const choose = judge.choose.bind(judge);
  judge.choose = (key) => {
    const way = choose(key);
    c[way]++;
    return way;
  };
}

function stats(id: number): EngineStats {
  netOf(id);
  const c = counts.get(id)!, pool = wasmEngineIfLoaded()?.pool;
  const now = { wakeups: pool?.wakeups ?? 0, cut: pool?.cut ?? 0, waitedMs: pool?.waitedMs ?? 0 };
  const out = { forwardMs: c.forwardMs, ways: 'P'.repeat(c.parallel) + 'A'.repeat(c.alone), wakeups: now.wakeups - seen.wakeups, cut: now.cut - seen.cut, waitedMs: now.waitedMs - seen.waitedMs };
  seen = now;
  c.parallel = c.alone = 0;
  return out;
}

function netOf(id: number): Net {
  const net = nets.get(id);
  if (!net) throw new CremaError(unfilled.get(id) ?? `no net ${id} in this engine (disposed?)`);
  return net;
}

/** lrn_param with Caffe's defaults, its floats as written (5e-05, not the float32's 4.99999987e-05 as a double). */
function lrnParams(def: LayerParameter): LrnParams {
  const p = paramsOf<LrnParams>(def, 'lrn_param');
  const f = (x: number) => Number(formatFloat32(x));
  return { ...p, alpha: f(p.alpha), beta: f(p.beta), k: f(p.k) };
}

function infoOf(id: number, net: Net): NetInfo {
  const { blobs, layers } = summarize(net.graph);
  return {
    id,
    name: net.name,
    inputs: net.inputs,
    outputs: net.outputs,
    blobs,
    layers: layers.map((l, i) => {
      const def = net.layers[i].def;
      const text = formatPrototxt({ ...def, blobs: undefined }, 'LayerParameter');
      return { ...l, text, lrn: l.type === 'LRN' ? lrnParams(def) : undefined };
    }),
    notes: net.notes,
    upgrades: net.upgrades,
    dot: netToDot({ name: net.name, layer: net.layers.map((l) => l.def) }, 'TB'),
    detector: detectorKind(net),
    colorizer: isColorizer(net),
    pose: poseModelOf(net),
    dense: denseKind(net),
    flow: flowTemplates.has(id) ? 'template' : isFlowNet(net) ? 'net' : undefined,
  };
}

/** Whether Net.flow runs the net: FlowNet's deploy net, two image inputs and predict_flow_final (checkFlowNet's shape). */
function isFlowNet(net: Net): boolean {
  const out = net.shapes.get(FLOW_BLOB);
  return net.inputs.length === 2 && out?.length === 4 && out[1] === 2;
}

/** Per net loaded from a FlowNet template: the template and weights kept, the net filled again for each new image size. */
const flowTemplates = new Map<number, FlowNets>();

/** The size a template is filled for when it loads, to show the net (Net.flow fills it again for its images' size). */
const TEMPLATE_SHOWN = 64;

/** Per net whose template failed to fill again: why it has no net (netOf's error) until a fill succeeds. */
const unfilled = new Map<number, string>();

/**
 * The template's net filled for width x height, the id following it (FlowNets released the last size's) and its
 * forward judge counted as a load's. A fill that fails leaves the id no net, the last size's being released already:
 * the calls on it say so (netOf) rather than reach a disposed net, and the next Net.flow fills it again.
 */
async function refilled(id: number, templates: FlowNets, width: number, height: number): Promise<Net> {
  try {
    const net = await templates.netFor(width, height);
    if (nets.get(id) !== net) {
      nets.set(id, net);
      counting(id, net);
      unfilled.delete(id);
    }
    return net;
  } catch (err) {
    nets.delete(id);
    const why = err instanceof Error ? err.message : String(err);
    unfilled.set(id, `${templates.label} has no net: filling it for ${width} x ${height} images failed (${why}); Net.flow with images of a size it fills loads it again`);
    throw err;
  }
}

/** Net.flow: the flow of two images as run-flownet.py computes it (flow.ts), and its picture. */
async function flow(req: Extract<Request, { op: 'flow' }>): Promise<[FlowResult, Transferable[]]> {
  // The net first: a call on a disposed id is netOf's one line, whatever its images (it read them first: a TypeError).
  const templates = flowTemplates.get(req.net), before = templates ? nets.get(req.net) : netOf(req.net);
  const [a, b] = req.images;
  const inputs = flowInputs(a, b, ['img0', 'img1']);
  const net = templates ? await refilled(req.net, templates, a.width, a.height) : before!;
  const label = templates?.label ?? `net '${net.name || 'net'}'`;
  checkFlowNet(net, a.height, a.width, label);
  let run: FlowForward | undefined;
  if (req.options.backend === 'onnx') {
    // its own sessions at the net's size, as the Node library's flow (a FlowNet converts at a fixed size)
    run = onnxFlowForward(await sessionsOf(req.net, net, req.ort, {}));
  }
  const f = await flowOfCheckedNet(net, [inputs.img0, inputs.img1], run); // checked above, before any session opens
  const colors = flowColors(f);
  const info = net === before ? undefined : infoOf(req.net, net);
  return [{ ...f, colors, info }, [f.data.buffer, colors.buffer]];
}

/** A load of a FlowNet template: filled for TEMPLATE_SHOWN (the net shown), kept to fill again for Net.flow's images. */
async function loadTemplate(req: Extract<Request, { op: 'load' }>, id: number, load: (prototxt: Uint8Array) => Promise<Net>): Promise<Net> {
  const given = typeof req.prototxt === 'string' ? new TextEncoder().encode(req.prototxt) : req.prototxt;
  const label = req.names?.prototxt ?? 'prototxt';
  const filled = (prototxt: Uint8Array) => load(prototxt).catch((err: unknown) => { throw namingTemplate(err, prototxt, label); });
  const templates = new FlowNets(given, label, filled, async (old) => {
    // the ONNX sessions of the size replaced go with it
    if (nets.get(id) === old) {
      await onnxSessions.get(id)?.release();
      onnxSessions.delete(id);
    }
  });
  const net = await templates.netFor(TEMPLATE_SHOWN, TEMPLATE_SHOWN);
  flowTemplates.set(id, templates);
  net.notes.unshift(`${templates.label}: a FlowNet 2.0 deploy template, shown filled for ${TEMPLATE_SHOWN} x ${TEMPLATE_SHOWN} images; Net.flow fills it again for its images' size, as run-flownet.py fills it`);
  return net;
}

const tensors = (feeds: Record<string, TensorData>) =>
  Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new Tensor(t.dims, t.data)]));

/** A copy of each blob asked for (the net's own buffers are overwritten by the next forward). */
function copies(blobs: ReadonlyMap<string, Tensor>, names: string[]): [Record<string, TensorData>, Transferable[]] {
  const out: Record<string, TensorData> = {};
  for (const name of names) {
    const blob = blobs.get(name);
    if (!blob) throw new Error(`no blob '${name}' in the net`);
    out[name] = { dims: [...blob.dims], data: blob.data.slice() };
  }
  return [out, Object.values(out).map((t) => t.data.buffer as ArrayBuffer)];
}

/** The net converted to ONNX and run once in onnxruntime-web (loaded on first use, from `ort` when given). */
async function forwardOrt(net: Net, feeds: Record<string, TensorData>, ort: string | undefined, blobs: 'all' | 'outputs') {
  setOnnxRuntimeUrl(ort);
  const { forwardOnnx } = await import('../onnx/run.js');
  return forwardOnnx(net, tensors(feeds), { blobs });
}

/** Per net, its onnxruntime-web session for `run(feeds, { backend: 'onnx' })`: converted once while the shapes and fetches hold. */
const onnxSessions = new Map<number, OnnxSessions>();

async function sessionsOf(id: number, net: Net, ort: string | undefined, options: RunOnnxOptions = { anyBatch: true, anySize: true }): Promise<OnnxSessions> {
  setOnnxRuntimeUrl(ort);
  let sessions = onnxSessions.get(id);
  if (!sessions) {
    const { OnnxSessions } = await import('../onnx/run.js');
    onnxSessions.set(id, (sessions = new OnnxSessions(net, options)));
  }
  return sessions;
}

/** A Forward through each of these nets' own sessions (MTCNN's nets; OpenPose's body, hand and face nets). */
async function onnxEach(ids: number[], ort: string | undefined): Promise<Forward> {
  return onnxForwardEach(new Map(await Promise.all(ids.map(async (id) => [netOf(id), await sessionsOf(id, netOf(id), ort)] as const))));
}

/** The OpenPose model a net is, or undefined for a net that is not OpenPose's. */
function poseModelOf(net: Net) {
  try {
    return modelOf(net);
  } catch {
    return undefined;
  }
}

/** Verify as the CLI's: crema's engine and onnxruntime-web on the same inputs, every blob compared. */
async function verify(net: Net, req: Extract<Request, { op: 'verify' }>): Promise<BrowserVerifyReport> {
  const tolerance = req.tolerance ?? 1e-4;
  if (!(tolerance > 0)) throw new CremaError(`tolerance must be a positive number, got ${tolerance}`);
  const { compareBlobs, fromFreshState, refuseSampledLayers, withEveryBlob } = await import('../verify/blobs.js');
  refuseSampledLayers(net);
  const onnx = (await forwardOrt(net, req.feeds, req.ort, 'all')).blobs;
  return withEveryBlob(net, () => fromFreshState(net, async () => {
    net.forward(tensors(req.feeds));
    const compared = compareBlobs(net, onnx, undefined, tolerance);
    return { pass: compared.failed.length === 0, tolerance, ...compared };
  }));
}

/** Net.detect: the detections of detect.ts (the Node library's and the CLI's), by crema's engine or onnxruntime-web. */
async function detect(net: Net, req: Extract<Request, { op: 'detect' }>): Promise<Detection[]> {
  const options = withMeanTensor(req.options);
  if (options.backend !== 'onnx') return detectImage(net, req.image, options);
  return detectOnnx(await sessionsOf(req.net, net, req.ort), net, req.image, options);
}

/** The options as sent: a mean image's Tensor arrived as a plain object of its fields (a message keeps no class). */
function withMeanTensor(options: DetectOptions): DetectOptions {
  const mean = options.mean;
  if (!mean || !('image' in mean) || mean.image instanceof Tensor) return options;
  const plain = mean.image as { dims: number[]; data: Float32Array };
  return { ...options, mean: { image: new Tensor(plain.dims, plain.data) } };
}

/** A forward's input buffers, given back to the page to copy its next inputs into (Engine's `spare`). */
function spareOf(feeds: Record<string, TensorData>): ArrayBuffer[] {
  return wholeBuffers(Object.values(feeds).map((t) => t.data));
}

async function handle(req: Request): Promise<[unknown, Transferable[], ArrayBuffer[]?]> {
  switch (req.op) {
    case 'load': {
      const warnings: string[] = [];
      setH5wasmUrl(req.h5wasm);
      // edgesDialect: HED's Crops in the hed dialect, as crema edges reads them, for a net edges runs (decided in this load)
      const dialectOf = req.edgesDialect ? edgesDialectOf(undefined, true) : undefined;
      const options = { threads: req.threads, dialect: req.dialect, lenient: req.lenient, dataShapes: req.dataShapes, frcnnConfig: req.frcnnConfig, keepBlobs: req.keepBlobs, warn: (m: string) => warnings.push(namedIn(m, req)) };
      // its blobs freed by dispose: the page gets copies of them (copies), never the blobs
      const load = (prototxt: Uint8Array | string) => Net.open(prototxt, req.weights, options, { prepare: true, dialectOf }).then((net) => Object.assign(net, { freesBlobs: true }));
      const id = nextId++;
      const text = typeof req.prototxt === 'string' ? req.prototxt : new TextDecoder().decode(req.prototxt);
      const net = await (isTemplate(text) ? loadTemplate(req, id, load) : load(req.prototxt)).catch((err: unknown) => {
        throw namingFiles(err, req);
      });
      nets.set(id, net);
      counting(id, net);
      return [{ ...infoOf(id, net), warnings }, []];
    }
    case 'run': {
      const net = netOf(req.net);
      const names = req.fetches ?? net.outputs;
      // A blob the net's memory plan does not keep, refused in the browser's words: keepBlobs is a Net.load option here.
      const unkept = unkeptFetch(req.fetches, net.inputs, net.outputs, net.keepBlobs);
      if (unkept !== undefined && req.backend !== 'onnx') throw unkeptError(unkept, "the net's keepBlobs", `load the net with '${unkept}' in Net.load's keepBlobs, or with keepBlobs 'all', to fetch it`);
      if (req.backend === 'onnx') return copies(await sessionsOf(req.net, net, req.ort).then((s) => s.run(tensors(req.feeds), names)), names);
      const feeds = tensors(req.feeds), t0 = performance.now();
      net.forward(feeds);
      counts.get(req.net)!.forwardMs = performance.now() - t0;
      const [result, transfer] = copies(net.blobs, names);
      // The net copied the inputs into its own memory: their buffers go back to the page, to be filled again.
      return [result, transfer, spareOf(req.feeds)];
    }
    case 'detect':
      return [await detect(netOf(req.net), req), []];
    case 'faces': {
      const ids = Object.entries(req.nets), { backend, ...options } = req.options;
      const nets = Object.fromEntries(ids.map(([role, id]) => [role, netOf(id)])) as unknown as MtcnnNets;
      // 'onnx': each net's own sessions (P-Net's converted again for each scale of the pyramid)
      const run = backend === 'onnx' ? await onnxEach(ids.map(([, id]) => id), req.ort) : undefined;
      return [await facesInImage(nets, req.image, options, run), []];
    }
    case 'pose': {
      const { backend, ...options } = req.options, ids = [req.net, ...Object.values(req.parts)];
      const parts = Object.fromEntries(Object.entries(req.parts).map(([kind, id]) => [kind, netOf(id)]));
      // 'onnx': each net (body, hand, face) through its own sessions, as 'faces' runs MTCNN's
      const run = backend === 'onnx' ? await onnxEach(ids, req.ort) : undefined;
      return [await posesInImage(netOf(req.net), req.image, { ...options, ...parts }, run), []];
    }
    case 'segment':
    case 'edges': {
      const net = netOf(req.net), { backend, ...options } = req.options;
      const run = backend === 'onnx' ? onnxForwardOf(await sessionsOf(req.net, net, req.ort)) : undefined;
      const got = req.op === 'segment' ? await segmentImage(net, req.image, options, run) : await edgesInImage(net, req.image, options, run);
      return [got, ['labels' in got ? got.labels.buffer : got.data.buffer]];
    }
    case 'flow':
      return flow(req);
    case 'colorize': {
      const net = netOf(req.net);
      const data = await colorizeImage(net, req.image, req.options.backend === 'onnx' ? onnxForwardOf(await sessionsOf(req.net, net, req.ort)) : undefined);
      return [{ width: req.image.width, height: req.image.height, data }, [data.buffer]];
    }
    case 'verify':
      return [await verify(netOf(req.net), req), []];
    case 'time': {
      const timer = new NativeLayerTimer(netOf(req.net), tensors(req.feeds));
      timer.run(); // warm-up
      timer.reset();
      const totals: number[] = [];
      for (let i = 0; i < req.iterations; i++) totals.push(timer.run());
      const layers: LayerTiming[] = timer.layerTimes();
      return [{ layers, total_ms: totals.sort((a, b) => a - b)[Math.floor(totals.length / 2)] }, []];
    }
    case 'convert': {
      // The ONNX writer (and its schema) loads on first use: the engine alone stays small.
      const [{ encodeConversion }, { convertFree, graphReshaper }] = await Promise.all([import('../onnx/convert.js'), import('../onnx/batch.js')]);
      const { graph } = netOf(req.net);
      const { conversion } = convertFree(graph, graphReshaper(graph), { opset: req.opset, outputs: req.outputs, anySize: req.anySize }, req.anyBatch ? 'any' : 'fixed');
      const bytes = encodeConversion(conversion);
      return [bytes, [bytes.buffer as ArrayBuffer]];
    }
    case 'stats':
      return [stats(req.net), []];
    case 'dispose':
      return [await dispose(req.net), []];
    case 'memory':
      return [memory(), []];
  }
}

/**
 * Releases all the engine keeps for `id` now: the net's (or its template's current net's) weights and wasm blocks,
 * its ONNX sessions, the template's bytes, its counts. Not the collector's: a page cannot ask for a collection, and
 * wasm memory filling up never triggers one. An id released already (or never loaded) is netOf's one line.
 */
async function dispose(id: number): Promise<true> {
  const templates = flowTemplates.get(id), net = nets.get(id), sessions = onnxSessions.get(id);
  if (!templates && !net) netOf(id);
  // forgotten first: the template's onReplace then leaves the sessions, released here once
  for (const kept of [nets, counts, flowTemplates, unfilled, onnxSessions]) kept.delete(id);
  await sessions?.release();
  await (templates ?? net)!.dispose();
  return true;
}

/** @internal What the engine holds (see EngineMemory). */
function memory(): EngineMemory {
  const ids = new Set([nets, counts, flowTemplates, unfilled, onnxSessions].flatMap((kept) => [...kept.keys()]));
  return { ids: ids.size, heapBytes: wasmEngineIfLoaded()?.heap.used ?? 0 };
}

/** An error about the bytes given, naming the files they came from, as the CLI names its paths. */
function namingFiles(err: unknown, req: Extract<Request, { op: 'load' }>): unknown {
  if (err instanceof Error) err.message = namedIn(err.message, req);
  return err;
}

/** A load's message with its bytes ("prototxt (Uint8Array, 2 kB)") called by the files' names, where the page gave them. */
function namedIn(message: string, req: Extract<Request, { op: 'load' }>): string {
  for (const role of ['prototxt', 'weights'] as const) {
    const bytes = req[role], name = req.names?.[role];
    if (name && bytes instanceof Uint8Array) message = message.replaceAll(bytesLabel(role, bytes), name);
  }
  return message;
}

function errorOf(err: unknown): { name: string; message: string; code?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, code: (err as { code?: string }).code };
  return { name: 'Error', message: String(err) };
}

// The kernels first (a net loaded before them would run on the TypeScript kernels), then the requests one after
// another: a load that awaits must not let a forward in between.
const preloaded = preloadKernels(new URL('./', import.meta.url));
let queue: Promise<unknown> = preloaded.catch(() => undefined);

scope.onmessage = (e) => {
  const { id, ...req } = e.data;
  queue = queue.then(async () => {
    try {
      const [result, transfer, spare] = await handle(req as Request);
      scope.postMessage(spare?.length ? { id, ok: true, result, spare } : { id, ok: true, result }, spare?.length ? [...transfer, ...spare] : transfer);
    } catch (err) {
      scope.postMessage({ id, ok: false, error: errorOf(err) });
    }
  });
};

preloaded.then(
  (kernels) => {
    const isolated = canShareMemory();
    const ready: EngineReady = { kernels, threads: isolated ? (navigator.hardwareConcurrency ?? 1) : 1, isolated };
    scope.postMessage({ ready });
  },
  (err) => scope.postMessage({ failed: errorOf(err).message }),
);
