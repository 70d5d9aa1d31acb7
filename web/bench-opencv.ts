// opencv.js for the benchmark page (web/bench.ts), in a classic worker of its own: the first message brings the net
// and its input, each 'run' times one forward of its dnn module (synchronous, as opencv.js runs).
interface Mat {
  data32F: Float32Array;
  delete(): void;
}
interface OpenCv {
  FS_createDataFile(dir: string, name: string, data: Uint8Array, read: boolean, write: boolean, own: boolean): void;
  FS_unlink(path: string): void;
  readNetFromCaffe(prototxt: string, weights: string): { setInput(m: unknown): void; forward(): Mat };
  Mat: new (rows: number, cols: number, type: number, fill: unknown) => Mat;
  Scalar: new (...v: number[]) => unknown;
  Size: new (w: number, h: number) => unknown;
  blobFromImage(image: Mat, scale: number, size: unknown, mean: unknown, swapRB: boolean, crop: boolean): Mat;
  CV_32FC3: number;
}
interface Scope {
  importScripts(url: string): void;
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
  cv?: Partial<OpenCv>;
}
const scope = globalThis as unknown as Scope;

/**
 * opencv.js's runtime starts asynchronously: wait for its classes. Its Module is a thenable that resolves to itself,
 * so it is returned wrapped: resolving a promise with it calls its `then` again and again, forever, as microtasks (the
 * benchmark's old "stall": the page's thread spun there and never answered again).
 */
async function openCv(): Promise<{ cv: OpenCv }> {
  scope.importScripts('/bench/opencv.js');
  while (scope.cv?.Mat === undefined) await new Promise((r) => setTimeout(r, 50));
  return { cv: scope.cv as OpenCv };
}

let forward: (() => void) | undefined;

async function load(m: { prototxt: Uint8Array; weights: Uint8Array; dims: number[]; input: Float32Array }): Promise<void> {
  const { cv } = await openCv();
  scope.postMessage({ log: 'opencv.js started' });
  cv.FS_createDataFile('/', 'net.prototxt', m.prototxt, true, false, false);
  cv.FS_createDataFile('/', 'net.caffemodel', m.weights, true, false, false);
  const net = cv.readNetFromCaffe('net.prototxt', 'net.caffemodel');
  cv.FS_unlink('/net.caffemodel'); // opencv.js's memory ends at 1 GB: AlexNet's file and net would take half
  scope.postMessage({ log: 'opencv.js read the net' });
  // The input as a 4-D blob: blobFromImage makes one of the right size (its Mat constructor takes no N-D sizes).
  const [, , h, w] = m.dims;
  const image = new cv.Mat(h, w, cv.CV_32FC3, new cv.Scalar(0, 0, 0));
  const blob = cv.blobFromImage(image, 1, new cv.Size(w, h), new cv.Scalar(0, 0, 0, 0), false, false);
  image.delete();
  blob.data32F.set(m.input);
  forward = () => {
    net.setInput(blob);
    net.forward().delete();
  };
  forward(); // warm-up
}

scope.onmessage = (e) => {
  const reply = async () => {
    if (e.data !== 'run') return load(e.data).then(() => 0);
    const t0 = performance.now();
    forward!();
    return performance.now() - t0;
  };
  reply().then(
    (ms) => scope.postMessage({ ms }),
    // opencv.js throws numbers (C++ exception pointers) and strings too.
    (err: unknown) => scope.postMessage({ error: err instanceof Error ? err.message : `opencv.js failed: ${String(err)}` }),
  );
};
