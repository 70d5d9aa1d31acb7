// The Node side of the platform seam (src/platform.ts): files, environment, cores, worker threads, HDF5 through
// h5wasm's Node build. Importing this module installs it; the Node entry (src/index.ts) and the CLI do.
import fs from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Script, createContext, runInNewContext } from 'node:vm';
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort } from 'node:worker_threads';
import { type Hdf5Writer, type KernelWorker, type KernelWorkerInit, type NetWorker, type Platform, setPlatform } from '../platform.js';
import { CremaError } from '../util/errors.js';
import { ReadHelper, checkOutput, checkReadable, fileSource, readFileBytes, watchTemporaries, withOpenFile } from '../util/files.js';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setPluginImporter } from '../layers/plugin.js';
import type { ExternalModel } from '../onnx/external.js';

/** The package root: proto/ and dist/ sit there, two levels up from both src/platform and dist/platform. */
const ROOT = new URL('../../', import.meta.url);

function readIfPresent(url: URL): Uint8Array | undefined {
  try {
    return fs.readFileSync(url);
  } catch {
    return undefined;
  }
}

/**
 * The relaxed-SIMD build when this engine runs it. Node 20's V8 (11.3) implements relaxed SIMD behind a flag,
 * which has to be on before the module is compiled; later Nodes have it on by default. CREMA_FMA=0 opts out
 * (the plain build then runs: same results within float rounding).
 */
function fmaKernels(): Uint8Array | undefined {
  if (process.env.CREMA_FMA === '0') return undefined;
  const bytes = readIfPresent(new URL('dist/kernels-fma.wasm', ROOT));
  if (!bytes) return undefined;
  if (!WebAssembly.validate(bytes)) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes) ? bytes : undefined;
}

let gc: (() => void) | null | undefined;
let jobEnd: (() => void) | undefined;

/**
 * V8's full collection, reached through a fresh context once --expose-gc is on (the flag alone adds no global here).
 * `evenKept` (Platform.collectGarbage): V8 lets the WeakRefs' targets go (ClearKeptObjects) at a microtask
 * checkpoint, which a context of its own ('afterEvaluate') performs after each script run in it, here and now: the
 * checkpoint runs that context's queue only (empty), not the caller's.
 */
function collectGarbage(evenKept = false): void {
  if (evenKept) {
    if (!jobEnd) {
      const context = createContext({}, { microtaskMode: 'afterEvaluate' }), script = new Script('0');
      jobEnd = () => script.runInContext(context);
    }
    jobEnd();
  }
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}

function kernelBytes(): { bytes: Uint8Array; build: 'fma' | 'simd' } | undefined {
  const fma = fmaKernels();
  if (fma) return { bytes: fma, build: 'fma' };
  const simd = readIfPresent(new URL('dist/kernels.wasm', ROOT));
  return simd && { bytes: simd, build: 'simd' };
}

let compiled: { module: WebAssembly.Module; build: 'fma' | 'simd' } | undefined;

function kernels(): ({ bytes: Uint8Array } | { module: WebAssembly.Module }) & { build: 'fma' | 'simd' } | undefined {
  return compiled ?? kernelBytes();
}

/**
 * The kernels compiled whole by V8's optimizing compiler (TurboFan), on its background threads, before the first
 * forward. By default V8 compiles a wasm function with its baseline compiler (Liftoff) when first called and
 * recompiles the hot ones optimized in the background: the first forward ran baseline code (2-3x slower) while
 * the recompiles took the other core and faulted in ~1400 pages, and at two threads, both cores busy, AlexNet's
 * first forward took 3.7x a steady one. The whole module costs ~100-130 ms of CPU once a process (3500 page
 * faults), which Net.load overlaps with reading the weights. V8's two flags are its defaults again once the module
 * is compiled (the application's own modules keep them); nothing changes when the process was started with either
 * flag, or with CREMA_EAGER_COMPILE=0.
 */
async function compileKernels(): Promise<void> {
  if (compiled || !eager()) return;
  const found = kernelBytes();
  if (!found) return;
  const module = await optimizing(() => WebAssembly.compile(found.bytes as Uint8Array<ArrayBuffer>)).catch(() => undefined);
  if (module) compiled = { module, build: found.build }; // else kernels() compiles the bytes, and says what is wrong
}

/** A small module (the LRN's) compiled optimized at once, as the kernels are (see compileKernels). */
function compileOptimized(bytes: Uint8Array): WebAssembly.Module {
  const compile = () => new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  return eager() ? optimizing(compile) : compile();
}

function eager(): boolean {
  return process.env.CREMA_EAGER_COMPILE !== '0' && !/liftoff|wasm-lazy-compilation/.test([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '));
}

/** `compile` run with V8's wasm baseline compiler and lazy compilation off (a promise: until it settles). */
function optimizing<T>(compile: () => T): T {
  setFlagsFromString('--no-liftoff');
  setFlagsFromString('--no-wasm-lazy-compilation');
  const restore = () => {
    setFlagsFromString('--liftoff');
    setFlagsFromString('--wasm-lazy-compilation');
  };
  try {
    const result = compile();
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  } catch (err) {
    restore();
    throw err;
  }
}

// The worker's preamble (CommonJS, run with eval: no file to find next to src/ or dist/); the loop is the core's.
const WORKER_PREAMBLE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, params, index, errors } = workerData;
const ready = () => parentPort.postMessage('ready');
const postError = (message) => errors.postMessage(message);
`;

/** A kernel worker thread; its first error of a job arrives on a port read synchronously when the job ends. */
function startKernelWorker(loop: string, init: KernelWorkerInit): KernelWorker {
  const { port1, port2 } = new MessageChannel();
  // Net.load's file-reading thread, when one is free over this memory, becomes the worker (no second start).
  const worker = ReadHelper.claim(init.memory, WORKER_PREAMBLE + loop, { ...init, errors: port2 }, [port2]) ?? new Worker(WORKER_PREAMBLE + loop, {
    eval: true,
    execArgv: [], // not the parent's: `node --input-type=module -e` would make this CommonJS source fail
    workerData: { ...init, errors: port2 },
    transferList: [port2],
  });
  // Workers never keep the process alive.
  worker.unref();
  port1.unref();
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    ready,
    takeError: () => receiveMessageOnPort(port1)?.message as string | undefined,
    async terminate() {
      port1.close();
      await worker.terminate();
    },
  };
}

/** A worker thread serving a net (dist/platform/node-net-worker.js: compiled code, also under vitest). */
function startNetWorker(): NetWorker {
  // Its temporaries (an HDF5Output write's) are told on a port: this thread's SIGINT and exit cleanup removes them.
  const { port1, port2 } = new MessageChannel();
  watchTemporaries(port1);
  const worker = new Worker(new URL('dist/platform/node-net-worker.js', ROOT), { execArgv: [], workerData: { temporaries: port2 }, transferList: [port2] });
  worker.unref(); // an idle net never keeps the process alive; pending runs do (keepAlive)
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    keepAlive: (on) => void (on ? worker.ref() : worker.unref()),
    listen(onMessage, onFailure) {
      worker.on('message', onMessage);
      worker.on('error', onFailure);
      worker.on('exit', (code) => onFailure(new Error(`the net's worker thread exited (code ${code})`)));
    },
    terminate: async () => void (await worker.terminate()),
  };
}

/**
 * The temporary directories of ONNX Runtime's model files: `crema-onnx-<pid>-<6 random>` under the system's
 * temporary folder, the pid the writing process's, so that a later process can tell whose they are.
 */
const MODEL_DIR = /^crema-onnx-(\d+)-[A-Za-z0-9]{6}$/;

/** A directory of MODEL_DIR younger than this is left alone, whoever wrote it (see sweepModelDirs). */
export const STALE_MS = 60_000;

/**
 * crema before round forty-four named them `crema-onnx-<6 random>`, without the pid: such a directory is swept once
 * it is an hour old (the process that wrote it held its files for the seconds of a session's creation).
 */
const LEGACY_DIR = /^crema-onnx-[A-Za-z0-9]{6}$/;
export const LEGACY_STALE_MS = 3_600_000;

/**
 * The model and its weights file in a fresh temporary directory, the weights written from the net's own memory.
 * They live for the seconds of the session's creation; a process killed then (SIGKILL, out of memory, Ctrl-C)
 * leaves them, hundreds of MB for a big net, and the next crema process sweeps them (sweepModelDirs). No SIGINT /
 * SIGTERM handler removes them: a library's listener changes what the signal does to the user's program (Node then
 * no longer exits, and re-raising calls the program's own listeners twice), and ONNX Runtime reads the model
 * synchronously, so a handler would only run once the files are gone anyway, the Ctrl-C waiting for the load.
 */
function onnxModelFiles({ model, location, weights }: ExternalModel): { path: string; remove(): boolean } {
  sweepModelDirs(tmpdir());
  const dir = fs.mkdtempSync(path.join(tmpdir(), `crema-onnx-${process.pid}-`));
  const remove = () => {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      return true;
    } catch {
      return false; // Windows: the weights are mapped until the session is released
    }
  };
  try {
    fs.writeFileSync(path.join(dir, 'model.onnx'), model);
    const fd = fs.openSync(path.join(dir, location), 'w');
    try {
      for (const { offset, bytes } of weights)
        for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, offset + done);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    remove();
    throw new CremaError(`cannot write the model for ONNX Runtime in ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { path: path.join(dir, 'model.onnx'), remove };
}

/**
 * @internal Removes from `dir` the model directories (MODEL_DIR, never a symlink) that crashed crema processes
 * left: those whose pid is no live process and that were last changed STALE_MS or more before `now`. The age
 * guards a live writer that this process cannot see (a container sharing the folder, another pid namespace):
 * its files exist for seconds. Whatever fails (a read-only or unreadable folder, another user's directory) is left
 * as it is: a sweep never fails the session. Returns the names removed.
 */
export function sweepModelDirs(dir: string, now = Date.now()): string[] {
  const removed: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const pid = MODEL_DIR.exec(entry.name)?.[1], legacy = pid === undefined && LEGACY_DIR.test(entry.name);
    if ((pid === undefined && !legacy) || !entry.isDirectory() || (pid !== undefined && alive(Number(pid)))) continue;
    const at = path.join(dir, entry.name);
    try {
      const stat = fs.lstatSync(at); // not followed: a link of the same name is no directory of ours
      if (!stat.isDirectory() || now - stat.mtimeMs < (legacy ? LEGACY_STALE_MS : STALE_MS) || (process.getuid && stat.uid !== process.getuid())) continue;
      fs.rmSync(at, { recursive: true }); // links inside are removed, not followed
      removed.push(entry.name);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/** Whether a process `pid` exists: signal 0 tests without sending; EPERM is a live process of another user. */
function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true; // 0 would test our process group: never swept
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** HDF5Output's files, as every output of crema (util/files.ts); h5wasm is imported at the first write. */
const hdf5Writer: Hdf5Writer = {
  check: checkOutput,
  write: async (file, datasets) => (await import('../caffe/hdf5.js')).writeHdf5File(file, datasets),
};

let h5wasmFound: boolean | undefined;

/** Whether the optional peer h5wasm is installed (resolved, not loaded: nothing pays for it until a file is written). */
function h5wasmInstalled(): boolean {
  if (h5wasmFound === undefined) {
    try {
      import.meta.resolve('h5wasm/node'); // its exports have an 'import' condition only: require.resolve cannot see it
      h5wasmFound = true;
    } catch {
      h5wasmFound = false;
    }
  }
  return h5wasmFound;
}

/** @internal The Node platform (installed below on import): not in the public types, whose lib need not know WebAssembly. */
export const nodePlatform: Platform = {
  name: 'node',
  readFile: (path) => readFileBytes(path),
  withFile: (path, read) => withOpenFile(path, (fd, size) => read(fileSource(fd, size))),
  writeFile: (path, bytes) => fs.writeFileSync(path, bytes),
  fileUrlPath: (url) => fileURLToPath(url),
  resolvePath: (file) => path.resolve(file),
  protoText: (name) => fs.readFileSync(new URL(`proto/${name}`, ROOT), 'utf8'),
  kernels,
  compileKernels,
  compileOptimized,
  env: (name) => process.env[name],
  cores: () => availableParallelism(),
  inWorkerThread: () => !isMainThread,
  collectGarbage,
  startKernelWorker,
  startNetWorker,
  startCopyHelper: (memory) => new ReadHelper(memory),
  // Imported when asked: startup loads nothing of ONNX (test/startup.test.ts).
  onnxRuntime: async () => (await import('../onnx/ort.js')).loadOrt(),
  onnxModelFiles,
  hdf5Writer: () => (h5wasmInstalled() ? hdf5Writer : 'missing'),
  async readHdf5Weights(source, label) {
    // h5wasm (an optional peer dependency) loads only when HDF5 weights come in: nothing else pays for it.
    const { readHdf5Weights } = await import('../caffe/hdf5.js').catch((err: unknown) => {
      if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
      throw new CremaError(`${label}: HDF5 weights need the optional peer dependency h5wasm (npm install h5wasm)`);
    });
    return readHdf5Weights(source, label);
  },
};

setPlatform(nodePlatform);
setPluginImporter(async (file) => {
  checkReadable(file); // `FILE: no such file`, `is a directory`, ... as every file a user names, not Node's resolver's words
  return (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown>;
});
