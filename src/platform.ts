// The seam between crema's platform-neutral core (parse prototxt / caffemodel bytes -> upgrade -> phase -> graph ->
// forward -> ONNX convert) and the system it runs on. The core imports no `node:` module and touches no Buffer or
// process: whatever needs files, settings, cores, worker threads or HDF5 asks the installed Platform. The Node
// entry (src/index.ts, the CLI) installs src/platform/node.ts; a browser entry installs its own.

import type { ByteSource, CopyHelper } from './caffe/types.js';
import type { ExternalModel } from './onnx/external.js';
import type { ModelObj } from './onnx/proto.js';
import type { Tensor } from './tensor.js';
import { CremaError } from './util/errors.js';

/** A model in memory for ONNX Runtime: its bytes, and its external data's files by name (not ONNX Runtime's type: see onnxRuntime). */
export interface OnnxSessionSource {
  model: Uint8Array;
  externalData: { path: string; data: Uint8Array }[];
}

/** What a kernel worker thread is started with: the module and memory it shares, and where its jobs are. */
export interface KernelWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte address of the job control block (src/kernels/pool.ts). */
  control: number;
  /** Byte address of the job parameter block. */
  params: number;
  /** The worker's thread index (1 up; 0 is the calling thread). */
  index: number;
}

/** A started kernel worker, as src/kernels/pool.ts drives it. */
export interface KernelWorker {
  /** Resolves when the worker sleeps on the control block, ready for jobs. */
  readonly ready: Promise<void>;
  /** The message of the chunk that failed on this worker in the job that just ended (read synchronously). */
  takeError(): string | undefined;
  terminate(): Promise<void>;
}

/** A thread that runs a net off the caller's thread (src/runtime/runner.ts speaks to it; messages are cloned). */
export interface NetWorker {
  /** Sends a message, moving the `transfer` buffers to the worker (cloned otherwise). */
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Whether the worker keeps the process (or page) alive: while runs are pending, not when idle. */
  keepAlive(on: boolean): void;
  /** Called with each message the worker sends, and with an Error when the worker fails or exits. */
  listen(onMessage: (message: unknown) => void, onFailure: (err: Error) => void): void;
  terminate(): Promise<void>;
}

/** Where HDF5Output's file is written (Node, src/caffe/hdf5.ts through h5wasm): a net's bottoms, as HDF5 datasets. */
export interface Hdf5Writer {
  /** Refuses now, in one line naming the file, a file that could not be written (its directory missing, ...). */
  check(file: string): void;
  /** Writes the datasets (float32) to `file` whole: into a temporary file beside it, renamed over it once complete. */
  write(file: string, datasets: readonly { name: string; tensor: Tensor }[]): Promise<void>;
}

export interface Platform {
  /** Names the platform in messages ('node', 'browser'). */
  readonly name: string;
  /** A whole file's bytes; a one-line CremaError naming the file when it cannot be read. */
  readFile(path: string): Uint8Array;
  /** Runs `read` over a file read through a small window (a big caffemodel is never held whole), then closes it. */
  withFile<T>(path: string, read: (src: ByteSource) => T): T;
  /** Writes a whole file. */
  writeFile(path: string, bytes: Uint8Array): void;
  /** A `file:` URL's path, as readFile takes it (Node: fileURLToPath); absent where no files are read. */
  fileUrlPath?(url: URL): string;
  /** A file name as an absolute path (Node: path.resolve, from the working directory); absent where no files are written. */
  resolvePath?(file: string): string;
  /** The text of a schema shipped in the package's proto/ directory. */
  protoText(name: 'caffe.proto' | 'onnx.proto'): string;
  /**
   * The wasm kernels (the relaxed-SIMD build when this engine runs it), or undefined when not built: their bytes, or
   * a module compiled ahead (a browser compiles by URL, asynchronously). `shared: false` when worker threads cannot
   * join the memory (a page that is not cross-origin isolated): the module then imports unshared memory.
   */
  kernels(): (({ bytes: Uint8Array } | { module: WebAssembly.Module }) & { build: 'fma' | 'simd'; shared?: boolean }) | undefined;
  /**
   * Compiles the kernels ahead, optimized (optional): `kernels()` returns the module from then on. Net.load starts
   * it while the files are read.
   */
  compileKernels?(): Promise<void>;
  /** Compiles a small module optimized now (optional: where absent, `new WebAssembly.Module`). */
  compileOptimized?(bytes: Uint8Array): WebAssembly.Module;
  /** A setting from the environment (CREMA_KERNELS, CREMA_FMA), or undefined. */
  env(name: string): string | undefined;
  /** Cores to use by default. */
  cores(): number;
  /**
   * True in a thread the application started itself (Node's worker_threads): a net there defaults to 1 thread,
   * the application being parallel already. Optional: false when absent.
   */
  inWorkerThread?(): boolean;
  /**
   * A full garbage collection now, where the engine allows one (optional: nothing when absent). `evenKept`: also of
   * the objects that only WeakRefs made or read in the current job keep alive (the language keeps those until the job
   * ends; a WeakRef read again in this job may then be empty).
   */
  collectGarbage?(evenKept?: boolean): void;
  /** Starts a worker thread running the kernels' chunk loop (`loop`, a script over the names of KernelWorkerInit). */
  startKernelWorker(loop: string, init: KernelWorkerInit): KernelWorker;
  /** Starts a thread that serves one net (src/runtime/net-worker.ts's serveNet on the platform's messages). */
  startNetWorker(): NetWorker;
  /**
   * Starts a thread that will copy half of a weights file's large runs into `memory` (shared) while the calling
   * thread copies the rest (Net.load at two threads or more; optional: the calling thread copies them all).
   */
  startCopyHelper?(memory: WebAssembly.Memory): CopyHelper;
  /**
   * ONNX Runtime, loaded on first use (an optional peer: onnxruntime-node in Node, onnxruntime-web in a browser),
   * or a one-line CremaError saying how to add it. Both have one API: src/onnx/ort.ts's OrtModule (not named here, so
   * that the package's public types need neither installed).
   */
  onnxRuntime(): Promise<unknown>;
  /**
   * Writes a model and its weights file (src/onnx/external.ts) where ONNX Runtime opens them by path, which maps
   * the weights rather than copying them (optional: where absent, as in a browser, a session is made from the
   * model's bytes). `remove` deletes them, once the session is made: a mapping outlives its file (on POSIX systems;
   * Windows refuses, `remove` then returns false and is called again when the session is released).
   */
  onnxModelFiles?(model: ExternalModel): { path: string; remove(): boolean };
  /**
   * Where no files are written: what a session is made from, the model's bytes and its large tensors as the
   * SessionOptions' externalData (each a file's name and bytes), which onnxruntime-web takes in place of a model
   * holding every weight (optional: where absent, the model's bytes, every weight in them).
   */
  onnxSessionSource?(model: ModelObj): Promise<OnnxSessionSource>;
  /**
   * HDF5Output's file writer, or 'missing' when the optional h5wasm is not installed (optional: where absent, as in
   * a browser, no file is written and the layer's bottoms are only outputs of the net).
   */
  hdf5Writer?(): Hdf5Writer | 'missing';
  /** Caffe HDF5 weights (data/<layer>/<blob index>) from a file or its bytes, by layer name. */
  readHdf5Weights(source: string | Uint8Array, label: string): Promise<Map<string, Tensor[]>>;
}

let installed: Platform | undefined;

/** Installs the platform the core runs on (the Node and browser entries do this when imported). */
export function setPlatform(p: Platform): void {
  installed = p;
}

export function platform(): Platform {
  if (!installed) throw new CremaError("crema: no platform installed: import crema's Node entry ('crema-caffe') or its browser entry");
  return installed;
}

/** The platform, or undefined before one is installed (for code that has a fallback). */
export function platformIfInstalled(): Platform | undefined {
  return installed;
}
