// Plain-object forms of caffe.proto messages, as every reader in src/caffe produces them:
// field names exactly as in proto/caffe.proto (snake_case), enums as their NAMES (strings),
// int64/uint64 as JS numbers (refused beyond 2^53), repeated fields as arrays (absent when empty),
// BlobProto.data as Float32Array and double_data as Float64Array (never number[]).
// Parameter messages stay loosely typed: read them through `paramsOf` (schema.ts), which fills defaults.

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Message = Record<string, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface BlobShape {
  dim: number[];
}

export interface BlobProto {
  shape?: BlobShape;
  num?: number;
  channels?: number;
  height?: number;
  width?: number;
  data?: Float32Array;
  double_data?: Float64Array;
  diff?: Float32Array;
  double_diff?: Float64Array;
}

export interface NetStateRule {
  phase?: 'TRAIN' | 'TEST';
  min_level?: number;
  max_level?: number;
  stage?: string[];
  not_stage?: string[];
}

export interface NetState {
  phase?: 'TRAIN' | 'TEST';
  level?: number;
  stage?: string[];
}

/** A V2 layer (`layer { type: "Convolution" }`). Other fields are the `*_param` messages. */
export interface LayerParameter extends Message {
  name: string;
  type: string;
  bottom?: string[];
  top?: string[];
  phase?: 'TRAIN' | 'TEST';
  blobs?: BlobProto[];
  include?: NetStateRule[];
  exclude?: NetStateRule[];
}

/** A V2 net after upgrade: only `layer` remains (no `layers`, `input`, `input_dim`, `input_shape`). */
export interface NetParameter extends Message {
  name?: string;
  layer?: LayerParameter[];
  state?: NetState;
}
