// Whether a converted model serves every batch size: Triton's max_batch_size (src/onnx/triton.ts) and the ONNX
// backend's sessions (src/onnx/run.ts, OnnxSessions) both ask.
import type { Graph } from '../graph/graph.js';
import { CremaError } from '../util/errors.js';
import { type ConvertOptions, convertGraph } from './convert.js';
import type { ModelObj, TensorObj } from './proto.js';

/**
 * Undefined when `graph` converted at another batch size is the same model (`model`, its conversion at the graph's
 * own); else what differs. `reshape(batch)` gives the graph at that batch size (and back).
 */
export function batchDependence(graph: Graph, model: ModelObj, reshape: (batch: number) => Graph, options: ConvertOptions): string | undefined {
  const batch = graph.blobShapes.get(graph.inputs[0])?.[0];
  if (batch === undefined || graph.inputs.some((n) => graph.blobShapes.get(n)!.length === 0)) return 'the net has no batched input';
  let grown: Graph;
  try {
    grown = reshape(batch + 1);
  } catch (err) {
    // A layer that takes one batch size (py-faster-rcnn's Proposal: one image's scores and its im_info) refuses the
    // other: the model depends on the batch, said as such rather than as that layer's error (and the shapes put back).
    reshape(batch);
    if (err instanceof CremaError) return `a layer takes no other batch size: ${err.message}`;
    throw err;
  }
  const conversion = convertGraph(grown, options);
  const stuck = [...conversion.outputs.keys()].find((blob) => grown.blobShapes.get(blob)![0] !== batch + 1);
  const other = conversion.model;
  reshape(batch);
  if (stuck) return `output '${stuck}' does not follow the batch size`;
  freeBatchDimension(other);
  const same = JSON.stringify(stripped(other)) === JSON.stringify(stripped(structuredCopy(model)))
    && other.graph.initializer.every((t, i) => sameBytes(t.raw_data, model.graph.initializer[i].raw_data));
  return same ? undefined : 'the converted graph has the batch size built in (e.g. a Reshape to a fixed shape)';
}

/** Makes dimension 0 of every graph input and output the symbolic "batch". */
export function freeBatchDimension(model: ModelObj): void {
  for (const v of [...model.graph.input, ...model.graph.output]) {
    const dims = v.type.tensor_type.shape?.dim as { dim_value?: number; dim_param?: string }[] | undefined;
    if (dims?.length) dims[0] = { dim_param: 'batch' };
  }
}

function structuredCopy(model: ModelObj): ModelObj {
  const copy: ModelObj = { ...model, graph: { ...model.graph, input: model.graph.input.map(cloneInfo), output: model.graph.output.map(cloneInfo) } };
  freeBatchDimension(copy);
  return copy;
}

function cloneInfo<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The model as comparable data, each tensor's bytes as their length (sameBytes compares them). */
function stripped(model: ModelObj): unknown {
  return { ...model, graph: { ...model.graph, initializer: model.graph.initializer.map((t: TensorObj) => ({ ...t, raw_data: t.raw_data.length })) } };
}

/** The weights are views of the same floats at every batch size: equal without reading them; constants compared. */
function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
