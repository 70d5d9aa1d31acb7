import protobuf from 'protobufjs';
import { platform } from '../platform.js';

let root: protobuf.Root | undefined;

/** The ONNX schema subset crema writes (proto/onnx.proto, package `onnx`), loaded once, names as written. */
export function onnxSchema(): protobuf.Root {
  if (!root) {
    // The text comes from the platform (proto/onnx.proto of the package, or bundled): no file access here.
    root = protobuf.parse(platform().protoText('onnx.proto'), new protobuf.Root(), { keepCase: true }).root;
    root.resolveAll();
  }
  return root;
}

export function onnxType(name: 'ModelProto' | 'GraphProto' | 'NodeProto' | 'TensorProto'): protobuf.Type {
  return onnxSchema().lookupType(`onnx.${name}`);
}

/** TensorProto.DataType values crema uses. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9 } as const;

/** AttributeProto.AttributeType values crema uses. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

// Plain-object forms of the messages, as protobufjs encodes them (snake_case, enums as numbers).
export interface AttributeObj {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeObj {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: AttributeObj[];
}

export interface TensorObj {
  name: string;
  dims: number[];
  data_type: number;
  /** Little-endian element bytes: a view on the weights' own buffer, copied once into the file. */
  raw_data: Uint8Array;
}

export interface ValueInfoObj {
  name: string;
  type: { tensor_type: { elem_type: number; shape?: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

export interface GraphObj {
  name: string;
  node: NodeObj[];
  initializer: TensorObj[];
  input: ValueInfoObj[];
  output: ValueInfoObj[];
  doc_string?: string;
}

export interface ModelObj {
  ir_version: number;
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphObj;
  opset_import: { domain: string; version: number }[];
}

/**
 * Serializes a model: the bytes protobufjs writes for it, with each raw tensor copied exactly once, into a buffer
 * of the exact size. protobufjs 8 writes into a buffer it doubles as it grows, shifts each nested message to put
 * its length in front and copies the whole once more at the end: for ResNet-50 (100 MB of weights) ~5 passes over
 * them and 3x their size in fresh pages, 0.7 s. Here protobufjs writes the small parts (every field but the
 * graph's initializers and their raw_data), in field order around the graph and its initializers as it would.
 */
export function encodeModel(model: ModelObj): Uint8Array {
  const { graph, ...rest } = model;
  const { initializer, ...graphRest } = graph;
  const [modelHead, modelTail] = encodeSplit('ModelProto', rest, 7);
  const [graphHead, graphTail] = encodeSplit('GraphProto', graphRest, 5);
  const tensors = initializer.map(({ raw_data, ...meta }) => {
    const [head, tail] = encodeSplit('TensorProto', meta, 9);
    return { head, tail, raw: raw_data, size: head.length + fieldSize(raw_data.length) + tail.length };
  });
  const graphSize = graphHead.length + tensors.reduce((n, t) => n + fieldSize(t.size), 0) + graphTail.length;
  const out = new Uint8Array(modelHead.length + fieldSize(graphSize) + modelTail.length);
  let at = put(out, 0, modelHead);
  at = put(out, key(out, at, 7, graphSize), graphHead);
  for (const t of tensors) {
    at = put(out, key(out, at, 5, t.size), t.head);
    at = put(out, key(out, at, 9, t.raw.length), t.raw);
    at = put(out, at, t.tail);
  }
  at = put(out, put(out, at, graphTail), modelTail);
  if (at !== out.length) throw new Error(`encodeModel: wrote ${at} of ${out.length} bytes`); // a bug, not input
  return out;
}

/** protobufjs's bytes for the fields of `obj` numbered below `field`, and for the others. */
function encodeSplit(name: 'ModelProto' | 'GraphProto' | 'TensorProto', obj: object, field: number): [Uint8Array, Uint8Array] {
  const type = onnxType(name);
  const parts: [Record<string, unknown>, Record<string, unknown>] = [{}, {}];
  for (const [k, v] of Object.entries(obj)) parts[type.fields[k].id < field ? 0 : 1][k] = v;
  return [type.encode(parts[0]).finish(), type.encode(parts[1]).finish()];
}

/** Bytes of a length-delimited field (numbers below 16: a one-byte key) holding `size` bytes. */
function fieldSize(size: number): number {
  return 1 + varintSize(size) + size;
}

function varintSize(n: number): number {
  let bytes = 1;
  for (; n >= 128; n = Math.floor(n / 128)) bytes++;
  return bytes;
}

function key(out: Uint8Array, at: number, field: number, size: number): number {
  out[at++] = (field << 3) | 2;
  for (; size >= 128; size = Math.floor(size / 128)) out[at++] = (size % 128) | 128;
  out[at++] = size;
  return at;
}

function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out.set(bytes, at);
  return at + bytes.length;
}

/** Parses a model (for tests and inspection); int64 fields come back as numbers. */
export function decodeModel(bytes: Uint8Array): ModelObj {
  const type = onnxType('ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as unknown as ModelObj;
}
