// The benchmark page (scripts/bench-browser.mjs): one net, batch 1, loaded into crema's engine worker (at the thread
// count asked), into opencv.js's dnn module (in a worker of its own: its forward is synchronous and would block
// this page for seconds, and with it the script's polling and the engine's replies) and into onnxruntime-web (in a
// module worker of its own, at the same thread count). The script drives the runs one at a time through
// `benchPage.run(kind)`, alternating with the same engine in Node, so that load from elsewhere lands on all of them.
// Reads /bench/net.prototxt, /bench/net.caffemodel, (for opencv) /bench/opencv.js and (for ortweb) /bench/net.onnx,
// crema's conversion of the net, with onnxruntime-web from /ort/.
import { Net } from '../src/browser/index.js';
import type { EngineStats } from '../src/browser/protocol.js';

const params = new URLSearchParams(location.search);
const threads = Number(params.get('threads') ?? 1);
const withOpenCv = params.get('opencv') !== '0';
const withOrtWeb = params.get('ortweb') === '1';
const out = document.getElementById('out')!;
const log = (line: string) => (out.textContent += `${line}\n`);

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A request to a worker (named by its `name`) answered by one message: { ms } or { error }. */
function ask(worker: Worker, name: string, message: unknown, transfer: Transferable[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ms?: number; error?: string; log?: string }>) => {
      if (e.data.log) log(e.data.log);
      else if (e.data.error) reject(new Error(`${name}: ${e.data.error}`));
      else resolve(e.data.ms ?? 0);
    };
    worker.onerror = (e) => reject(new Error(`the ${name} worker failed: ${e.message}`));
    worker.postMessage(message, transfer);
  });
}

/** One timed run: its time on the page (ms) and, for crema, what its engine counted meanwhile (EngineStats). */
type Sample = { ms: number } & Partial<EngineStats>;
type Runner = () => Promise<Sample>;

async function setup(): Promise<Record<string, Runner>> {
  const [prototxt, weights] = await Promise.all([bytes('/bench/net.prototxt'), bytes('/bench/net.caffemodel')]);
  log(`read the net: ${(weights.length / 1e6).toFixed(0)} MB of weights`);
  const net = await Net.load({ prototxt, weights: weights.slice() }, { threads });
  const ready = await net.engine.ready;
  log(`crema loaded it: kernels ${ready.kernels}, ${threads} thread${threads > 1 ? 's' : ''} (cross-origin isolated: ${ready.isolated})`);
  const name = net.inputs[0], dims = net.shapes.get(name)!;
  const input = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) - 128);
  const runners: Record<string, Runner> = {
    crema: async () => {
      const t0 = performance.now();
      await net.run({ [name]: { dims, data: input } });
      const ms = performance.now() - t0;
      return { ms, ...(await net.engine.call<EngineStats>({ op: 'stats', net: net.info.id })) };
    },
  };
  if (withOpenCv) {
    const worker = new Worker('bench-opencv.js', { name: 'opencv.js' });
    await ask(worker, 'opencv.js', { prototxt, weights, dims, input }, [prototxt.buffer, weights.buffer]);
    log('opencv.js loaded the net (in its worker)');
    runners.opencv = async () => ({ ms: await ask(worker, 'opencv.js', 'run') }); // timed in the worker: the forward alone
  }
  if (withOrtWeb) {
    const onnx = await bytes('/bench/net.onnx');
    const worker = new Worker('bench-ortweb.js', { name: 'onnxruntime-web', type: 'module' });
    await ask(worker, 'onnxruntime-web', { onnx, dims, input: input.slice(), threads }, [onnx.buffer]);
    runners.ortweb = async () => ({ ms: await ask(worker, 'onnxruntime-web', 'run') }); // timed in the worker: the forward alone
  }
  return runners;
}

// Polled by the script (a single long evaluate would outlast the DevTools protocol's timeout on a loaded machine).
const page = globalThis as unknown as { benchPage?: { run(kind: string): Promise<Sample> }; benchError?: string };
setup().then(
  (runners) => (page.benchPage = { run: (kind) => runners[kind]() }),
  (err: unknown) => (page.benchError = err instanceof Error ? err.message : String(err)),
);
