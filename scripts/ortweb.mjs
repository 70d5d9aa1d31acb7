// onnxruntime-web (ONNX Runtime's own WebAssembly build, wasm execution provider) in Node, for `npm run bench`'s
// ortweb section: one worker thread per thread count. ORT-web's thread count (ort.env.wasm.numThreads) is read
// once, when its wasm module starts, and onnxruntime-common (its backend registry) is one per module graph, so a
// process gets one ORT-web thread count; a worker thread has a module graph of its own, so 1 and 2 threads run
// side by side in one process and can be interleaved with crema and onnxruntime-node like every other section.
// Inside the worker, ORT-web runs as in a page without its proxy worker: its pool threads (Emscripten pthreads)
// are worker threads of this process.
//
//   const web = await startOrtWeb(threads)      // undefined when onnxruntime-web is not installed
//   await web.load(onnxBytes, inputName, dims, data)  // one session, its input fixed
//   await web.run()                             // one forward (timed from here: the round trip, ~0.1 ms, included)
//   await web.run(true)                         // ... returning the first output's data (Float32Array)
//   await web.release(); await web.close()
import { createRequire } from 'node:module';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** Whether onnxruntime-web (an optional peer, a dev dependency here) can be imported. */
export function ortWebAvailable() {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-web');
    return true;
  } catch {
    return false;
  }
}

/** A worker thread running onnxruntime-web at `threads` threads (SIMD build, no proxy), or undefined without it. */
export async function startOrtWeb(threads) {
  if (!ortWebAvailable()) return undefined;
  const worker = new Worker(new URL(import.meta.url), { workerData: { threads } });
  let next = 0;
  const pending = new Map();
  const fail = (err) => {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
  };
  worker.on('message', ({ id, ok, value, error }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(`onnxruntime-web: ${error}`));
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`onnxruntime-web's worker exited (${code})`)));
  const call = (op, args = {}, transfer = []) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...args }, transfer);
    });
  const info = await call('init');
  return {
    threads,
    /** What the worker's ORT-web reports: its version, the thread count it started with, SIMD. */
    info,
    load: (bytes, input, dims, data) => call('load', { bytes, input, dims: [...dims], data }),
    run: (output = false) => call('run', { output }),
    release: () => call('release'),
    close: () => worker.terminate(),
  };
}

if (!isMainThread && workerData?.threads !== undefined) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = workerData.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  let session, feeds;
  const ops = {
    init: () => ({ version: ort.env.versions?.web ?? 'unknown', threads: ort.env.wasm.numThreads }),
    async load({ bytes, input, dims, data }) {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      feeds = { [input]: new ort.Tensor('float32', data, dims) };
      return { inputs: session.inputNames, outputs: session.outputNames };
    },
    async run({ output }) {
      const out = await session.run(feeds);
      const first = out[session.outputNames[0]].data;
      for (const t of Object.values(out)) t.dispose?.();
      return output ? first : undefined;
    },
    async release() {
      await session?.release();
      session = feeds = undefined;
    },
  };
  parentPort.on('message', async ({ id, op, ...args }) => {
    try {
      parentPort.postMessage({ id, ok: true, value: await ops[op](args) });
    } catch (e) {
      parentPort.postMessage({ id, ok: false, error: e?.message ?? String(e) });
    }
  });
}
