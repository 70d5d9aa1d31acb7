import type { Graph, GraphLayer } from '../graph/graph.js';
import { LayerError, type NetContext } from '../layers/layer.js';
import { CremaError, kindOf } from '../util/errors.js';
import { checkNames, noBlobNamed } from '../util/options.js';
import { type Attr, OnnxBuilder, irVersionFor, valueInfo } from './builder.js';
import type { LayerContext, LrnMode } from './context.js';
import { converterFor, convertibleTypes } from './layers.js';
import { layerTypeOf } from '../layers/registry.js';
import { type ModelObj, type ValueInfoObj, encodeModel } from './proto.js';
import type { Shape } from '../tensor.js';

export const MIN_OPSET = 13;
/** The newest opset ONNX Runtime 1.30 runs (and the newest crema has checked its ops against). */
export const MAX_OPSET = 23;
export const DEFAULT_OPSET = 17;

export interface ConvertOptions {
  /** ONNX opset of the model (default 17). */
  opset?: number;
  /** Graph outputs: Caffe's net outputs ('net', default), every blob ('all'), or the named blobs. */
  outputs?: 'net' | 'all' | readonly string[];
  /** ACROSS_CHANNELS LRN as ONNX's LRN op ('native', default) or as an AveragePool subgraph ('decomposed'). */
  lrn?: LrnMode;
  /**
   * Nodes that compute what follows from the inputs' height and width at run time, for a model that serves every
   * size (what `freeSizeDimensions` then declares, after `sizeDependence` has checked it). Default false: the
   * model holds the sizes as constants, as it always has.
   */
  anySize?: boolean;
}

export interface OnnxConversion {
  model: ModelObj;
  /** Graph input names (Caffe's input blobs), in net order. */
  inputs: string[];
  /** Each requested Caffe blob -> the graph output that holds its final value. */
  outputs: Map<string, string>;
  /** Requested blobs that are graph inputs left unchanged by the net: their value is the input itself. */
  passthrough: string[];
  /** What the model does not reproduce exactly (also in its doc_string), one line each. */
  notes: string[];
  /** Blobs whose size along some axes depends on the data (DetectionOutput's rows) -> those axes. */
  dynamic: Map<string, number[]>;
  /** Per converted layer, in order: its name and type and the ranges [from, to) of the model's nodes and initializers it added. */
  spans: LayerSpan[];
}

/** What one layer added to the model (sizeDependence names the first layer whose part differs). */
export interface LayerSpan {
  name: string;
  type: string;
  nodes: [number, number];
  initializers: [number, number];
}

/**
 * Converts a graph to an ONNX model with Caffe's semantics. ONNX values are assigned once, so a blob that
 * layers overwrite in place becomes several values; the last one carries the blob's name.
 */
export function convertGraph(graph: Graph, options: ConvertOptions = {}): OnnxConversion {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (options.outputs !== undefined && options.outputs !== 'net' && options.outputs !== 'all') checkNames(options.outputs, "options.outputs ('net', 'all' or blob names)");
  if (options.lrn !== undefined && options.lrn !== 'native' && options.lrn !== 'decomposed')
    throw new CremaError(`options.lrn is 'native' or 'decomposed', got ${typeof options.lrn === 'string' ? `'${options.lrn}'` : kindOf(options.lrn)}`);
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new CremaError(`options.opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${typeof opset === 'number' ? opset : kindOf(opset)}`);
  if (options.anySize !== undefined && typeof options.anySize !== 'boolean') throw new CremaError(`options.anySize is true or false, got ${kindOf(options.anySize)}`);
  const b = new OnnxBuilder(graph.blobShapes.keys());
  const inputSet = new Set(graph.inputs);
  const lastWriter = new Map<string, number>();
  graph.layers.forEach((l, i) => l.tops.forEach((t) => lastWriter.set(t, i)));
  const current = new Map<string, string>();
  const inputs: ValueInfoObj[] = [];
  const notes: string[] = [], dynamic = new Map<string, number[]>(), spans: LayerSpan[] = [];
  const wanted = wantedBlobs(graph, options.outputs ?? 'net'), needed = neededLayers(graph, wanted);
  graph.layers.forEach((layer, index) => {
    if (!needed.has(index) && layer.type !== 'Input') return; // nothing wanted comes from it (the inputs stay the model's)
    if (layer.type === 'Input') {
      for (const t of layer.tops) {
        current.set(t, b.claim(t));
        inputs.push(valueInfo(t, graph.blobShapes.get(t)));
      }
      return;
    }
    const keepsName = (t: string) => lastWriter.get(t) === index && !inputSet.has(t);
    const [nodes, initializers] = [b.nodes.length, b.initializers.length];
    const state = { opset, lrn: options.lrn ?? 'native', net: { ...(graph.dialect ? { dialect: graph.dialect } : {}), ...(graph.frcnnConfig !== undefined ? { frcnnConfig: graph.frcnnConfig } : {}) }, anySize: options.anySize === true, notes, dynamic };
    const values = convertLayer(b, layer, state, current, keepsName);
    spans.push({ name: layer.name, type: layer.type, nodes: [nodes, b.nodes.length], initializers: [initializers, b.initializers.length] });
    layer.tops.forEach((t, i) => current.set(t, values[i]));
  });
  const { outputs, passthrough, infos } = exposeOutputs(b, graph, current, wanted, dynamic);
  // ONNX Runtime refuses to load a graph without nodes (an empty net, only inputs, only Dropouts): say so here.
  if (b.nodes.length === 0)
    throw new CremaError(`${graph.file ?? `net '${graph.name || 'net'}'`}: nothing to convert to ONNX: no layer computes anything (ONNX Runtime cannot load a model without nodes)`);
  const model: ModelObj = {
    ir_version: irVersionFor(opset),
    producer_name: 'crema',
    producer_version: '0.1.0',
    graph: {
      name: graph.name || 'net',
      doc_string: ['Converted from Caffe by crema', ...notes.map((n) => `note: ${n}`)].join('\n'),
      node: b.nodes,
      initializer: b.initializers,
      input: inputs,
      output: infos,
    },
    opset_import: [{ domain: '', version: opset }],
  };
  return { model, inputs: [...graph.inputs], outputs, passthrough, notes, dynamic, spans };
}

/** Converts one layer; returns the ONNX value of each of its tops. */
/** Conversion-wide settings and what layers report back. */
interface ConvertState {
  opset: number;
  lrn: LrnMode;
  net: NetContext;
  anySize: boolean;
  notes: string[];
  /** Blobs whose size along some axes depends on the data -> those axes. */
  dynamic: Map<string, number[]>;
}

function convertLayer(
  b: OnnxBuilder,
  layer: GraphLayer,
  { opset, lrn, net, anySize, notes, dynamic }: ConvertState,
  current: Map<string, string>,
  keepsBlobName: (top: string) => boolean,
): string[] {
  // A Python layer converts as the layer type it runs as (a plugin's, or a built-in replacement).
  const convert = layer.type === 'Python' ? layerTypeOf(layer.def).onnx : converterFor(layer.type);
  if (!convert) throw new LayerError(layer.def, `crema cannot convert this layer type to ONNX (it converts ${convertibleTypes().join(', ')})`);
  const tops: (string | undefined)[] = layer.tops.map(() => undefined);
  let nodeCount = 0;
  const ctx: LayerContext = {
    b,
    layer,
    opset,
    lrn,
    net,
    anySize,
    bottom: (i) => current.get(layer.bottoms[i])!,
    top: (i) => {
      const t = layer.tops[i];
      return (tops[i] = keepsBlobName(t) ? b.claim(t) : b.fresh(`${t}/${layer.name}`));
    },
    alias: (i, value) => {
      tops[i] = value;
    },
    tmp: (what) => b.fresh(`${layer.name}/${what}`),
    node: (op: string, inputs: string[], outputs: string[], attrs?: Record<string, Attr>) =>
      b.node(op, inputs, outputs, attrs, nodeCount++ === 0 ? layer.name : `${layer.name}/${op}_${nodeCount}`)[0],
    note: (text) => {
      const line = `layer '${layer.name}' (${layer.type}): ${text}`;
      if (!notes.includes(line)) notes.push(line);
    },
    dynamicShape: (i, axes) => dynamic.set(layer.tops[i], axes),
    dynamicAxes: (i) => dynamic.get(layer.bottoms[i]) ?? [],
  };
  convert(ctx);
  // Axes a layer before sized at run time (Proposal's rows, a Filter's items, where a Permute moved them): a top the
  // layer did not declare gets them where its load-time shape says they went.
  layer.tops.forEach((t, i) => {
    if (dynamic.has(t)) return;
    const axes = new Set(layer.bottoms.flatMap((bottom, j) => carriedAxes(layer.bottomShapes[j], layer.topShapes[i], dynamic.get(bottom) ?? [])));
    if (axes.size) dynamic.set(t, [...axes].sort((x, y) => x - y));
  });
  return tops.map((v, i) => {
    if (v === undefined) throw new Error(`internal: ONNX conversion of layer '${layer.name}' gave no value for top '${layer.tops[i]}'`);
    return v;
  });
}

/**
 * The axes of a top sized at run time because its bottom's `axes` are, for a layer that does not declare them itself
 * (element-wise ones, Softmax, Flatten, Reshape, InnerProduct, Concat ...), read from the two load-time shapes: an
 * axis among the leading ones the layer leaves as they were stays where it is, one among the trailing ones stays
 * counted from the end, and one among the axes the layer changes (merges, splits, concatenates along) makes all the
 * changed axes of the top run-time sized. Axis 0 (Proposal's rows, a Filter's items) stays axis 0, as always.
 */
export function carriedAxes(bottom: Shape, top: Shape, axes: readonly number[]): number[] {
  let lead = 0, trail = 0;
  while (lead < bottom.length && lead < top.length && bottom[lead] === top[lead]) lead++;
  while (trail < bottom.length - lead && trail < top.length - lead && bottom[bottom.length - 1 - trail] === top[top.length - 1 - trail]) trail++;
  const changed = Array.from({ length: top.length - trail - lead }, (_, k) => lead + k);
  return axes.flatMap((a) => (a === 0 || a < lead ? [a] : a >= bottom.length - trail ? [a - bottom.length + top.length] : changed));
}

/**
 * The layers the wanted blobs' final values come from (indices): walking back from the last layer, one that writes a
 * blob still needed is, and then so are its bottoms. A layer only after them (colorize's class8_ab, which the release
 * caffemodel leaves without weights; a net's other heads) is left out of the model.
 */
export function neededLayers(graph: Graph, wanted: readonly string[]): Set<number> {
  const blobs = new Set(wanted), needed = new Set<number>();
  for (let i = graph.layers.length - 1; i >= 0; i--) {
    const layer = graph.layers[i];
    if (!layer.tops.some((t) => blobs.has(t))) continue;
    needed.add(i);
    for (const bottom of layer.bottoms) blobs.add(bottom);
  }
  return needed;
}

/** The blobs `outputs` names (a name the net lacks is refused in one line). */
export function wantedBlobs(graph: Graph, outputs: 'net' | 'all' | readonly string[]): string[] {
  if (outputs === 'net') return graph.outputs;
  if (outputs === 'all') return [...graph.blobShapes.keys()];
  for (const blob of outputs)
    if (!graph.blobShapes.has(blob)) throw new CremaError(noBlobNamed(blob, graph.blobShapes.keys()));
  return [...outputs];
}

/** Makes each wanted blob's final value a graph output under the blob's name (Identity where it is an alias). */
function exposeOutputs(b: OnnxBuilder, graph: Graph, current: Map<string, string>, wanted: string[], dynamic: Map<string, number[]>) {
  const outputs = new Map<string, string>();
  const passthrough: string[] = [];
  const infos: ValueInfoObj[] = [];
  const inputSet = new Set(graph.inputs);
  for (const blob of wanted) {
    const value = current.get(blob)!;
    if (inputSet.has(blob) && value === blob) {
      passthrough.push(blob);
      continue;
    }
    // An input that layers overwrite in place keeps its name for the feed; its final value gets another.
    const name = value === blob ? blob : inputSet.has(blob) ? b.fresh(`${blob}/final`) : b.claim(blob);
    if (name !== value) b.node('Identity', [value], [name], {}, `${blob}/output`);
    const info = valueInfo(name, graph.blobShapes.get(blob));
    for (const axis of dynamic.get(blob) ?? []) info.type.tensor_type.shape!.dim[axis] = { dim_param: `${blob}_${axis}` };
    infos.push(info);
    outputs.set(blob, name);
  }
  return { outputs, passthrough, infos };
}

/** The serialized model (weights as raw_data, copied once into the buffer). */
export function encodeConversion(conversion: OnnxConversion): Uint8Array {
  return encodeModel(conversion.model);
}
