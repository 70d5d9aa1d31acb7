import protobuf from 'protobufjs';
import { protoSchema } from '../caffe/schema.js';
import type { Message } from '../caffe/message.js';
import { type SizedMessage, sizeMessage } from '../caffe/wire.js';
import { CremaError } from '../util/errors.js';

export function onnxType(name: 'ModelProto' | 'GraphProto' | 'NodeProto' | 'TensorProto'): protobuf.Type {
  // the ONNX schema subset crema writes (proto/onnx.proto, package `onnx`)
  return protoSchema('onnx.proto').lookupType(`onnx.${name}`);
}

/** TensorProto.DataType values crema uses. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values crema uses. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

// Plain-object forms of the messages, as protobufjs encodes them (snake_case, enums as numbers).
export interface AttributeObj {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  /** A subgraph (Scan's body): its nodes may read the enclosing graph's values. */
  g?: GraphObj;
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

/** Protobuf's largest message (its lengths are signed 32-bit): ONNX Runtime, onnx and protobuf refuse a larger model. */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;

/** What to do about a model too large for one buffer, said where no CLI option applies (the library, the browser). */
export const TOO_LARGE_ADVICE = 'a model this large keeps its weights beside it as ONNX external data, as `crema convert --external-data` writes it';

/**
 * @internal A model sized for encoding, by the sized encoder that writes caffemodels (src/caffe/wire.ts): its bytes
 * then as one buffer, or as chunks whose tensors are the weights' own memory (no copy). One over `limit`
 * (protobuf's) is refused before anything is encoded, in one line ending with `advice`. protobufjs 8 would write
 * into a buffer it doubles as it grows, shift each nested message to put its length in front and copy the whole once
 * more at the end: for ResNet-50 (100 MB of weights) ~5 passes over them and 3x their size in fresh pages, 0.9-1.1 s.
 */
export function sizedModel(model: ModelObj, advice = TOO_LARGE_ADVICE, limit = MAX_MODEL_BYTES): SizedMessage {
  const sized = sizeMessage(onnxType('ModelProto'), model as unknown as Message);
  if (sized.size > limit)
    throw new CremaError(`the ONNX model would be ${(sized.size / 1e6).toFixed(1)} MB (${sized.size} bytes), more than the ${limit} bytes protobuf allows one model: ${advice}`);
  return sized;
}

/** Serializes a model into one buffer, each raw tensor copied once into it (see sizedModel). */
export function encodeModel(model: ModelObj, advice?: string, limit?: number): Uint8Array {
  return sizedModel(model, advice, limit).encode();
}

/** Parses a model (for tests and inspection); int64 fields come back as numbers. */
export function decodeModel(bytes: Uint8Array): ModelObj {
  const type = onnxType('ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true }) as unknown as ModelObj;
}
