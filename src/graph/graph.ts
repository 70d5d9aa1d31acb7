import type { LayerParameter, NetParameter } from '../caffe/types.js';
import type { Dialect } from '../caffe/dialects.js';
import type { Layer, NetContext } from '../layers/layer.js';
import { LayerError, declaredWeights, filledWeights, needSaneShape } from '../layers/layer.js';
import { sizedOtherwiseInYolo } from '../layers/pooling.js';
import { densifiedInFaceBoxes } from '../layers/prior_box.js';
import { layerTypeOf } from '../layers/registry.js';
import { type Shape, Tensor, sameShape, shapeString, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { MAX_BLOB_AXES } from '../caffe/caffemodel.js';
import { sameFileKey } from '../layers/hdf5_output.js';
import { listSome, own } from '../util/names.js';
import { checkInputNames, didYouMean } from '../util/options.js';

/** One layer of the net: its V2 definition, its instance, its blobs by name and its weights. */
export interface GraphLayer {
  name: string;
  type: string;
  def: LayerParameter;
  /** @internal The layer's implementation. */
  impl: Layer;
  bottoms: string[];
  tops: string[];
  /** The layer's blobs from the weights file, in the shapes the layer holds them once built (a legacy 4-D blob takes its layer's, as in Caffe); [] when it has none. */
  weights: Tensor[];
  bottomShapes: Shape[];
  topShapes: Shape[];
}

/** A net as a list of layers over named blobs, in Caffe's order, with shapes inferred. */
export interface Graph {
  name: string;
  /** @internal The prototxt's path when the net was loaded from one: messages about the whole net name it. */
  file?: string;
  layers: GraphLayer[];
  /** Input blobs (tops of Input layers), in net order. */
  inputs: string[];
  /** Blobs no later layer reads (Caffe's net outputs), in net order. */
  outputs: string[];
  /** Every blob's shape, in the order the blobs first appear. */
  blobShapes: Map<string, Shape>;
  /** The Caffe fork the net was loaded as, where it changes a BVLC layer (LoadOptions.dialect). */
  dialect?: Dialect;
  /** LoadOptions.frcnnConfig, for FrcnnProposal's ONNX form. */
  frcnnConfig?: string;
  /**
   * @internal The input shapes its Net's buffers (and its layers' per-shape state) are for, while the shapes are
   * another size's (shapeAway: an ONNX conversion at that size); undefined when they are the Net's own.
   */
  ownShapes?: Record<string, Shape>;
}

/** Refuse nets whose blobs together hold more than this (2^32 floats = 16 GiB): every blob is kept, as in Caffe. */
const MAX_NET_ELEMENTS = 2 ** 32;

/** Tops (or bottoms) of one layer: real nets have a few dozen; a Slice of 10^6 tops is a denial of service. */
const MAX_LAYER_BLOBS = 65536;

/**
 * Builds the graph of an upgraded, phase-filtered V2 net: checks the wiring (every bottom produced earlier,
 * no top written twice unless in place), creates each layer, attaches weights by layer name and infers shapes.
 */
export function buildGraph(net: NetParameter, weights: Map<string, Tensor[]> = new Map(), context: NetContext = {}): Graph {
  const produced = new Set<string>();
  const layers: GraphLayer[] = [];
  // Caffe 1.0 allows repeated layer names (HED's four 'crop's, unnamed layers); it copies a caffemodel's
  // weights into the first layer of a name only (Net::CopyTrainedLayersFrom), and so does crema.
  const firstOfName = new Map<string, number>();
  const producers = new Map<string, LayerParameter>();
  for (const def of net.layer ?? []) {
    const bottoms = def.bottom ?? [], tops = def.top ?? [];
    if (Math.max(tops.length, bottoms.length) > MAX_LAYER_BLOBS)
      throw new LayerError(def, `has ${tops.length.toLocaleString('en-US')} tops and ${bottoms.length.toLocaleString('en-US')} bottoms; crema allows at most ${MAX_LAYER_BLOBS.toLocaleString('en-US')} of each`);
    const name = def.name ?? ''; // Caffe's default: unnamed layers are all named ''
    const first = !firstOfName.has(name);
    if (first) firstOfName.set(name, layers.length);
    for (const b of bottoms)
      if (!produced.has(b)) throw new LayerError(def, `bottom '${b}' is not produced by any earlier layer${didYouMean(b, produced)}`);
    const own = new Set<string>();
    tops.forEach((t, k) => {
      if (bottoms[k] !== t && own.has(t)) throw new LayerError(def, `top '${t}' is given twice (Caffe: "Top blob '${t}' produced by multiple sources.")`);
      own.add(t);
      if (!produced.has(t) || bottoms[k] === t) return;
      if (!bottoms.includes(t)) throw new LayerError(def, `top '${t}' is already produced by an earlier layer and this layer is not in place on it`);
      // Caffe (Net::AppendTop) works in place only when top k is bottom k; otherwise it refuses the net.
      throw new LayerError(def, `top[${k}] '${t}' is bottom[${bottoms.indexOf(t)}], not bottom[${k}]: Caffe works in place only when top k is bottom k`);
    });
    const type = layerTypeOf(def);
    const w = (first && weights.get(name)) || [];
    const impl = type.create(def, w, { ...context, producers });
    tops.forEach((t) => {
      produced.add(t);
      if (!producers.has(t)) producers.set(t, def);
    });
    layers.push({ name, type: def.type, def, impl, bottoms, tops, weights: w, bottomShapes: [], topShapes: [] });
  }
  const graph: Graph = { name: net.name ?? '', layers, inputs: [], outputs: [], blobShapes: new Map(), ...(context.dialect ? { dialect: context.dialect } : {}), ...(context.frcnnConfig !== undefined ? { frcnnConfig: context.frcnnConfig } : {}) };
  graph.inputs = layers.filter((l) => l.type === 'Input').flatMap((l) => l.tops);
  graph.outputs = netOutputs(layers);
  inferShapes(graph);
  refuseShadowedWeights(layers, firstOfName, weights);
  refuseSharedFiles(layers);
  keepFilledWeights(layers);
  return graph;
}

/**
 * Two layers writing one file (HDF5Output's file_name): Caffe's second opens it with H5F_ACC_TRUNC while the first
 * holds it open, HDF5 refuses ("unable to truncate a file which is already open") and the net does not load.
 */
function refuseSharedFiles(layers: GraphLayer[]): void {
  const writers = new Map<string, GraphLayer>();
  for (const l of layers) {
    const file = l.impl.hdf5File?.file;
    if (file === undefined) continue;
    const key = sameFileKey(file), first = writers.get(key); // 'a.h5' and './a.h5' are one file
    if (first) throw new LayerError(l.def, `writes the file '${file}' that layer '${first.name}' (${first.type}) writes${first.impl.hdf5File!.file === file ? '' : ` (as '${first.impl.hdf5File!.file}')`}: Caffe opens it for each, and HDF5 refuses the second ("unable to truncate a file which is already open"); give each its own file_name`);
    writers.set(key, l);
  }
}

/**
 * A layer the weights leave out whose blobs all have constant fillers in the prototxt runs on them, as in Caffe:
 * the blobs its shapes made (expectWeight) become its weights.
 */
function keepFilledWeights(layers: GraphLayer[]): void {
  for (const l of layers) {
    const declared = declaredWeights.get(l.def), filled = filledWeights.get(l.def);
    if (l.weights.length || !declared?.length || !filled || declared.some((_, i) => !filled[i])) continue;
    l.weights.push(...filled);
  }
}

/** The ordinal of a 1-based count, for messages: 1st, 2nd, 3rd, 4th, ... */
const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;

/**
 * A later layer with the name of an earlier one that needs weights would run, in Caffe, on its fillers (zeros or
 * random), since only the first layer of a name gets the caffemodel's: refuse it by name rather than do that.
 */
function refuseShadowedWeights(layers: GraphLayer[], firstOfName: Map<string, number>, weights: Map<string, Tensor[]>): void {
  layers.forEach((l, i) => {
    const first = firstOfName.get(l.name)!;
    if (first === i || !weights.has(l.name) || !(declaredWeights.get(l.def)?.length)) return;
    const nth = layers.slice(0, i + 1).filter((m) => m.name === l.name).length;
    throw new LayerError(l.def, `needs weights, but it is the ${ordinal(nth)} layer of this name and Caffe copies the caffemodel's weights into the first one only (layer #${first}); this one would run on its fillers: give the layers distinct names`);
  });
}

/**
 * A note on the layers whose forward gives their tops' rows with one-row set-up shapes (cascade-rcnn's): until the
 * first forward, the shapes after them (`crema info`, net.shapes) are those rows, not the ones an image gives.
 */
export function sizingNote(graph: Graph): string[] {
  const sizing = graph.layers.filter((l) => l.impl.sizesTops && l.impl.mostTops);
  if (!sizing.length) return [];
  const names = listSome(sizing.map((l) => `'${l.name}'`), 5);
  const [give, them] = sizing.length > 1 ? ['give', 'them'] : ['gives', 'it'];
  return [`${names} (${[...new Set(sizing.map((l) => l.type))].join(', ')}) ${give} as many rows as each forward finds: until the first forward, the blobs after ${them} have their set-up's one row`];
}

/**
 * Notes on layer names used more than once: which layer the name means for weights, forward({start, end}) and
 * `--params` (the first, as Caffe's weight copy and pycaffe's forward do).
 */
export function repeatedNameNotes(graph: Graph): string[] {
  const byName = new Map<string, number[]>();
  graph.layers.forEach((l, i) => byName.set(l.name, [...(byName.get(l.name) ?? []), i]));
  return [...byName]
    .filter(([, at]) => at.length > 1)
    .map(([name, at]) => `${at.length} layers are named '${name}' (#${at.join(', #')}): by that name (weights, forward start/end, net.params) crema means the first, #${at[0]}`);
}

/**
 * The blobs no layer reads after it last writes them (in-place writers read their own top), in the order they
 * first appear. Linear in the net's size: a chain of 10^5 layers or a Slice of 10^6 tops is no search per blob.
 */
function netOutputs(layers: GraphLayer[]): string[] {
  const lastWriter = new Map<string, number>(), lastReader = new Map<string, number>();
  layers.forEach((l, i) => {
    // A sink (Silence, HDF5Output) does not count as a reader: the blob it swallows is the result (colorization's
    // class8_ab), as in OpenCV's dnn, though Caffe leaves it out of net.outputs.
    if (!l.impl.sink) for (const b of l.bottoms) lastReader.set(b, i);
    for (const t of l.tops) lastWriter.set(t, i);
  });
  return [...lastWriter.keys()].filter((b) => (lastReader.get(b) ?? -1) <= lastWriter.get(b)!);
}

/**
 * Runs every layer's reshape in order. `inputShapes` overrides the Input layers' shapes (another batch or
 * image size); inputs it does not name keep their current shapes. The new shapes replace the graph's.
 */
export function inferShapes(graph: Graph, inputShapes: Record<string, Shape> = {}): void {
  checkInputNames(Object.keys(inputShapes), graph.inputs);
  // As the CLI refuses an empty --input: a batch (or any dim) of 0 left every blob empty and "ran" (net.reshape, a forward's feed).
  for (const [name, s] of Object.entries(inputShapes)) {
    if (!Array.isArray(s) || !s.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new CremaError(`input '${name}': shape ${Array.isArray(s) ? shapeString(s) : String(s)}: its dims must be whole numbers > 0`);
    if (sizeOf(s) === 0) throw new CremaError(`input '${name}': shape ${shapeString(s)} holds no values: an input needs at least one item`);
  }
  graph.blobShapes = shapeLayers(graph, new Map(), 0, inputShapes);
}

/**
 * Infers the shapes for other input shapes (ONNX Runtime's at another size) and leaves them so: the Net shapes the
 * graph back (shapeBack) before its next native use, not after each conversion, so that ONNX Runtime's runs at a new
 * size shape it once, not there and back. Layers keep per-shape state (PriorBox's priors): until shaped back, the
 * graph is the ONNX side's only. A layer refusing the shapes leaves the graph as it was.
 */
export function shapeAway(graph: Graph, inputShapes: Record<string, Shape>): void {
  const before = Object.fromEntries(graph.inputs.map((n) => [n, graph.blobShapes.get(n)!]));
  const own = graph.ownShapes ?? before;
  graph.ownShapes = own;
  try {
    inferShapes(graph, inputShapes);
  } catch (err) {
    // A layer refusing them has reshaped the layers before it but not blobShapes (set at the end): put both back as
    // they were, or the next conversion at the shapes before would see no change and take the half-shaped layers.
    inferShapes(graph, before);
    throw err;
  } finally {
    if (graph.inputs.every((n) => sameShape(graph.blobShapes.get(n)!, own[n]))) graph.ownShapes = undefined;
  }
}

/** The graph at its Net's own shapes again, when shapeAway left it at others (once): whether it was shaped. */
export function shapeBack(graph: Graph): boolean {
  const own = graph.ownShapes;
  if (!own) return false;
  graph.ownShapes = undefined;
  inferShapes(graph, own);
  return true;
}

/**
 * Shapes the layers after `index` again, its tops now `pinned` (a layer whose forward sized them, as Caffe's layers
 * that reshape their tops in Forward: py-faster-rcnn's Proposal gives as many rows as boxes survive NMS); the blobs
 * before keep their shapes. The new shapes replace the graph's.
 */
export function reshapeAfter(graph: Graph, index: number, pinned: Shape[]): void {
  const l = graph.layers[index], shapes = new Map(graph.blobShapes);
  l.tops.forEach((t, k) => {
    needSaneShape(l.def, t, pinned[k]);
    shapes.set(t, pinned[k]);
  });
  l.topShapes = pinned;
  graph.blobShapes = shapeLayers(graph, shapes, index + 1, {});
}

/** Runs the reshape of layers `from`.. on, into `shapes` (the blobs before them already there); checks the total. */
function shapeLayers(graph: Graph, shapes: Map<string, Shape>, from: number, inputShapes: Record<string, Shape>): Map<string, Shape> {
  for (let index = from; index < graph.layers.length; index++) {
    const l = graph.layers[index];
    const bottomShapes = l.bottoms.map((b) => shapes.get(b)!);
    let topShapes: Shape[];
    try {
      topShapes = l.impl.reshape(bottomShapes);
    } catch (err) {
      if (!graph.dialect && err instanceof LayerError) {
        const hint = dialectHint(graph.layers.slice(0, index));
        if (hint) err.message += `; ${hint}`;
      }
      throw err;
    }
    if (l.type === 'Input') topShapes = topShapes.map((s, i) => own(inputShapes, l.tops[i]) ?? graph.blobShapes.get(l.tops[i]) ?? s);
    if (topShapes.length !== l.tops.length) throw new LayerError(l.def, `gives ${topShapes.length} top shapes for ${l.tops.length} tops`);
    topShapes.forEach((s, i) => {
      if (s.length > MAX_BLOB_AXES)
        throw new LayerError(l.def, `top '${l.tops[i]}' would have ${s.length.toLocaleString('en-US')} axes; Caffe allows at most ${MAX_BLOB_AXES} (kMaxBlobAxes)`);
      needSaneShape(l.def, l.tops[i], s);
      const inPlaceOn = l.bottoms.indexOf(l.tops[i]);
      if (inPlaceOn >= 0 && !sameShape(bottomShapes[inPlaceOn], s))
        throw new LayerError(l.def, `works in place on '${l.tops[i]}' but would change its shape from ${shapeString(bottomShapes[inPlaceOn])} to ${shapeString(s)}`);
      shapes.set(l.tops[i], s);
    });
    l.bottomShapes = bottomShapes;
    l.topShapes = topShapes;
  }
  let total = 0;
  for (const s of shapes.values()) total += sizeOf(s);
  if (total > MAX_NET_ELEMENTS)
    throw new CremaError(`the net's blobs would hold ${total.toLocaleString('en-US')} values (${(total / 2 ** 28).toFixed(1)} GiB) at these input shapes, beyond crema's bound of 16 GiB; use a smaller batch or input`);
  return shapes;
}

/**
 * For a shape error in a net not loaded as a dialect: the first of the layers before it (shaped in this pass) that
 * a dialect would size otherwise, a Pooling in the yolo dialect or a PriorBox in faceboxes. Only on the error path.
 */
function dialectHint(before: GraphLayer[]): string | undefined {
  for (const l of before) {
    const hint = l.type === 'Pooling' ? sizedOtherwiseInYolo(l.def, l.bottomShapes[0], l.topShapes[0])
      : l.type === 'PriorBox' ? densifiedInFaceBoxes(l.def, l.topShapes[0]) : undefined;
    if (hint) return hint;
  }
  return undefined;
}
