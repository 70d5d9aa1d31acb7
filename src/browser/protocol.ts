import type { Dialect } from '../caffe/dialects.js';
import type { ColorizeOptions, DetectOptions, DetectorKind, FaceOptions } from '../detect/options.js';
import type { PoseDetectOptions, PoseModelName, PosePartOptions } from '../detect/pose-models.js';
import type { DenseDetectOptions, EdgeDetectOptions } from '../detect/options.js';
import type { FloatImage } from '../image/image.js';
// The messages between a page (src/browser/index.ts) and its engine worker (src/browser/engine-worker.ts). The
// engine runs in the worker: a forward never blocks the page, and the kernels may block on Atomics.wait there.
import type { LayerSummary } from '../graph/summary.js';
import type { LrnParams } from '../layers/lrn.js';
import type { BlobComparison } from '../verify/blobs.js';

export interface TensorData {
  dims: number[];
  data: Float32Array;
}

export interface LayerInfo extends LayerSummary {
  /** The layer as prototxt (its parameters; weights left out). */
  text: string;
  /** An LRN layer's parameters with Caffe's defaults (for the page's LRN view). */
  lrn?: LrnParams;
}

/** What the page learns about a loaded net. */
export interface NetInfo {
  id: number;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Every blob's shape, in net order. */
  blobs: Record<string, number[]>;
  layers: LayerInfo[];
  notes: string[];
  upgrades: string[];
  /** The layer graph as Graphviz DOT, as `crema draw` draws it. */
  dot: string;
  /** What `lenient` skipped while loading (given to Net.load's `warn`). */
  warnings?: string[];
  /**
   * How `net.detect` runs the net, when it is a detector: 'output' (SSD, YOLO: a detection layer writes the boxes),
   * 'faster-rcnn' (a Proposal layer: py-faster-rcnn's im_detect), 'frcnn' (makefile/frcnn's FrcnnProposal: its
   * test tools' predict_original with the net's config), 'fpn' (unsky/FPN's multi-level proposal: its own im_detect)
   * or 'ssh' (SSH's face detector: its demo.py's pyramid). Absent for other nets.
   */
  detector?: DetectorKind;
  /** Whether `net.colorize` runs it: the colorization net (an L input, the 313 ab bins' probabilities). */
  colorizer?: boolean;
  /** The OpenPose body model `net.detectPoses` runs it as (BODY_25, COCO, MPI, MPI_4, BODY_25B, BODY_135), from its output. Absent for other nets. */
  pose?: PoseModelName;
  /** Which dense demo `net.segment` / `net.edges` runs it as: FCN's ('segment') or HED's / RCF's ('edges'). Absent for other nets. */
  dense?: 'segment' | 'edges';
  /**
   * Whether `net.flow` runs it: a FlowNet deploy net (two image inputs, the blob predict_flow_final), 'template' when
   * it was loaded from a deploy template (filled again for each image size, as run-flownet.py fills it), 'net' when
   * filled already (images of its size only). Absent for other nets.
   */
  flow?: 'template' | 'net';
}

/** Net.flow's answer: the flow (height x width x 2, u then v per pixel) and its picture (RGB bytes, flow_vis's colours). */
export interface FlowResult {
  width: number;
  height: number;
  data: Float32Array;
  colors: Uint8Array;
  /** The net's info when the flow filled the template again for a new size (its blobs' shapes changed). */
  info?: NetInfo;
}

export interface LayerTiming {
  name: string;
  type: string;
  median_ms: number;
}

/** The files' names, for errors ("weights.caffemodel: truncated file…" rather than "weights (Uint8Array, 1.2 MB): …"). */
export interface FileNames {
  prototxt?: string;
  weights?: string;
}

/** What runs a forward: crema's engine, or the net converted to ONNX in onnxruntime-web. */
export type Backend = 'native' | 'onnx';

/** Verify in the browser: every blob, crema's engine vs onnxruntime-web on the same inputs. */
export interface BrowserVerifyReport extends BlobComparison {
  pass: boolean;
  tolerance: number;
}

export type Request =
  | { op: 'load'; prototxt: Uint8Array | string; weights?: Uint8Array; threads?: number; names?: FileNames; dialect?: Dialect; edgesDialect?: boolean; lenient?: boolean; dataShapes?: Record<string, number[]>; frcnnConfig?: string; keepBlobs?: 'all' | readonly string[]; h5wasm?: string }
  | { op: 'run'; net: number; feeds: Record<string, TensorData>; fetches?: string[]; backend?: Backend; ort?: string }
  /** `image.data` is transferred; the options' mean image, if any, comes as plain { dims, data }. */
  | { op: 'detect'; net: number; image: FloatImage; options: DetectOptions; ort?: string }
  | { op: 'colorize'; net: number; image: FloatImage; options: ColorizeOptions; ort?: string }
  /** Both images' data transferred. */
  | { op: 'flow'; net: number; images: [FloatImage, FloatImage]; options: { backend?: Backend }; ort?: string }
  /** `parts`: the ids of the hand and face nets (options.hand / face), loaded on the same engine. */
  | { op: 'pose'; net: number; parts: { hand?: number; face?: number }; image: FloatImage; options: PoseDetectOptions & Omit<PosePartOptions, 'hand' | 'face'>; ort?: string }
  | { op: 'segment'; net: number; image: FloatImage; options: DenseDetectOptions; ort?: string }
  | { op: 'edges'; net: number; image: FloatImage; options: EdgeDetectOptions; ort?: string }
  | { op: 'faces'; nets: { pnet: number; rnet: number; onet: number; lnet?: number }; image: FloatImage; options: FaceOptions; ort?: string }
  | { op: 'verify'; net: number; feeds: Record<string, TensorData>; tolerance?: number; ort?: string }
  | { op: 'time'; net: number; feeds: Record<string, TensorData>; iterations: number }
  | { op: 'convert'; net: number; opset?: number; outputs?: 'net' | 'all'; anySize?: boolean; anyBatch?: boolean }
  | { op: 'dispose'; net: number }
  /** @internal The engine's counters since the last 'stats' (scripts/bench-browser.mjs prints them). */
  | { op: 'stats'; net: number }
  /** @internal What the engine holds (the tests' check that a dispose releases it). */
  | { op: 'memory' };

/** @internal What 'stats' answers: the net's last forward and the kernel pool's counters since the last 'stats'. */
export interface EngineStats {
  /** The last forward's time in the engine worker (ms): the forward alone, no messages or copies. */
  forwardMs: number;
  /** The ways the net's forward judge chose since: a P for each forward run in parallel, then an A for each run alone. */
  ways: string;
  /** Jobs the pool's workers found asleep, polls the OS cut short, the calling thread's wait for workers (ms). */
  wakeups: number;
  cut: number;
  waitedMs: number;
}

/** @internal What 'memory' answers: the nets the engine keeps anything for, and the bytes of its wasm memory in use. */
export interface EngineMemory {
  ids: number;
  heapBytes: number;
}

/** The engine worker's first message: how it will compute. */
export interface EngineReady {
  kernels: 'fma' | 'simd' | 'none';
  /** Threads a net may use (1 unless the page is cross-origin isolated). */
  threads: number;
  isolated: boolean;
}

export type Reply =
  /** `spare`: a forward's input buffers, given back to be filled again (Engine's `spare`). */
  | { id: number; ok: true; result: unknown; spare?: ArrayBuffer[] }
  | { id: number; ok: false; error: { name: string; message: string; code?: string } }
  | { ready: EngineReady }
  | { failed: string };
