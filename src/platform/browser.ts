// The browser side of the platform seam (src/platform.ts): no files (everything comes in as bytes), the schemas
// bundled as text, the wasm kernels compiled from a URL ahead of time (preloadKernels), kernel threads as Web
// Workers, HDF5 weights through h5wasm's ESM build (imported when they come in). Importing this module installs it;
// the engine worker (src/browser/engine-worker.ts) does.
import caffeProto from '../../proto/caffe.proto';
import onnxProto from '../../proto/onnx.proto';
import type { H5wasm } from '../caffe/hdf5-weights.js';
import type { OrtModule } from '../onnx/ort.js';
import type { ModelObj } from '../onnx/proto.js';
import { type KernelWorker, type KernelWorkerInit, type OnnxSessionSource, type Platform, setPlatform } from '../platform.js';
import { CremaError } from '../util/errors.js';

type KernelBuild = 'fma' | 'simd';
let kernels: { module: WebAssembly.Module; build: KernelBuild; shared: boolean } | undefined;

// The smallest modules that use a SIMD (v128.const) and a relaxed-SIMD (f32x4.relaxed_madd) instruction: a
// browser that validates them runs the matching build.
const V128_CONST = [0xfd, 12, ...new Array<number>(16).fill(0)];
const tinyModule = (body: number[]): Uint8Array<ArrayBuffer> =>
  new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 0x7b, 3, 2, 1, 0, 10, body.length + 4, 1, body.length + 2, 0, ...body, 11]);
const SIMD_PROBE = tinyModule(V128_CONST);
const RELAXED_PROBE = tinyModule([...V128_CONST, ...V128_CONST, ...V128_CONST, 0xfd, 0x85, 0x02]);

/** The kernels this browser can run: 'fma' (relaxed SIMD), 'simd', or 'none' (the TypeScript kernels run). */
export function kernelSupport(): KernelBuild | 'none' {
  if (WebAssembly.validate(RELAXED_PROBE)) return 'fma';
  return WebAssembly.validate(SIMD_PROBE) ? 'simd' : 'none';
}

/** Whether worker threads can share the kernels' memory: only in a cross-origin isolated page (COOP + COEP). */
export function canShareMemory(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/**
 * Compiles the best kernels this browser runs, from the directory `base` (kernels[-fma][-single].wasm, as
 * scripts/build-browser.mjs writes them), without blocking: a browser compiles a module this size on its main
 * thread only asynchronously. Returns the build ('none': the TypeScript kernels run).
 */
export async function preloadKernels(base: URL, support = kernelSupport()): Promise<KernelBuild | 'none'> {
  if (kernels) return kernels.build;
  if (support === 'none') return 'none';
  const shared = canShareMemory();
  const url = new URL(`kernels${support === 'fma' ? '-fma' : ''}${shared ? '' : '-single'}.wasm`, base);
  const response = await fetch(url);
  if (!response.ok) throw new CremaError(`the wasm kernels (${url.pathname}) did not load: HTTP ${response.status}`);
  kernels = { module: await WebAssembly.compileStreaming(response), build: support, shared };
  return support;
}

// A kernel worker's preamble: the same loop as Node's (src/kernels/pool.ts) once the init message arrives.
const WORKER_PREAMBLE = `
onmessage = (e) => {
  onmessage = null;
  const { module, memory, control, params, index } = e.data;
  const ready = () => postMessage({ ready: true });
  const postError = (message) => postMessage({ error: message });
`;

/** A kernel worker as a Web Worker (from a blob: URL, so no file needs to sit beside the bundle). */
function startKernelWorker(loop: string, init: KernelWorkerInit): KernelWorker {
  const url = URL.createObjectURL(new Blob([`${WORKER_PREAMBLE}${loop}\n};`], { type: 'text/javascript' }));
  const worker = new Worker(url, { name: `crema kernels ${init.index}` });
  URL.revokeObjectURL(url);
  let lastError: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ready?: boolean; error?: string }>) => {
      if (e.data.ready) resolve();
      else lastError = e.data.error;
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new CremaError(`kernel worker ${init.index} did not start: ${e.message || 'no message'}`));
    };
  });
  worker.postMessage(init);
  return {
    ready,
    // Posted asynchronously: the message may arrive after the job that failed has ended.
    takeError: () => [lastError, (lastError = undefined)][0],
    async terminate() {
      worker.terminate();
    },
  };
}

let ortUrl: string | undefined;
let ort: Promise<OrtModule> | undefined;

/**
 * Where onnxruntime-web comes from: the URL of its ESM build (ort.wasm.bundle.min.mjs, its .wasm beside it), as
 * `crema ui` serves it (/ort/) and the static build copies it; undefined: the bare specifier 'onnxruntime-web/wasm',
 * which the application's bundler resolves. Set before the first ONNX Runtime call.
 */
export function setOnnxRuntimeUrl(url: string | undefined): void {
  if (url !== ortUrl) ort = undefined;
  ortUrl = url;
}

/** onnxruntime-web (an optional peer), imported on first use: never part of the engine's own bundle. */
function onnxRuntime(): Promise<OrtModule> {
  const from = ortUrl;
  ort ??= (from === undefined ? import('onnxruntime-web/wasm') : import(/* @vite-ignore */ from)).then(
    (module: OrtModule) => {
      // Its threads are Web Workers too: only in a cross-origin isolated page, as many as the engine's.
      module.env.wasm.numThreads = browserPlatform.cores();
      if (from !== undefined) module.env.wasm.wasmPaths = new URL('./', from).href;
      return module;
    },
    (err: unknown) => {
      ort = undefined;
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new CremaError(`ONNX Runtime Web did not load${from ? ` from ${from}` : ''}: ${why} (the ONNX backend in a browser needs the optional peer dependency onnxruntime-web: npm install onnxruntime-web)`);
    },
  );
  return ort;
}

/**
 * The model for onnxruntime-web without its large tensors, each given as a file of its own (externalModel's
 * `perTensor`): a view of the net's weights, no copy. From the model's bytes, the weights were in that buffer, then
 * in its copy in ONNX Runtime's heap, its parse and the session's tensors; as external data ONNX Runtime copies each
 * tensor once, from `data.subarray(offset, offset + length)` into the tensor's place in its heap (its
 * ort-wasm-simd-threaded.mjs), which reads a view of the kernels' shared memory (a SharedArrayBuffer, where Net.load
 * puts the weights in a cross-origin isolated page; growing it detaches no view) as any other array. One file for
 * all would need them concatenated: a copy. AlexNet (233 MB of weights): the renderer's peak while the session is made
 * and run 254 MiB above what it held before, 824 MiB from the bytes; made in 4-5 s, 6-9 s from the bytes.
 */
async function onnxSessionSource(model: ModelObj): Promise<OnnxSessionSource> {
  const { WEIGHTS_FILE, externalModel } = await import('../onnx/external.js');
  const { model: bytes, weights } = externalModel(model, WEIGHTS_FILE, true);
  return { model: bytes, externalData: weights.map((w) => ({ path: w.location!, data: w.bytes })) };
}

let h5wasmUrl: string | undefined;
let h5wasm: Promise<H5wasm> | undefined;

/**
 * Where h5wasm comes from, for HDF5 weights: the URL of its ESM build (hdf5_hl.js, hdf5_util.js beside it), as
 * `crema ui` serves it (/h5wasm/) and the static build copies it; undefined: the bare specifier 'h5wasm', which the
 * application's bundler resolves. Set before a load.
 */
export function setH5wasmUrl(url: string | undefined): void {
  if (url !== h5wasmUrl) h5wasm = undefined;
  h5wasmUrl = url;
}

/** h5wasm (an optional peer, 4 MB with its WebAssembly), imported when HDF5 weights first come in: never bundled. */
function h5wasmModule(label: string): Promise<H5wasm> {
  const from = h5wasmUrl;
  h5wasm ??= (from === undefined ? import('h5wasm') : import(/* @vite-ignore */ from)).then(
    (module: { default: H5wasm }) => module.default,
    (err: unknown) => {
      h5wasm = undefined;
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new CremaError(`${label}: h5wasm did not load${from ? ` from ${from}` : ''}: ${why} (HDF5 weights in a browser need the optional peer dependency h5wasm: npm install h5wasm)`);
    },
  );
  return h5wasm;
}

function noFiles(path: string): never {
  throw new CremaError(`${path}: the browser reads no files: give the file's bytes`);
}

export const browserPlatform: Platform = {
  name: 'browser',
  readFile: noFiles,
  withFile: noFiles,
  writeFile: noFiles,
  protoText: (name) => (name === 'caffe.proto' ? caffeProto : onnxProto),
  kernels: () => kernels,
  env: () => undefined,
  // Without shared memory no kernel worker can join: one thread, whatever a net asks.
  cores: () => (canShareMemory() ? (globalThis.navigator?.hardwareConcurrency ?? 1) : 1),
  // The engine worker is crema's own thread, not the application's: nets there use the cores.
  inWorkerThread: () => false,
  startKernelWorker,
  startNetWorker() {
    // The engine worker is the net's thread in a browser: the browser entry's Net.run goes there.
    throw new CremaError("the core's Net.run starts no thread in a browser: use the browser entry's Net, which runs in crema's engine worker");
  },
  onnxRuntime,
  onnxSessionSource,
  async readHdf5Weights(source, label) {
    if (typeof source === 'string') noFiles(source);
    // In h5wasm's in-memory file system: the bytes are copied there for the read, then removed.
    const [h5, { readHdf5Bytes }] = await Promise.all([h5wasmModule(label), import('../caffe/hdf5-weights.js')]);
    return readHdf5Bytes(h5, source, label);
  },
};

setPlatform(browserPlatform);
