import protobuf from 'protobufjs';
import { platform } from '../platform.js';
import type { Message } from '../caffe/message.js';
import { encodeMessage } from '../caffe/wire.js';

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
 * Serializes a model: the bytes protobufjs writes for it, each raw tensor copied once into a buffer of the exact
 * size, by the sized encoder that writes caffemodels (src/caffe/wire.ts). protobufjs 8 writes into a buffer it
 * doubles as it grows, shifts each nested message to put its length in front and copies the whole once more at
 * the end: for ResNet-50 (100 MB of weights) ~5 passes over them and 3x their size in fresh pages, 0.9-1.1 s.
 */
export function encodeModel(model: ModelObj): Uint8Array {
  return encodeMessage(onnxType('ModelProto'), model as unknown as Message);
}

/** Parses a model (for tests and inspection); int64 fields come back as numbers. */
export function decodeModel(bytes: Uint8Array): ModelObj {
  const type = onnxType('ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as unknown as ModelObj;
}
