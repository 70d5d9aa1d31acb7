// onnxruntime-web for the benchmark page (web/bench.ts), in a module worker of its own: ONNX Runtime's own
// WebAssembly build (wasm execution provider, SIMD) at the page's thread count, its pool threads Web Workers it
// starts itself (the page is cross-origin isolated). The first message brings crema's ONNX file of the net and its
// input; each 'run' times one forward (session.run, in this worker). Loaded from /ort/ as `crema ui` serves it.
export {}; // a module (a module worker), its names its own

interface OrtTensor {
  dispose?(): void;
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { numThreads?: number; proxy?: boolean; wasmPaths?: string }; logLevel?: string; versions?: { web?: string } };
  InferenceSession: { create(bytes: Uint8Array, options: object): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}
interface Scope {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
}
const scope = globalThis as unknown as Scope;
const ORT = new URL('/ort/ort.wasm.bundle.min.mjs', location.origin).href;

let forward: (() => Promise<void>) | undefined;

async function load(m: { onnx: Uint8Array; dims: number[]; input: Float32Array; threads: number }): Promise<void> {
  const ort = (await import(/* @vite-ignore */ ORT)) as Ort;
  ort.env.wasm.numThreads = m.threads;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./', ORT).href;
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(m.onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', m.input, m.dims) };
  scope.postMessage({ log: `onnxruntime-web ${ort.env.versions?.web ?? ''} loaded the net: ${m.threads} thread${m.threads > 1 ? 's' : ''}` });
  forward = async () => {
    for (const t of Object.values(await session.run(feeds))) t.dispose?.();
  };
  await forward(); // warm-up
}

scope.onmessage = (e) => {
  const reply = async () => {
    if (e.data !== 'run') return load(e.data).then(() => 0);
    const t0 = performance.now();
    await forward!();
    return performance.now() - t0;
  };
  reply().then(
    (ms) => scope.postMessage({ ms }),
    (err: unknown) => scope.postMessage({ error: err instanceof Error ? err.message : `onnxruntime-web failed: ${String(err)}` }),
  );
};
