// Plain-object forms of caffe.proto messages, as every reader in src/caffe produces them:
// field names exactly as in proto/caffe.proto (snake_case), enums as their NAMES (strings),
// int64/uint64 as JS numbers (refused beyond 2^53), repeated fields as arrays (absent when empty),
// BlobProto.data as Float32Array and double_data as Float64Array (never number[]).
// Parameter messages stay loosely typed: read them through `paramsOf` (schema.ts), which fills defaults. The
// public types (LayerParameter, NetParameter: what a plugin's `create` gets) give other fields as `unknown`.


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
  /** facebook/C3D v1.0's fifth dim (see wire.ts C3D_BLOB); caffemodel.ts makes such a blob a shaped one. */
  c3d_width?: number;
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
export interface LayerParameter extends Record<string, unknown> {
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
export interface NetParameter extends Record<string, unknown> {
  name?: string;
  layer?: LayerParameter[];
  state?: NetState;
}

/** Bytes to decode: a whole buffer in memory, or a file read through a window (the platform's withFile; wire.ts). */
export interface ByteSource {
  readonly size: number;
  /** Bytes [pos, pos + n) of the source, n <= windowSize (a view, valid until the next call). */
  window(pos: number, n: number): { buf: Uint8Array; base: number };
  /** Copies bytes [pos, pos + dest.length) into dest. */
  copy(pos: number, dest: Uint8Array): void;
  readonly windowSize: number;
  /**
   * Copies many runs (views of shared memory), on `helper`'s thread too (optional: a file source's; the decoder
   * defers its large runs to this when it is given a helper).
   */
  copyRuns?(runs: readonly CopyRun[], helper: CopyHelper): void;
}

/** A run of a source's bytes, [pos, pos + dest.length), to copy into dest. */
export interface CopyRun {
  pos: number;
  dest: Uint8Array;
}

/** A second thread copying a file's large runs (Node's Net.load at two threads or more: src/util/files.ts). */
export interface CopyHelper {
  /** Ends the thread (after its one fill, or unused). */
  close(): void;
}

/** Where a decoder puts the float runs of blob data (Net.load: blocks of the kernels' memory), and who helps copy them. */
export interface FloatDestination {
  /** An array of `n` floats for the decoder to fill (every value). */
  floats(n: number): Float32Array;
  /** Copies the runs that landed in shared memory on a second thread too, after the file's structure is read. */
  helper?: CopyHelper;
}
