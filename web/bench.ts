// The benchmark page (scripts/bench-browser.mjs): one net, batch 1, timed in crema's engine worker (at the thread
// counts asked) and in opencv.js's dnn module (on this page's thread, as opencv.js runs), alternating runs so that
// load from elsewhere lands on both. Reads /bench/net.prototxt, /bench/net.caffemodel and /bench/opencv.js.
import { Net } from '../src/browser/index.js';

interface OpenCv {
  FS_createDataFile(dir: string, name: string, data: Uint8Array, read: boolean, write: boolean, own: boolean): void;
  readNetFromCaffe(prototxt: string, weights: string): { setInput(m: unknown): void; forward(): { delete(): void }; delete(): void };
  Mat: new (sizes: unknown, type: number) => unknown;
  CV_32F: number;
}

const params = new URLSearchParams(location.search);
const iterations = Number(params.get('iterations') ?? 5);
const threads = Number(params.get('threads') ?? 1);
const withOpenCv = params.get('opencv') !== '0';
const out = document.getElementById('out')!;
const log = (line: string) => (out.textContent += `${line}\n`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadOpenCv(): Promise<OpenCv> {
  await new Promise<void>((resolve, reject) => {
    const s = Object.assign(document.createElement('script'), { src: '/bench/opencv.js', onload: () => resolve(), onerror: () => reject(new Error('/bench/opencv.js did not load')) });
    document.head.append(s);
  });
  // opencv.js's runtime starts asynchronously, and its Module is a thenable that resolves to itself: wait until
  // its classes exist instead.
  const ready = () => (globalThis as unknown as { cv?: Partial<OpenCv> }).cv?.Mat !== undefined;
  while (!ready()) await new Promise((r) => setTimeout(r, 50));
  return (globalThis as unknown as { cv: OpenCv }).cv;
}

/** opencv.js's dnn module on the same net and input: a function running one forward. */
async function openCvRunner(prototxt: Uint8Array, weights: Uint8Array, dims: number[], input: Float32Array): Promise<() => void> {
  const cv = await loadOpenCv();
  log('opencv.js ready');
  cv.FS_createDataFile('/', 'net.prototxt', prototxt, true, false, false);
  cv.FS_createDataFile('/', 'net.caffemodel', weights, true, false, false);
  const cvNet = cv.readNetFromCaffe('net.prototxt', 'net.caffemodel');
  log('opencv.js loaded the net');
  // The same input as a 4-D blob (a Mat of the input's N x C x H x W size).
  const blob = new cv.Mat(dims, cv.CV_32F) as { data32F: Float32Array };
  blob.data32F.set(input);
  return () => {
    cvNet.setInput(blob);
    cvNet.forward().delete();
  };
}

async function main(): Promise<Record<string, number[]>> {
  const [prototxt, weights] = await Promise.all([bytes('/bench/net.prototxt'), bytes('/bench/net.caffemodel')]);
  log(`read the net: ${(weights.length / 1e6).toFixed(0)} MB of weights`);
  const net = await Net.load({ prototxt, weights }, { threads });
  log(`crema loaded it (${threads} thread${threads > 1 ? 's' : ''})`);
  const name = net.inputs[0], dims = net.shapes.get(name)!;
  const input = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) - 128);
  const samples: Record<string, number[]> = { crema: [] };
  const runCrema = async () => void (await net.run({ [name]: { dims, data: input } }));
  const runCv = withOpenCv ? await openCvRunner(prototxt, weights, dims, input) : undefined;
  if (runCv) samples.opencv = [];
  await runCrema(); // warm-up
  runCv?.();
  log('warmed up');
  for (let i = 0; i < iterations; i++) {
    let t0 = performance.now();
    await runCrema();
    samples.crema.push(performance.now() - t0);
    if (runCv) {
      t0 = performance.now();
      runCv();
      samples.opencv.push(performance.now() - t0);
    }
    log(`round ${i + 1}: ${Object.entries(samples).map(([k, v]) => `${k} ${v[v.length - 1].toFixed(1)} ms`).join(', ')}`);
  }
  for (const [k, v] of Object.entries(samples)) log(`${k}: median ${median(v).toFixed(1)} ms`);
  return samples;
}

// Polled by the script (a single long evaluate would outlast the DevTools protocol's timeout on a loaded machine).
main().then(
  (samples) => ((globalThis as { benchResult?: unknown }).benchResult = { samples }),
  (err: unknown) => ((globalThis as { benchResult?: unknown }).benchResult = { error: err instanceof Error ? err.message : String(err) }),
);
