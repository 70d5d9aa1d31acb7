import type { Shape } from '../tensor.js';
import { AttrType, type AttributeObj, DataType, type GraphObj, type NodeObj, type TensorObj, type ValueInfoObj } from './proto.js';

/** An attribute value, typed as ONNX needs it (ONNX tells INT from FLOAT, so plain numbers are not enough). */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string }
  | { graph: GraphObj };

export const int = (v: number): Attr => ({ int: v });
export const float = (v: number): Attr => ({ float: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });

function attribute(name: string, a: Attr): AttributeObj {
  if ('int' in a) return { name, type: AttrType.INT, i: a.int };
  if ('float' in a) return { name, type: AttrType.FLOAT, f: a.float };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: [...a.ints] };
  if ('floats' in a) return { name, type: AttrType.FLOATS, floats: [...a.floats] };
  if ('graph' in a) return { name, type: AttrType.GRAPH, g: a.graph };
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the typed arrays of every platform Node runs on (x86, ARM).
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function valueInfo(name: string, shape?: Shape): ValueInfoObj {
  const tensor_type: ValueInfoObj['type']['tensor_type'] = { elem_type: DataType.FLOAT };
  if (shape) tensor_type.shape = { dim: shape.map((d) => ({ dim_value: d })) };
  return { name, type: { tensor_type } };
}

/**
 * Collects the nodes and initializers of one ONNX graph and hands out unique value names.
 * Every name is assigned once (ONNX graphs are in SSA form); `reserve` keeps Caffe's blob names for the
 * values that carry them, so that helper values never take a blob's name.
 */
export class OnnxBuilder {
  readonly nodes: NodeObj[] = [];
  readonly initializers: TensorObj[] = [];
  private readonly used = new Set<string>();
  private readonly scalars = new Map<string, string>();
  private readonly nodeNames = new Set<string>();
  private nodeCount = 0;

  constructor(reserved: Iterable<string> = []) {
    for (const name of reserved) this.used.add(name);
  }

  /** A value name not used before: `base`, or `base_2`, `base_3`, ... */
  fresh(base: string): string {
    let name = base;
    for (let n = 2; this.used.has(name); n++) name = `${base}_${n}`;
    this.used.add(name);
    return name;
  }

  /** Claims a reserved name (a Caffe blob's) for the value that now carries it. */
  claim(name: string): string {
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, name?: string): string[] {
    // Node names must be unique too (ONNX Runtime refuses a model otherwise); Caffe's layer names need not be.
    let nodeName = name || `${opType}_${++this.nodeCount}`;
    for (let n = 2; this.nodeNames.has(nodeName); n++) nodeName = `${name || opType}_${n}`;
    this.nodeNames.add(nodeName);
    this.nodes.push({
      input: inputs,
      output: outputs,
      name: nodeName,
      op_type: opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /**
   * The nodes `build` adds, taken out of this graph (for a subgraph: Scan's body). Its constants stay this graph's
   * initializers, which a subgraph may read; its value names stay unique across both.
   */
  collect(build: () => void): NodeObj[] {
    const at = this.nodes.length;
    build();
    return this.nodes.splice(at);
  }

  /** A float initializer; the data is referenced, not copied, until the model is encoded. */
  floats(base: string, data: Float32Array, dims: Shape): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dims: [...dims], data_type: DataType.FLOAT, raw_data: bytesOf(data) });
    return name;
  }

  /** A 1-D int64 initializer (shapes, axes, split sizes). */
  int64s(base: string, values: readonly number[]): string {
    const name = this.fresh(base);
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims: [values.length], data_type: DataType.INT64, raw_data: bytesOf(data) });
    return name;
  }

  /** A bool scalar initializer (Dropout's training_mode). */
  bool(base: string, value: boolean): string {
    const name = this.fresh(base);
    this.initializers.push({ name, dims: [], data_type: DataType.BOOL, raw_data: Uint8Array.of(value ? 1 : 0) });
    return name;
  }

  /** A float scalar constant, shared by every node that uses the same value. */
  scalar(value: number): string {
    const key = Object.is(value, -0) ? '-0' : String(value);
    let name = this.scalars.get(key);
    if (!name) {
      name = this.floats(`const_${key}`, Float32Array.of(value), []);
      this.scalars.set(key, name);
    }
    return name;
  }
}

/** The IR version that goes with an opset (onnx/helper.py's table): the oldest IR that allows it. */
export function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset === 23) return 11;
  if (opset === 24) return 12;
  return 13;
}
