// The page (`crema ui`) and crema's browser build in a real headless Chromium (Debian's `chromium` package, driven by
// puppeteer-core; never a downloaded browser). Every number the page shows is checked against the Node engine on the
// same files. CREMA_SCREENSHOTS=DIR saves the README's pictures of the page (npm run screenshots).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page, type WebWorker } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../src/detect/node.js';
import type { Detection, DetectOptions } from '../src/detect/options.js';
import { imageInput } from '../src/image/input.js';
import { loadImage } from '../src/image/load.js';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { freeSize, graphReshaper } from '../src/onnx/batch.js';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { Tensor } from '../src/tensor.js';
import * as ort from 'onnxruntime-node';
import { RECURRENT_NET, recurrentFeeds, recurrentWeights } from './helpers/recurrent.js';
import { EXTERNAL_ALIGN } from '../src/onnx/external.js';
import { decodeModel, encodeModel } from '../src/onnx/proto.js';
import { readBack } from './helpers/external.js';
import { colorize, detectPoses, edges, segment } from '../src/detect/node.js';
import { denseWeights } from './fixtures/dense/referee/weights.mjs';
import { colourLabels, edgeBytes, segmentClassLine, vocPalette } from '../src/detect/dense-view.js';
import { writeTinyPose } from './helpers/tinypose.js';
import { FRCNN_FIXTURE, writeFrcnnWeights } from './helpers/frcnn.js';
import { posesSvg } from '../src/detect/pose-draw.js';
import { type Person, partsLine, personLine, poseModel } from '../src/detect/pose-models.js';
import { detectFaces, loadMtcnn } from '../src/detect/faces.js';
import type { Face, MtcnnOptions } from '../src/detect/mtcnn.js';
import { faceLine } from '../src/detect/options.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { agreement } from '../src/verify/compare.js';
import { relativeDifference } from './helpers/reference.js';
import { type UiServer, startUiServer } from '../src/web/server.js';
import { expectSameDetections } from './helpers/detections.js';
import { flow as nodeFlow } from '../src/detect/node.js';
import { flowColors } from '../src/detect/flow.js';
import { flowPattern, flownetDir, flownetWeights } from './helpers/flownet.js';
import { sharedMissing } from './helpers/shared.js';

const CHROMIUM = process.env.CREMA_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.CREMA_SCREENSHOTS;
const root = path.resolve(import.meta.dirname, '..');
const model = (m: string, f: string) => path.join(root, 'models', m, f);
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`\n*** ${CHROMIUM} is missing: the browser tests are SKIPPED (apt-get install chromium; .ci/run installs it) ***\n`);

interface PageState {
  top: { index: number; label: string; prob: number }[];
  probs: number[];
  detections: Detection[];
  downloads: { name: string; bytes: Uint8Array }[];
  loaded: number;
}
/** The part of the browser library the tests call inside the page (cremaPage.crema). */
interface BrowserLib {
  decodeImage(source: Blob, color: boolean): Promise<{ height: number; width: number; channels: number; data: Float32Array }>;
  Engine: new (url?: string, options?: { onnxRuntime?: string; h5wasm?: string }) => { ready: Promise<unknown>; terminate(): void };
  Net: {
    load(files: { prototxt: string; weights?: Uint8Array }, options: { engine: unknown }): Promise<{
      run(feeds: unknown, options: { backend: string; fetches?: string[] }): Promise<unknown>;
      detect(image: unknown, options: Record<string, unknown>): Promise<Detection[]>;
      segment(image: unknown, options?: Record<string, unknown>): Promise<{ width: number; height: number; labels: Uint8Array; classes: { label: number; pixels: number }[] }>;
      edges(image: unknown, options?: Record<string, unknown>): Promise<{ width: number; height: number; data: Float32Array }>;
      detectPoses(image: unknown, options?: Record<string, unknown>): Promise<Person[]>;
    }>;
  };
  detectFaces(nets: Record<string, unknown>, image: unknown, options?: Record<string, unknown>): Promise<Face[]>;
}
/** The browser library's Net.load with a memory plan, and the calls its test makes. */
interface PlannedLib {
  Engine: BrowserLib['Engine'];
  Net: {
    load(files: { prototxt: string }, options: { engine: unknown; keepBlobs: 'all' | string[] }): Promise<{
      run(feeds: unknown, options: { backend: string; fetches?: string[] }): Promise<Record<string, { data: Float32Array }>>;
      verify(feeds: unknown): Promise<{ pass: boolean; blobs: { blob: string }[] }>;
      dispose(): Promise<void>;
    }>;
  };
}
/** TinyFlow (test/fixtures/flownet/tiny): a FlowNet-shaped template whose committed weights are 12 kB, for flow() whole. */
const tinyTemplate = path.join(flownetDir, 'tiny/TinyFlow.prototxt.template'), tinyWeights = path.join(flownetDir, 'tiny/TinyFlow.caffemodel');

/** A flowPattern written as a PNG into `dir`: its path. */
async function patternPng(dir: string, name: string, w: number, h: number, dx: number, dy: number): Promise<string> {
  await sharp(flowPattern(w, h, dx, dy), { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(dir, name));
  return path.join(dir, name);
}

const pageState = (page: Page) => page.evaluate(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage);

/** Faces found in the page as the Node library finds them: as many, each score, corner and landmark within `tolerance`. */
function expectSameFaces(got: Face[], expected: Face[], tolerance: number): void {
  expect(got).toHaveLength(expected.length);
  got.forEach((f, i) => {
    const e = expected[i];
    const off = [f.score - e.score, f.xmin - e.xmin, f.ymin - e.ymin, f.xmax - e.xmax, f.ymax - e.ymax, ...f.landmarks.flatMap(([x, y], j) => [x - e.landmarks[j][0], y - e.landmarks[j][1]])];
    expect(Math.max(...off.map(Math.abs)), `face ${i}`).toBeLessThanOrEqual(tolerance);
  });
}

/** The Node library's faces: by default the shipped MTCNN's on its example (crema faces models/mtcnn models/mtcnn/examples/handshake.jpg). */
async function nodeFaces(dir = model('mtcnn', ''), image = model('mtcnn', 'examples/handshake.jpg'), backend: 'native' | 'onnx' = 'native', options: MtcnnOptions = {}): Promise<Face[]> {
  const nets = await loadMtcnn(dir, { threads: 2 });
  try {
    return await detectFaces(nets, image, { backend, ...options });
  } finally {
    for (const n of Object.values(nets)) n.dispose();
  }
}

/** Waits for the page's "Find faces" to publish its faces (or an error, which fails the test) and returns them. */
async function pageFaces(page: Page): Promise<Face[]> {
  await page.waitForFunction('cremaPage.faces.length > 0 || document.getElementById("error").textContent');
  expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
  return page.evaluate(() => (globalThis as unknown as { cremaPage: { faces: Face[] } }).cremaPage.faces);
}

// OpenPose's body, hand and face stand-ins and the photo of test/openpose-parts.test.ts, at its resolutions.
const wholeDir = path.join(root, 'test/fixtures/openpose/wholeparts');
const wholeSizes = { netResolution: [-1, 64] as [number, number], netSide: 48 };
const wholeFile = (name: string, ext: string) => path.join(wholeDir, `${name}.${ext}`);
/** The three nets' files for the page: the prototxt's text, the weights in base64. */
const wholeFiles = () =>
  Object.fromEntries(['body', 'hand', 'face'].map((n) => [n, { prototxt: fs.readFileSync(wholeFile(n, 'prototxt'), 'utf8'), weights: fs.readFileSync(wholeFile(n, 'caffemodel')).toString('base64') }])) as Record<'body' | 'hand' | 'face', { prototxt: string; weights: string }>;

/** The Node library's people, faces and hands on the photo (detectPoses with the three nets). */
async function nodeWholeParts(backend: 'native' | 'onnx', more: { handScaleNumber?: number; handScaleRange?: number } = {}, withFace = true): Promise<Person[]> {
  const [body, hand, face] = await Promise.all(['body', 'hand', 'face'].map((n) => Net.load(wholeFile(n, 'prototxt'), wholeFile(n, 'caffemodel'), { threads: 2 })));
  try {
    const { netResolution, netSide } = wholeSizes;
    return await detectPoses(body, path.join(wholeDir, '../images/photo.png'), { netResolution, hand, face: withFace ? face : undefined, handNetResolution: netSide, faceNetResolution: netSide, backend, ...more });
  } finally {
    for (const n of [body, hand, face]) n.dispose();
  }
}

/** The same people (as many, the same parts found) with every score, keypoint, face and hand within `tolerance`. */
function expectSamePeople(got: Person[], expected: Person[], tolerance: number): void {
  expect(got).toHaveLength(expected.length);
  const numbers = (p: Person) => [p.score, ...[p.keypoints, p.face ?? [], p.handLeft ?? [], p.handRight ?? []].flat(2)];
  got.forEach((p, i) => {
    const want = numbers(expected[i]), have = numbers(p);
    expect(have.length, `person ${i}`).toBe(want.length);
    expect(Math.max(...have.map((v, k) => Math.abs(v - want[k]))), `person ${i}`).toBeLessThanOrEqual(tolerance);
  });
}

/** What the Node library gives on one of test/fixtures/dense's nets (its weights made in memory), in `dialect`. */
async function nodeDense<T>(kind: 'fcn8s' | 'rcf' | 'hed', run: (net: Net) => Promise<T>, dialect?: 'hed' | 'faceboxes'): Promise<T> {
  const net = await Net.load(path.join(root, 'test/fixtures/dense', kind, 'net.prototxt'), denseWeights(kind), { threads: 2, dialect });
  try {
    return await run(net);
  } finally {
    net.dispose();
  }
}

async function launch(): Promise<{ browser: Browser; profile: string }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, profile };
}

async function open(browser: Browser, url: string, width = 1280, height = 800): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  // Puppeteer's 30 s default: verify of CIFAR-10 through onnxruntime-web took 32.9 s once while the whole suite ran on
  // the 2-core CI host (25 s for the file alone). Waits end on the page's state; the test's own timeout (120 s) stays.
  page.setDefaultTimeout(100_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewport({ width, height });
  await page.goto(url);
  return { page, errors };
}

/** Waits until the page has loaded `count` nets, or shows an error (returned). */
async function waitLoaded(page: Page, count = 1): Promise<string> {
  await page.waitForFunction(`cremaPage.loaded >= ${count} || document.getElementById('error').textContent`);
  return page.$eval('#error', (e) => e.textContent ?? '');
}

/**
 * A mouse click on what the selector names, once it is shown. Puppeteer's click reads the element's box and then
 * clicks its centre; under load the page's layout can move between the two ("Node is either not clickable or not an
 * Element"), so that one failure is retried a few times (round forty-one's flaky #verify click).
 */
/**
 * Each Detect publishes its detections (and a net's loading clears them): counted, so that a run giving the same
 * ones is seen. runs(): how many so far; detected(before): the detections once there are more than `before`, the
 * page's error line empty; detectedInOnnx(...wanted): Detect again with the ONNX backend picked, its detections
 * the same as each of `wanted` (as sets, within 1e-4) and the run said to be onnxruntime-web's.
 */
async function countDetections(page: Page, timeout?: number): Promise<{ runs: () => Promise<number>; detected: (before: number) => Promise<Detection[]>; detectedInOnnx: (...wanted: Detection[][]) => Promise<void> }> {
  await page.evaluate(`{
    let runs = 0, found = cremaPage.detections;
    Object.defineProperty(cremaPage, 'detections', { get: () => found, set: (v) => { found = v; runs++; } });
    Object.defineProperty(cremaPage, 'detectionRuns', { get: () => runs });
  }`);
  const runs = () => page.evaluate('cremaPage.detectionRuns') as Promise<number>;
  const detected = async (before: number) => {
    await page.waitForFunction(`cremaPage.detectionRuns > ${before} || document.getElementById('error').textContent`, { timeout });
    expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
    return (await pageState(page)).detections;
  };
  const detectedInOnnx = async (...wanted: Detection[][]) => {
    await page.select('#backend', 'onnx');
    const before = await runs();
    await click(page, '#run');
    const onnx = await detected(before);
    for (const w of wanted) expectSameDetections(onnx, w, 1e-4);
    expect(await page.$eval('#run-time', (e) => e.textContent)).toContain('ONNX Runtime Web');
  };
  return { runs, detected, detectedInOnnx };
}

async function click(page: Page, selector: string): Promise<void> {
  await page.waitForSelector(selector, { visible: true });
  for (let tries = 1; ; tries++) {
    try {
      return await page.click(selector);
    } catch (e) {
      if (tries >= 5 || !/not clickable/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 100 * tries));
    }
  }
}

/** A field's text replaced by `value`, typed as a user types it. */
async function fill(page: Page, selector: string, value: string): Promise<void> {
  await page.$eval(selector, (e) => ((e as unknown as { value: string }).value = ''));
  await page.type(selector, value);
}

/**
 * The README's picture `name` of the page, or of what `selector` names; cut below what `until` names (a long list).
 * Written quantised to a palette (sharp's libimagequant at quality 95): a third of Chromium's PNG, the text as sharp.
 */
async function shot(page: Page, name: string, selector?: string, until?: string): Promise<void> {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  let png: Uint8Array;
  if (!selector) {
    await page.evaluate('scrollTo(0, 0)'); // the page from its top (showing a blob scrolls to it)
    png = await page.screenshot();
  } else {
    const element = (await page.$(selector))!, box = (await element.boundingBox())!;
    const end = until && (await (await page.$(until))?.boundingBox());
    png = await element.screenshot(end ? { clip: { x: 0, y: 0, width: box.width, height: Math.min(box.height, end.y + end.height + 2 - box.y) } } : {});
  }
  await sharp(png).png({ palette: true, quality: 95, effort: 10 }).toFile(path.join(SHOTS, name));
}

/** What the engine worker gave onnxruntime-web for a session (see spyOnSessions). */
interface SpiedSession {
  model: string;
  external: { path: string; data: string; bytes: number; viewOfMore: boolean; shared: boolean }[];
  oneBuffer: boolean;
  runs: unknown[];
}

/**
 * Wraps, in the engine worker, onnxruntime-web's InferenceSession.create (the module the engine imports from `ort`:
 * the same instance) to record what each session is made from (the model's bytes and externalData, as base64; whether
 * the external tensors are views on one larger buffer, the kernels' memory, rather than arrays of their own) and its
 * sessions' runs (feeds copied, results), for sessionFromBytes.
 */
async function spyOnSessions(page: Page, ort: string, which: 'first' | 'last' = 'first'): Promise<WebWorker> {
  const engines = page.workers().filter((w) => w.url().includes('crema-worker')), worker = which === 'first' ? engines[0] : engines.at(-1)!;
  await worker.evaluate(async (url) => {
    type Ort = typeof import('onnxruntime-web');
    const module = (await new Function('url', 'return import(url)')(url)) as Ort; // written out: vitest rewrites an import() here
    const g = globalThis as unknown as { spied: unknown[]; create: Ort['InferenceSession']['create'] };
    const base64 = (u8: Uint8Array) => {
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
      return btoa(s);
    };
    g.spied = [];
    g.create = module.InferenceSession.create.bind(module.InferenceSession);
    module.InferenceSession.create = (async (model: Uint8Array, options: Parameters<Ort['InferenceSession']['create']>[1]) => {
      const given = (options?.externalData ?? []) as { path: string; data: Uint8Array }[];
      const record = {
        model: base64(model),
        options: { ...options, externalData: undefined },
        external: given.map((e) => ({ path: e.path, data: base64(e.data), bytes: e.data.byteLength, viewOfMore: e.data.buffer.byteLength > e.data.byteLength, shared: typeof SharedArrayBuffer !== 'undefined' && e.data.buffer instanceof SharedArrayBuffer })),
        oneBuffer: new Set(given.map((e) => e.data.buffer)).size === 1,
        runs: [] as unknown[],
      };
      g.spied.push(record);
      const session = await g.create(model, options);
      const run = session.run.bind(session) as (feeds: Record<string, InstanceType<Ort['Tensor']>>, fetches: string[]) => Promise<unknown>;
      (session as unknown as { run: typeof run }).run = async (feeds, fetches) => {
        const copied = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new module.Tensor('float32', (t.data as Float32Array).slice(), t.dims)]));
        const results = await run(feeds, fetches);
        record.runs.push({ feeds: copied, fetches, results });
        return results;
      };
      return session;
    }) as Ort['InferenceSession']['create'];
  }, ort);
  return worker;
}

/**
 * Spied session `index`'s last run again, in a session made from `model`'s bytes with the same options: each
 * result's values, the spied session's and the new one's. (By index: the page may open another session, the blob
 * view's, between the test's read of the sessions and this call.)
 */
async function sessionFromBytes(worker: WebWorker, model: Uint8Array, index: number): Promise<[string, number[], number[]][]> {
  return worker.evaluate(async (bytes, index) => {
    type Ort = typeof import('onnxruntime-web');
    type Run = { feeds: Record<string, InstanceType<Ort['Tensor']>>; fetches: string[]; results: Record<string, InstanceType<Ort['Tensor']>> };
    const g = globalThis as unknown as { spied: { options: object; runs: Run[] }[]; create: Ort['InferenceSession']['create'] };
    const spied = g.spied[index], { feeds, fetches, results } = spied.runs.at(-1)!;
    const session = await g.create(Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0)), spied.options);
    const again = await session.run(feeds, fetches);
    await session.release();
    return Object.keys(results).map((k) => [k, Array.from(results[k].data as Float32Array), Array.from(again[k].data as Float32Array)] as [string, number[], number[]]);
  }, Buffer.from(model).toString('base64'), index);
}

/** CIFAR-10 full and the cat, through the Node engine, as the README's classify command. */
async function nodeCat(): Promise<{ net: Net; prob: Float32Array }> {
  const net = await Net.load(model('cifar10_full', 'deploy.prototxt'), model('cifar10_full', 'weights.caffemodel'));
  const data = await imageInput(model('cifar10_full', 'examples/cat.jpg'), net.shapes.get('data')!, { channelSwap: [0, 1, 2], mean: { perChannel: Float64Array.from([125, 123, 114]) } });
  return { net, prob: net.forward({ data }).prob.data.slice() };
}

describe.skipIf(!haveChromium)('the page in Chromium (crema ui)', () => {
  let server: UiServer, plain: UiServer, browser: Browser, profile: string;
  let node: { net: Net; prob: Float32Array };

  beforeAll(async () => {
    [server, plain, { browser, profile }, node] = await Promise.all([startUiServer({ port: 0 }), startUiServer({ port: 0, isolated: false }), launch(), nodeCat()]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([server?.close(), plain?.close()]);
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('loads the shipped CIFAR-10 from bytes and classifies the cat exactly as Node does, threads shared (COOP/COEP)', async () => {
    const { page, errors } = await open(browser, `${server.url}?model=cifar10_full`);
    expect(await waitLoaded(page)).toBe('');
    expect(await page.$eval('#totals', (e) => e.textContent)).toMatch(/14 layers, 89,578 parameters, 12,390,400 multiply-adds.*kernels: fma, 2 threads/);
    await click(page, '#examples button');
    await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
    expect(await page.$eval('#top li', (e) => e.textContent)).toBe('0.5820 - "cat"');
    expect((await pageState(page)).probs).toEqual([...node.prob]);
    await page.waitForSelector('#blob-stats:not(:empty)');
    await shot(page, 'web-page.png', 'body', '#classify'); // from the top to the cat's classes
    await shot(page, 'web-graph.png', '#graph-box');
    expect(errors).toEqual([]);

    // norm1: its blob from the graph (a click), then the LRN view from the layer table (the keyboard).
    await click(page, '#graph g.node[data-id="blob:norm1"]');
    expect(await page.$eval('#blob-title', (e) => e.textContent)).toBe('Blob norm1');
    expect(await page.$eval('#blob-stats', (e) => e.textContent)).toMatch(/^1×32×16×16: min /);
    expect(await page.$eval('#grid', (e) => [Number(e.getAttribute('width')) > 0, Number(e.getAttribute('height')) > 0])).toEqual([true, true]);
    await shot(page, 'web-blob.png', '#blob-box');
    await page.focus('#layers tbody tr[data-layer="4"]');
    await page.keyboard.press('Enter');
    expect(await page.$eval('#lrn-box', (e) => e.hasAttribute('hidden'))).toBe(false);
    expect(await page.$eval('#lrn-formula', (e) => e.textContent)).toContain('α/n² = 0.00005/9');
    expect(await page.$eval('#lrn-formula', (e) => e.textContent)).toContain('k = 1 is ignored, as in Caffe');
    expect(await page.$eval('#lrn-in-caption', (e) => e.textContent)).toBe('input pool1');
    await shot(page, 'web-lrn.png', '#lrn-box');

    // Per-layer timing fills the table's last column.
    await click(page, '#time');
    await page.waitForFunction(`document.querySelector('#layers tbody tr[data-layer="1"] td:last-child').textContent !== ''`);
    expect(await page.$eval('#layers tbody tr[data-layer="1"] td:last-child', (e) => Number(e.textContent))).toBeGreaterThan(0);
    await page.close();
  });

  it('converts to ONNX in the browser: the download is the file the Node converter writes', async () => {
    const { page } = await open(browser, `${server.url}?model=cifar10_full`);
    expect(await waitLoaded(page)).toBe('');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-download-'));
    try {
      const cdp = await page.createCDPSession();
      await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
      await click(page, '#convert');
      const file = path.join(dir, 'CIFAR10_full_deploy.onnx');
      for (let i = 0; i < 600 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 50));
      const bytes = fs.readFileSync(file);
      const expected = encodeConversion(convertGraph(node.net.graph));
      expect(bytes.length).toBe(expected.length);
      expect([...bytes.subarray(0, 16)]).toEqual([...expected.subarray(0, 16)]);
      expect(Buffer.compare(bytes, Buffer.from(expected))).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('runs CIFAR-10 through onnxruntime-web (the ONNX backend) within tolerance of Node, and shows verify\'s table', async () => {
    const { page, errors } = await open(browser, `${server.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      await page.select('#backend', 'onnx');
      await click(page, '#examples button');
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await page.$eval('#top li', (e) => e.textContent)).toBe('0.5820 - "cat"');
      expect(await page.$eval('#run-time', (e) => e.textContent)).toContain('ONNX Runtime Web');
      const probs = (await pageState(page)).probs;
      expect(probs).toHaveLength(10);
      expect(agreement(probs, node.prob).rel).toBeLessThanOrEqual(1e-4);
      expect(probs).not.toEqual([...node.prob]); // a different engine (ONNX Runtime's kernels), not crema's again

      // Verify: every blob, crema's engine vs onnxruntime-web, on the cat.
      await click(page, '#verify');
      await page.waitForSelector('#verify-box:not([hidden])');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await page.$eval('#verify-summary', (e) => e.textContent)).toMatch(/^PASS: 11 blobs on the image cat\.jpg, every blob within 0\.0001\./);
      const rows = await page.$$eval('#verify-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(rows.map((r) => r[0])).toEqual([...node.net.blobs.keys()]);
      for (const [blob, , abs, rel, ok] of rows) {
        expect(ok, blob!).toBe('yes');
        expect(Number(rel), blob!).toBeLessThanOrEqual(1e-4);
        expect(Number(abs), blob!).toBeGreaterThanOrEqual(0);
      }
      await shot(page, 'web-verify.png', '#verify-box');
      expect(errors).toEqual([]);

      // Without onnxruntime-web where the engine is told to find it: a one-line error saying how to add it.
      const missing = await page.evaluate(async (onnxRuntime) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine(undefined, { onnxRuntime });
        const net = await crema.Net.load({ prototxt: 'input: "x" input_shape { dim: 1 dim: 2 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }' }, { engine });
        return net.run({ x: { dims: [1, 2], data: Float32Array.of(-1, 1) } }, { backend: 'onnx' }).then(
          () => 'ran',
          (err: Error) => `${err.name}: ${err.message}`,
        );
      }, `${server.url}no-ort/ort.mjs`);
      expect(missing).toMatch(/^CremaError: ONNX Runtime Web did not load from http:\/\/127\.0\.0\.1:\d+\/no-ort\/ort\.mjs: .* \(the ONNX backend in a browser needs the optional peer dependency onnxruntime-web: npm install onnxruntime-web\)$/);
      expect(missing).not.toContain('\n');
    } finally {
      await page.close();
    }
  });

  it("verify at a tolerance the page's field sets tiny: FAIL, the failing blobs named and marked, a blob that only follows its input's difference saying so", async () => {
    const { page, errors } = await open(browser, `${server.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      await click(page, '#examples button');
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
      const setTolerance = (text: string) => page.$eval('#verify-tolerance', (e, t) => void ((e as unknown as { value: string }).value = t), text);
      // A tolerance that is not positive: one line, and no verify.
      await setTolerance('-1');
      await click(page, '#verify');
      await page.waitForFunction("document.getElementById('error').textContent");
      expect(await page.$eval('#error', (e) => e.textContent)).toBe("Tolerance must be a positive number, got '-1'");
      expect(await page.$eval('#verify-box', (e) => e.hasAttribute('hidden'))).toBe(true);

      // 1e-6: below what two engines' float32 sums agree to on CIFAR-10's convolutions (~3e-6), above their other layers'.
      await setTolerance('1e-6');
      await click(page, '#verify');
      await page.waitForSelector('#verify-box:not([hidden])');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const summary = await page.$eval('#verify-summary', (e) => e.textContent ?? '');
      const rows = await page.$$eval('#verify-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows.map((r) => r[0])).toEqual([...node.net.blobs.keys()]);
      // Each row's verdict is its relative difference against the tolerance; the summary names the failing rows.
      for (const [blob, , , rel, ok] of rows) expect(ok === 'yes', `${blob}: ${rel} ${ok}`).toBe(Number(rel) <= 1e-6);
      const failed = rows.filter((r) => r[4] !== 'yes').map((r) => r[0]);
      expect(failed.length).toBeGreaterThan(0);
      expect(summary.startsWith(`FAIL: 11 blobs on the image cat.jpg, ${failed.length} blob(s) out of tolerance: ${failed.join(', ')}`), summary).toBe(true);
      // A blob out of tolerance only by its input says which (its row and its note); another is the layer's own ('NO').
      const follows = rows.flatMap(([blob, , , , ok]) => (/^no: follows /.test(ok) ? [[blob, ok.slice('no: follows '.length)]] : []));
      expect(follows.length, summary).toBeGreaterThan(0);
      expect(rows.some((r) => r[4] === 'NO'), summary).toBe(true);
      for (const [blob, input] of follows) {
        expect(failed).toContain(input);
        expect(summary).toContain(`'${blob}' follows from '${input}' (out of tolerance): its layer '${blob}' (`);
      }
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("refuses an unknown layer type in Node's line, pointing plugins to Node (the browser's engine takes none: it offered options.plugins)", async () => {
    const prototxt = 'input: "x" input_shape { dim: 1 dim: 2 } layer { name: "f" type: "Frobnicate" bottom: "x" top: "y" }';
    const inNode = await Net.load(Buffer.from(prototxt)).then(() => 'loaded', (err: Error) => err.message);
    const { page, errors } = await open(browser, `${server.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      const said = await page.evaluate(async (text) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        return crema.Net.load({ prototxt: text }, { engine: new crema.Engine() }).then(() => 'loaded', (err: Error) => `${err.name}: ${err.message}`);
      }, prototxt);
      const known = inNode.split(' (listed by')[0];
      expect(known).toMatch(/^layer 'f': unknown layer type 'Frobnicate'; crema knows \d+ types$/);
      expect(said).toBe(`CremaError: ${known} (listed by README.md's "Layers, by family"); plugins run in Node's crema (--plugin FILE.js or options.plugins: README.md's "Plugins"), not in the browser's`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("finds onnxruntime-web at a URL relative to the page (the README's '/ort/…', or 'ort/…'), not to the engine worker's script; a URL that is none is one line", async () => {
    const { page, errors } = await open(browser, `${server.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      const got = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const said = (f: () => Promise<unknown>) => f().then((v) => v, (err: Error) => `${err.name}: ${err.message}`);
        const relu = async (onnxRuntime: string) => {
          const engine = new crema.Engine(undefined, { onnxRuntime });
          try {
            const net = await crema.Net.load({ prototxt: 'input: "x" input_shape { dim: 1 dim: 2 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }' }, { engine });
            const out = (await net.run({ x: { dims: [1, 2], data: Float32Array.of(-1, 1) } }, { backend: 'onnx' })) as { y: { data: Float32Array } };
            return [...out.y.data];
          } finally {
            engine.terminate(); // its worker (and onnxruntime-web's) ended here, not left running with the page
          }
        };
        return {
          rootRelative: await said(() => relu('/ort/ort.wasm.bundle.min.mjs')),
          relative: await said(() => relu('ort/ort.wasm.bundle.min.mjs')),
          none: await said(async () => new crema.Engine(undefined, { onnxRuntime: 'http://[' })),
        };
      });
      expect(got.rootRelative).toEqual([0, 1]);
      expect(got.relative).toEqual([0, 1]);
      expect(got.none).toBe("CremaError: new Engine: options.onnxRuntime 'http://[' is not a URL (absolute, or relative to the page)");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it.each([
    ['shared (COOP/COEP)', true],
    ['unshared (no cross-origin isolation)', false],
  ])("gives onnxruntime-web the model without its large tensors, those as externalData views of the net's weights, the kernels' memory %s: the outputs of a session from the bytes, bit for bit", async (_, isolated) => {
    const site = isolated ? server : plain;
    const { page, errors } = await open(browser, `${site.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      const worker = await spyOnSessions(page, `${site.url}ort/ort.wasm.bundle.min.mjs`);
      await page.select('#backend', 'onnx');
      await click(page, '#examples button');
      await page.waitForFunction("cremaPage.top.length > 0 || document.getElementById('error').textContent");
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await page.$eval('#top li', (e) => e.textContent)).toBe('0.5820 - "cat"');
      const spied = await worker.evaluate(() => (globalThis as unknown as { spied: SpiedSession[] }).spied.map(({ model, external, oneBuffer, runs }) => ({ model, external, oneBuffer, ran: runs.length > 0 })));
      // conv2's and conv3's weights (102,400 and 204,800 bytes): the tensors of EXTERNAL_ALIGN bytes or more
      const big = convertGraph(node.net.graph).model.graph.initializer.filter((t) => t.raw_data.length >= EXTERNAL_ALIGN);
      expect(big.map((t) => t.raw_data.length)).toEqual([102_400, 204_800]);
      expect(spied.length).toBeGreaterThan(0); // the classification's session, then one for the blob view's blobs too
      for (const { external, oneBuffer } of spied) {
        expect(external.map((e) => [e.path, e.bytes])).toEqual(big.map((t, i) => [`weights-${i}.bin`, t.raw_data.length]));
        // shared: views on one larger buffer, the kernels' memory; unshared: the arrays Net.load decoded the weights
        // into (it puts them in the kernels' memory only where that is shared), each its whole buffer
        expect([oneBuffer, external.map((e) => [e.viewOfMore, e.shared])]).toEqual([isolated, [[isolated, isolated], [isolated, isolated]]]);
      }
      const index = spied.findLastIndex((r) => r.ran), { model, external } = spied[index];
      const outer = Buffer.from(model, 'base64');
      expect(outer.length).toBeLessThan(90_000); // CIFAR-10's 358,312 bytes of weights less the two moved
      const files = new Map(external.map((e) => [e.path, new Uint8Array(Buffer.from(e.data, 'base64'))]));
      const full = encodeModel(readBack(outer, (location) => files.get(location)!));
      const outputs = await sessionFromBytes(worker, full, index);
      expect(outputs.map(([name]) => name)).toContain('prob');
      for (const [name, viaExternal, viaBytes] of outputs) expect(viaExternal, name).toEqual(viaBytes);
      expect(agreement(outputs.find(([name]) => name === 'prob')![1], node.prob).rel).toBeLessThanOrEqual(1e-4);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("runs BVLC's LSTM and RNN as one size-free Scan model in onnxruntime-web, at two sequence lengths, as onnxruntime-node and the native engine do", async () => {
    // test/helpers/recurrent.ts: four LSTMs and two RNNs whose T is the input's width and N its height, as a line
    // reader's; converted --any-size (a Scan over the run's T per layer), run at (N, T) = (2, 7) and (3, 12).
    const weights = recurrentWeights(), sizes: [number, number][] = [[2, 7], [3, 12]];
    const native = Net.fromNetParameter(parsePrototxt(RECURRENT_NET, 'recurrent.prototxt') as NetParameter, new Map(Object.entries(weights)));
    const tops = native.layers.filter((l) => l.type === 'LSTM' || l.type === 'RNN').flatMap((l) => l.tops);
    const conversion = convertGraph(native.graph, { anySize: true, outputs: tops });
    expect(freeSize(native.graph, conversion, graphReshaper(native.graph), { outputs: tops })).toBeUndefined();
    const bytes = encodeConversion(conversion);
    expect(conversion.model.graph.node.filter((n) => n.op_type === 'Scan')).toHaveLength(6);
    const nodeOrt = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    const expected: { native: Record<string, Tensor>; node: Record<string, Tensor> }[] = [];
    for (const [N, T] of sizes) {
      const feeds = recurrentFeeds(N, T);
      native.reshape(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, [...t.dims]])));
      const forward = native.forward(feeds), results = await nodeOrt.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor('float32', t.data, [...t.dims])])));
      expected.push({
        native: Object.fromEntries(tops.map((b) => [b, new Tensor([...forward[b].dims], forward[b].data.slice())])),
        node: Object.fromEntries(tops.map((b) => [b, new Tensor([...results[conversion.outputs.get(b)!].dims], results[conversion.outputs.get(b)!].data as Float32Array)])),
      });
    }
    await nodeOrt.release();
    native.dispose();
    const caffemodel = encodeCaffemodel({ name: 'recurrent', layer: Object.entries(recurrentWeights()).map(([name, blobs]) => ({ name, blobs: blobs.map((b) => ({ shape: { dim: [...b.dims] }, data: b.data })) })) });
    const { page, errors } = await open(browser, server.url);
    try {
      const ortUrl = `${server.url}ort/ort.wasm.bundle.min.mjs`;
      const feedList = sizes.map(([N, T]) => Object.fromEntries(Object.entries(recurrentFeeds(N, T)).map(([n, t]) => [n, { dims: [...t.dims], data: Array.from(t.data) }])));
      type Plain = Record<string, { dims: number[]; data: number[] }>;
      // Node's size-free model in onnxruntime-web itself: one session, both sizes.
      const direct = await page.evaluate(async (ortUrl, model64, feedList) => {
        type Ort = typeof import('onnxruntime-web');
        const module = (await new Function('url', 'return import(url)')(ortUrl)) as Ort; // written out: vitest rewrites an import() here
        const session = await module.InferenceSession.create(Uint8Array.from(atob(model64), (c) => c.charCodeAt(0)));
        const out: Plain[] = [];
        for (const feeds of feedList) {
          const results = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new module.Tensor('float32', Float32Array.from(t.data), t.dims)])));
          out.push(Object.fromEntries(Object.entries(results).map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data as Float32Array) }])));
        }
        await session.release();
        return out;
      }, ortUrl, Buffer.from(bytes).toString('base64'), feedList);
      // The browser library's run with the ONNX backend: its engine worker's sessions spied on (one, the Scan model's).
      await page.evaluate(async (ortUrl, prototxt, weights64) => {
        const g = globalThis as unknown as { cremaPage: { crema: BrowserLib }; recurrent: unknown };
        const engine = new g.cremaPage.crema.Engine(undefined, { onnxRuntime: ortUrl });
        g.recurrent = await g.cremaPage.crema.Net.load({ prototxt, weights: Uint8Array.from(atob(weights64), (c) => c.charCodeAt(0)) }, { engine });
      }, ortUrl, RECURRENT_NET, Buffer.from(caffemodel).toString('base64'));
      const worker = await spyOnSessions(page, ortUrl, 'last');
      const library = await page.evaluate(async (tops, feedList) => {
        const net = (globalThis as unknown as { recurrent: Awaited<ReturnType<BrowserLib['Net']['load']>> }).recurrent, out: Plain[] = [];
        for (const feeds of feedList) {
          const results = (await net.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { dims: t.dims, data: Float32Array.from(t.data) }])), { backend: 'onnx', fetches: tops })) as Record<string, { dims: number[]; data: Float32Array }>;
          out.push(Object.fromEntries(Object.entries(results).map(([k, t]) => [k, { dims: [...t.dims], data: Array.from(t.data) }])));
        }
        return out;
      }, tops, feedList);
      const spied = await worker.evaluate(() => (globalThis as unknown as { spied: SpiedSession[] }).spied.map(({ model, runs }) => ({ model, runs: runs.length })));
      expect(spied.map((s) => s.runs), 'one session for both sizes').toEqual([2]);
      expect(decodeModel(Buffer.from(spied[0].model, 'base64')).graph.node.filter((n) => n.op_type === 'Scan'), 'its model a Scan per layer').toHaveLength(6);
      const got = { direct, library };
      sizes.forEach(([N, T], i) => {
        for (const b of tops) {
          const at = `${b} at N ${N}, T ${T}`;
          for (const [way, ran] of [['onnxruntime-web', got.direct[i]], ['the library in onnxruntime-web', got.library[i]]] as const) {
            const outName = way === 'onnxruntime-web' ? conversion.outputs.get(b)! : b, t = ran[outName];
            expect(t.dims, `${way}: shape of ${at}`).toEqual([...expected[i].native[b].dims]);
            expect(relativeDifference(t.data, expected[i].native[b].data), `${way} vs native: ${at}`).toBeLessThanOrEqual(1e-5);
            expect(relativeDifference(t.data, expected[i].node[b].data), `${way} vs onnxruntime-node: ${at}`).toBeLessThanOrEqual(1e-5);
          }
        }
      });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("detects objects with an SSD head (DetectionOutput) as Node's detect does, natively and in onnxruntime-web; a classifier still classifies", async () => {
    const head = (f: string) => path.join(root, 'test/fixtures/ssd/head', f);
    const cat = model('cifar10_full', 'examples/cat.jpg');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-detect-page-'));
    const labels = ['background', 'thing', 'other'];
    fs.writeFileSync(path.join(dir, 'labels.txt'), `${labels.join('\n')}\n`);
    // The page's controls set below, as the library's options: what Node's detect is given.
    const options: DetectOptions = { channelSwap: [2, 1, 0], rawScale: 255, mean: { perChannel: Float64Array.of(104, 117, 123) }, threshold: 0.7, labels };
    const ssd = await Net.load(head('net.prototxt'), head('weights.caffemodel'), { threads: 1 });
    const expected = await detect(ssd, cat, options);
    const expectedOnnx = await detect(ssd, cat, { ...options, backend: 'onnx' });
    await ssd.dispose();
    expect(expected.length).toBeGreaterThan(2);
    expect(expected.length).toBeLessThan(25); // the threshold leaves some of DetectionOutput's keep_top_k 25 out
    expect(new Set(expected.map((d) => d.name)).size).toBeGreaterThan(1);
    const { page, errors } = await open(browser, server.url);
    const { runs, detected, detectedInOnnx } = await countDetections(page);
    try {
      await (await page.$('#prototxt'))!.uploadFile(head('net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(head('weights.caffemodel'));
      await (await page.$('#labels'))!.uploadFile(path.join(dir, 'labels.txt'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Detect objects');
      expect(await page.$eval('#run', (e) => e.textContent)).toBe('Detect');
      // empty: the library's default (0.5; a makefile/frcnn net's config's test_score_thresh), said by its placeholder
      expect(await page.$eval('#threshold', (e) => [(e as unknown as { value: string }).value, e.getAttribute('placeholder'), e.closest('label')!.hasAttribute('hidden')])).toEqual(['', '0.5', false]);
      await page.$eval('#channel-swap', (e) => void ((e as unknown as { value: string }).value = '2,1,0'));
      await page.$eval('#mean', (e) => void ((e as unknown as { value: string }).value = '104,117,123'));
      await page.$eval('#threshold', (e) => void ((e as unknown as { value: string }).value = '0.7'));
      const loaded = await runs();
      await (await page.$('#image'))!.uploadFile(cat); // picking an image detects at once
      const found = await detected(loaded);
      expectSameDetections(found, expected, 1e-4);
      expect(found.map((d) => [d.label, d.name])).toEqual(expected.map((d) => [d.label, d.name])); // crema's engine both sides: its order too
      const px = (v: number) => Math.round(v);
      expect(await page.$$eval('#detections li', (lis) => lis.map((li) => li.textContent))).toEqual(
        expected.map((d) => `${d.score.toFixed(4)} - "${d.name}" at [${[d.xmin, d.ymin, d.xmax, d.ymax].map(px).join(', ')}]`),
      );
      expect(await page.$eval('#boxes', (e) => [e.getAttribute('width'), e.getAttribute('height')])).toEqual(['451', '260']);
      expect(await page.$eval('#run-time', (e) => e.textContent)).toMatch(new RegExp(`^cat\\.jpg: ${expected.length} detections in [\\d.]+ ms \\(the engine worker`));
      await shot(page, 'web-detect.png', '#classify');

      // The ONNX backend: the net converted and run in onnxruntime-web, as Node's detect runs it in onnxruntime-node.
      await detectedInOnnx(expectedOnnx, expected);

      // A threshold that is no number: the library's one-line message, in the page's error line.
      await page.$eval('#threshold', (e) => void Object.assign(e, { type: 'text', value: 'high' }));
      await click(page, '#run');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('the threshold must be a number, got NaN');

      // The browser library's Net.detect called directly: a file's bytes (a Blob) natively, a decoded image in onnxruntime-web.
      const direct = await page.evaluate(
        async (onnxRuntime, prototxt, weights, labels) => {
          const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
          const engine = new crema.Engine(undefined, { onnxRuntime });
          const net = await crema.Net.load({ prototxt, weights: new Uint8Array(weights) }, { engine });
          const blob = await (await fetch('models/cifar10_full/examples/cat.jpg')).blob();
          const options = { channelSwap: [2, 1, 0], rawScale: 255, mean: { perChannel: Float64Array.of(104, 117, 123) }, threshold: 0.7, labels };
          const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
          const image = await crema.decodeImage(blob, true);
          return {
            native: await net.detect(blob, options),
            onnx: await net.detect(image, { ...options, backend: 'onnx' }),
            kept: image.data.length,
            badBackend: await said(net.detect(blob, { backend: 'gpu' })),
            badOption: await said(net.detect(blob, { treshold: 0.5 })),
            badImage: await said(net.detect('models/cifar10_full/examples/cat.jpg', {})),
          };
        },
        `${server.url}ort/ort.wasm.bundle.min.mjs`,
        fs.readFileSync(head('net.prototxt'), 'utf8'),
        [...fs.readFileSync(head('weights.caffemodel'))],
        labels,
      );
      expect(direct.native).toEqual(found);
      expectSameDetections(direct.onnx, expectedOnnx, 1e-4);
      expect(direct.kept).toBe(451 * 260 * 3); // the caller's image is not transferred away
      expect(direct.badBackend).toBe("CremaError: detect: options.backend is 'native' or 'onnx', got 'gpu'");
      expect(direct.badImage).toBe("CremaError: detect: the image is decodeImage's result, a Blob or bytes (Uint8Array, ArrayBuffer), got a string");
      expect(direct.badOption).toMatch(/^CremaError: detect: unknown option 'treshold' \(did you mean 'threshold'\?\): /);

      // A classifier after it: the section classifies again, the detections gone.
      await page.select('#backend', 'native');
      await page.select('#shipped', 'cifar10_full');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Classify an image');
      expect(await page.$eval('#run', (e) => e.textContent)).toBe('Classify');
      expect(await page.$eval('#detect-box', (e) => e.hasAttribute('hidden'))).toBe(true);
      await click(page, '#examples button');
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
      expect(await page.$eval('#top li', (e) => e.textContent)).toBe('0.5820 - "cat"');
      expect((await pageState(page)).detections).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("detects faces with an SSH net (the 'ssh' kind: its demo.py's pyramid) as Node's detect does, natively and in onnxruntime-web", async () => {
    const fixture = (f: string) => path.join(root, 'test/fixtures/fork/ssh-pyramid', f);
    const ssh = await Net.load(fixture('net.prototxt'), fixture('weights.caffemodel'), { threads: 1 });
    const expected = await detect(ssh, fixture('image.png'), { threshold: 0.5 });
    const expectedOnnx = await detect(ssh, fixture('image.png'), { threshold: 0.5, backend: 'onnx' });
    await ssh.dispose();
    expect(expected.length).toBeGreaterThan(10);
    const { page, errors } = await open(browser, server.url);
    const { runs, detected, detectedInOnnx } = await countDetections(page, 120_000);
    try {
      await (await page.$('#prototxt'))!.uploadFile(fixture('net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(fixture('weights.caffemodel'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Detect objects');
      // the worker says 'ssh' (not 'faster-rcnn'), and the page says how SSH runs
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe("SSH's face detector, run as its demo.py runs it: the image fitted to 800 pixels on its shorter side (the longer at most 1200), then fed to 'data' with im_info at 500, 800, 1200 and 1600 of those 800 pixels (its pyramid); the faces of every scale together, NMS at 0.3, the boxes in the image's pixels.");
      const loaded = await runs();
      await (await page.$('#image'))!.uploadFile(fixture('image.png'));
      const found = await detected(loaded);
      expectSameDetections(found, expected, 1e-4);
      expect(await page.$eval('#run-time', (e) => e.textContent)).toMatch(new RegExp(`^image\\.png: ${expected.length} detections in [\\d.]+ ms \\(the engine worker`));

      await detectedInOnnx(expectedOnnx, expected);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 240_000);

  it("detects with a makefile/frcnn net (FrcnnProposal) and its config picked in the page's frcnn config, as Node's detect does", async () => {
    const at = (f: string) => path.join(FRCNN_FIXTURE, f);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-frcnn-page-')), weights = path.join(dir, 'tiny-frcnn.caffemodel');
    writeFrcnnWeights(weights);
    const frcnn = await Net.load(at('net.prototxt'), weights, { threads: 1, frcnnConfig: fs.readFileSync(at('two-scales.json'), 'utf8') });
    const expected = await detect(frcnn, at('image.png'));
    await frcnn.dispose();
    expect(expected.length).toBeGreaterThan(100); // the config's test_score_thresh 0.05, not 0.5
    const { page, errors } = await open(browser, server.url);
    const { runs, detected } = await countDetections(page, 120_000);
    try {
      await (await page.$('#prototxt'))!.uploadFile(at('net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(weights);
      await (await page.$('#frcnn-config'))!.uploadFile(at('two-scales.json'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toMatch(/^makefile\/frcnn's net, run as its test_frcnn runs it/);
      const loaded = await runs();
      await (await page.$('#image'))!.uploadFile(at('image.png'));
      expectSameDetections(await detected(loaded), expected, 1e-4);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('run takes every input, with the Node entry\'s message; the page says which input the image fills and does not classify a net it cannot fill', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-two-inputs-'));
    const two = 'input: "a" input_shape { dim: 1 dim: 3 } input: "b" input_shape { dim: 1 dim: 3 } layer { name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "y" }';
    const node = await Net.load(Buffer.from(two));
    const expected = await node.run({ a: Float32Array.of(1, 2, 3) }).then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
    const noFetch = await node.run({ a: Float32Array.of(1, 2, 3), b: Float32Array.of(1, 2, 3) }, { fetches: ['nope'] }).then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
    const extra = await node.run({ a: Float32Array.of(1, 2, 3), b: Float32Array.of(1, 2, 3), w: Float32Array.of(1, 2, 3) }).then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
    await node.dispose();
    expect(expected).toBe("CremaError: run: no value for 'b' [1, 3] (run takes every input: { a, b })");
    expect(noFetch).toBe("CremaError: run: options.fetches: no blob named 'nope'; the net's blobs: a, b, y");
    expect(extra).toBe("CremaError: run: 'w' is not an input of the net (inputs: a, b)");
    const { page, errors } = await open(browser, `${server.url}?model=lenet`);
    try {
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe("The image fills input 'data' (1×1×28×28).");
      const refused = await page.evaluate(async (prototxt) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine();
        const net = await crema.Net.load({ prototxt }, { engine });
        const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
        const x = { dims: [1, 3], data: Float32Array.of(1, 2, 3) };
        return [await said(net.run({ a: x }, { backend: 'native' })), await said(net.run({ a: x }, { backend: 'onnx' })), await said(net.run({}, { backend: 'native' })), await said(net.run({ a: x, b: x }, { backend: 'native' })),
          await said(net.run({ a: x, b: x }, { backend: 'native', fetches: ['nope'] })), // was a plain Error from the worker: "no blob 'nope' in the net"
          await said(net.run({ a: x, b: x, w: x }, { backend: 'native' })), await said(net.run({ a: x, b: x, w: x }, { backend: 'onnx' }))];
      }, two);
      expect(refused).toEqual([expected, expected, "CremaError: run: no value for 'a' [1, 3], 'b' [1, 3] (run takes every input: { a, b })", 'ran', noFetch, extra, extra]);

      // The page with that net: it says why it cannot classify (Classify stays off, an image does not run it) and times every input.
      fs.writeFileSync(path.join(dir, 'two.prototxt'), two);
      await (await page.$('#prototxt'))!.uploadFile(path.join(dir, 'two.prototxt'));
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe(
        'This net has 2 inputs (a 1×3, b 1×3): the page fills one input from an image, so it cannot classify with this net (crema run --input NAME=FILE feeds each). Time each layer and Verify use seeded random values (seed 1) for every input.',
      );
      expect(await page.$eval('#run', (e) => e.hasAttribute('disabled'))).toBe(true);
      await (await page.$('#image'))!.uploadFile(model('lenet', 'examples/digit-7.png'));
      await page.waitForFunction(`document.getElementById('thumb').width === 112 || document.getElementById('error').textContent`);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await page.$eval('#run', (e) => e.hasAttribute('disabled'))).toBe(true);
      await click(page, '#time');
      await page.waitForFunction(`document.querySelector('#layers tbody tr[data-layer="1"] td:last-child').textContent !== ''`);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect((await pageState(page)).top).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("keepBlobs as Node's: the outputs fetched, a blob not kept refused in the browser's words, verify comparing every blob of a planned net", async () => {
    // a -> b -> c -> d -> y: b's storage goes to d once p2 has read it.
    const chain = 'input: "a" input_shape { dim: 1 dim: 3 } ' + [['p1', 'a', 'b', 'scale: 2'], ['p2', 'b', 'c', 'shift: 1'], ['p3', 'c', 'd', 'scale: 3'], ['p4', 'd', 'y', 'shift: -1']]
      .map(([name, bottom, top, param]) => `layer { name: "${name}" type: "Power" bottom: "${bottom}" top: "${top}" power_param { ${param} } }`).join(' ');
    const node = await Net.load(Buffer.from(chain), undefined, { keepBlobs: [] });
    const y = Float32Array.from(node.forward({ a: Float32Array.of(1, 2, 3) }).y.data);
    let released = '';
    try {
      void node.blobs.get('b')!.data;
    } catch (err) {
      released = `${(err as Error).name}: ${(err as Error).message}`;
    }
    await node.dispose();
    expect(released).toMatch(/^CremaError: net\.blobs: blob 'b' holds no value: /);
    const { page, errors } = await open(browser, `${server.url}?model=lenet`);
    try {
      expect(await waitLoaded(page)).toBe('');
      const got = await page.evaluate(async (prototxt, onnxRuntime) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: PlannedLib } }).cremaPage;
        const net = await crema.Net.load({ prototxt }, { engine: new crema.Engine(undefined, { onnxRuntime }), keepBlobs: [] });
        const x = { dims: [1, 3], data: Float32Array.of(1, 2, 3) };
        const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
        const y = [...(await net.run({ a: x }, { backend: 'native' })).y.data];
        const b = await said(net.run({ a: x }, { backend: 'native', fetches: ['b'] }));
        const report = await net.verify({ a: x });
        const again = await said(net.run({ a: x }, { backend: 'native', fetches: ['b'] }));
        await net.dispose();
        return { y, b, pass: report.pass, blobs: report.blobs.map((v) => v.blob), again };
      }, chain, `${server.url}ort/ort.wasm.bundle.min.mjs`);
      // The browser's words for it: keepBlobs is a Net.load option there (no net.keepBlobs, no net.blobs).
      const refused = "CremaError: run: options.fetches names blob 'b', which the net's keepBlobs does not keep (it keeps the inputs, the outputs and the blobs it lists, the others' storage going to later blobs): load the net with 'b' in Net.load's keepBlobs, or with keepBlobs 'all', to fetch it";
      expect(got).toEqual({ y: [...y], b: refused, pass: true, blobs: ['a', 'b', 'c', 'd', 'y'], again: refused });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a truncated caffemodel is the one-line error Node gives for the same bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-truncated-'));
    const { page } = await open(browser, server.url);
    try {
      const weights = fs.readFileSync(model('cifar10_full', 'weights.caffemodel'));
      const truncated = weights.subarray(0, Math.floor(weights.length / 2));
      fs.writeFileSync(path.join(dir, 'weights.caffemodel'), truncated);
      // The CLI's message for that file, naming it as the page knows it (by its name, not a path).
      const file = path.join(dir, 'weights.caffemodel');
      const expected = await Net.load(model('cifar10_full', 'deploy.prototxt'), file).then(
        () => 'loaded',
        (err: Error) => err.message.replaceAll(file, 'weights.caffemodel'),
      );
      expect(expected).toMatch(/^weights\.caffemodel: truncated file/);
      await (await page.$('#prototxt'))!.uploadFile(model('cifar10_full', 'deploy.prototxt'));
      await (await page.$('#weights'))!.uploadFile(path.join(dir, 'weights.caffemodel'));
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(expected);
      expect(expected).not.toContain('\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('a file the browser cannot hold in one buffer is refused before any of it is read, in one line naming it and its size (Net.load, readBlob, the page); one that changes while read too', async () => {
    const { page, errors } = await open(browser, server.url);
    try {
      // Files whose size is reported as 1 TiB (no test allocates it: the buffer of that size is refused at once)
      const got = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib & { readBlob(b: Blob, name: string): Promise<Uint8Array> } } }).cremaPage;
        const sized = (name: string, text: string, size: number) => Object.defineProperty(new File([text], name), 'size', { value: size });
        const said = (p: Promise<unknown>) => p.then((r) => `read ${(r as Uint8Array).length ?? ''}`, (err: Error) => `${err.name}: ${err.message}`);
        const engine = new crema.Engine();
        return {
          load: await said(crema.Net.load({ prototxt: 'name: "n"', weights: sized('huge.caffemodel', 'x', 2 ** 40) as unknown as Uint8Array }, { engine })),
          blob: await said(crema.readBlob(Object.defineProperty(new Blob(['x']), 'size', { value: 2 ** 40 }), 'weights')),
          longer: await said(crema.readBlob(sized('w.caffemodel', 'abcdef', 3), 'w.caffemodel')),
          shorter: await said(crema.readBlob(sized('w.caffemodel', 'abcdef', 10), 'w.caffemodel')),
          whole: await said(crema.readBlob(new File(['abcdef'], 'w.caffemodel'), 'w.caffemodel')),
        };
      });
      const tooLarge = (name: string) => `CremaError: ${name}: 1099511.6 MB (1099511627776 bytes), more than this browser can hold in one buffer`;
      expect(got).toEqual({
        load: tooLarge('huge.caffemodel'),
        blob: tooLarge('weights'),
        longer: 'CremaError: w.caffemodel: changed while it was read (3 bytes when it was opened)',
        shorter: 'CremaError: w.caffemodel: changed while it was read (10 bytes when it was opened)',
        whole: 'read 6',
      });
      // The page: such a file dropped with its prototxt, refused before it is read
      await page.evaluate(`{
        const huge = Object.defineProperty(new File(['x'], 'huge.caffemodel'), 'size', { value: 2 ** 40 });
        const dropped = new DataTransfer();
        dropped.items.add(new File(['name: "n"'], 'net.prototxt'));
        dropped.items.add(huge);
        document.dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, cancelable: true }));
      }`);
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(tooLarge('huge.caffemodel').replace('CremaError: ', ''));
      expect(await page.$eval('#progress', (e) => (e as unknown as { hidden: boolean }).hidden)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("a YOLO port (yolov3-tiny, no weights) fails naming the page's Caffe control, and loads with it set to YOLO ports", async () => {
    const { page, errors } = await open(browser, server.url);
    try {
      await (await page.$('#prototxt'))!.uploadFile(path.join(root, 'test/fixtures/forknets/yolov3_tiny/source.prototxt'));
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toMatch(/^layer 'layer21-route' \(Concat\): .* 13 x 13 to 12 x 12 in BVLC Caffe but to 13 x 13 in the YOLO ports' Caffe: for a net converted from darknet, load it with Caffe: YOLO ports$/);
      await page.select('#dialect', 'yolo');
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#totals', (e) => e.textContent)).toMatch(/^56 layers, 8,858,745 parameters, 2,794,378,496 multiply-adds/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a fork\'s field is refused naming the page\'s "skip unknown fields", and skipped with it checked, the status saying what', async () => {
    const { page, errors } = await open(browser, server.url);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-lenient-'));
    try {
      const net = path.join(dir, 'fork.prototxt');
      fs.writeFileSync(net, fs.readFileSync(model('cifar10_full', 'deploy.prototxt'), 'utf8').replace('convolution_param {', 'convolution_param {\n    engine: MKL2017'));
      await (await page.$('#prototxt'))!.uploadFile(net);
      await (await page.$('#weights'))!.uploadFile(model('cifar10_full', 'weights.caffemodel'));
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toMatch(
        /^fork\.prototxt:\d+:\d+: layer 'conv1' has unknown value 'MKL2017' for 'engine' in convolution_param \(expected one of DEFAULT, CAFFE, CUDNN; "skip unknown fields" skips it\)$/,
      );
      await click(page, '#lenient');
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#status', (e) => e.textContent)).toMatch(/^fork\.prototxt loaded; fork\.prototxt:\d+:\d+: layer 'conv1' has unknown value 'MKL2017' .*\(skipped\)$/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a data layer of unknown size names the page\'s "data shape", and loads with it filled in', async () => {
    const { page, errors } = await open(browser, server.url);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-datashape-'));
    try {
      const net = path.join(dir, 'segnet.prototxt');
      fs.writeFileSync(net, 'name: "dense"\nlayer { name: "data" type: "DenseImageData" top: "data" top: "label" dense_image_data_param { source: "test.txt" batch_size: 1 } }\n' +
        'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }\n');
      await (await page.$('#prototxt'))!.uploadFile(net);
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(
        "segnet.prototxt: layer 'data' (DenseImageData): cannot turn it into an Input layer: its images come from files and neither transform_param.crop_size nor dense_image_data_param.crop_height / crop_width or new_height / new_width is set; give the shape of 'data' (\"data shape\" data=N,C,H,W)");
      await page.type('#data-shape', 'data=1,3,36,48');
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#totals', (e) => e.textContent)).toMatch(/^2 layers, 56 parameters, 84,456 multiply-adds; inputs data 1×3×36×48;/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows a progress bar while reading big weights, and the ACROSS_CHANNELS LRN formula', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-big-'));
    const { page, errors } = await open(browser, server.url);
    try {
      // A 4.8 MB caffemodel (one InnerProduct): the bar shows while it is read, then hides.
      const big = path.join(dir, 'big.caffemodel'), bigNet = path.join(dir, 'big.prototxt');
      fs.writeFileSync(bigNet, 'input: "x" input_shape { dim: 1 dim: 1000 } layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 1200 } }');
      const blob = (dim: number[]) => ({ shape: { dim }, data: new Float32Array(dim.reduce((a, b) => a * b)).fill(0.5) });
      fs.writeFileSync(big, encodeCaffemodel({ name: 'big', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [blob([1200, 1000]), blob([1200])] }] }));
      // Every change of the bar (shown with its value, or hidden), as the page makes them.
      await page.evaluate(`{
        const seen = (globalThis.progressSeen = []), bar = document.getElementById('progress');
        new MutationObserver(() => seen.push(bar.hidden ? 'hidden' : 'shown ' + bar.value.toFixed(2))).observe(bar, { attributes: true });
      }`);
      await (await page.$('#prototxt'))!.uploadFile(bigNet);
      await (await page.$('#weights'))!.uploadFile(big);
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#totals', (e) => e.textContent)).toMatch(/^2 layers, 1,201,200 parameters/);
      const seen = (await page.evaluate('progressSeen')) as string[];
      const shown = seen.filter((s) => s.startsWith('shown')).map((s) => Number(s.slice(6)));
      expect(shown.length).toBeGreaterThan(0);
      expect(shown.every((v, i) => v >= 0 && v <= 1 && (i === 0 || v >= shown[i - 1]))).toBe(true);
      expect(seen.at(-1)).toBe('hidden');

      // An LRN across channels (AlexNet's kind), from a prototxt alone: Caffe's alpha/n, with k.
      const lrnNet = path.join(dir, 'lrn.prototxt');
      fs.writeFileSync(lrnNet, 'input: "data" input_shape { dim: 1 dim: 8 dim: 4 dim: 4 } layer { name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 k: 2 } }');
      await (await page.$('#prototxt'))!.uploadFile(lrnNet);
      await page.$eval('#weights', (e) => ((e as unknown as { value: string }).value = ''));
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      const norm = await page.$$eval('#layers tbody tr', (trs) => trs.findIndex((tr) => tr.firstElementChild?.textContent === 'norm'));
      await page.focus(`#layers tbody tr[data-layer="${norm}"]`);
      await page.keyboard.press('Enter');
      expect(await page.$eval('#lrn-title', (e) => e.textContent)).toBe('LRN norm: ACROSS_CHANNELS');
      expect(await page.$eval('#lrn-formula', (e) => e.textContent)).toContain('over the n = 5 channels c′ around c  (α/n = 0.0001/5 = 0.00002000, k = 2, β = 0.75)');
      // The graph by keyboard: a blob's node takes the focus, Enter opens it.
      // (puppeteer's focus() takes HTML elements only: the SVG node focuses itself, as Tab would focus it.)
      await page.$eval('#graph g.node[data-id="blob:norm"]', (g) => (g as unknown as { focus(): void }).focus());
      expect(await page.evaluate('document.activeElement.dataset.id')).toBe('blob:norm');
      await page.keyboard.press('Enter');
      expect(await page.$eval('#blob-title', (e) => e.textContent)).toBe('Blob norm');
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("reads Caffe's HDF5 weights with h5wasm, fetched only when they come in: the cat as Node classifies it, shared parameters as Caffe, a truncated file in Node's words", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-h5-'));
    const { page, errors } = await open(browser, server.url);
    const fetched: string[] = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
    try {
      await (await page.$('#prototxt'))!.uploadFile(model('cifar10_full', 'deploy.prototxt'));
      await (await page.$('#weights'))!.uploadFile(model('cifar10_full', 'weights.caffemodel'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(fetched.filter((f) => f.startsWith('/h5wasm/'))).toEqual([]); // a caffemodel does not load h5wasm
      // The cat as the README's classify prepares it (as nodeCat): the page's numbers are Node's.
      await page.$eval('#channel-swap', (e) => ((e as unknown as { value: string }).value = '0,1,2'));
      await page.$eval('#mean', (e) => ((e as unknown as { value: string }).value = '125,123,114'));
      await (await page.$('#image'))!.uploadFile(model('cifar10_full', 'examples/cat.jpg'));
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
      expect((await pageState(page)).probs).toEqual([...node.prob]);

      // The same weights as Caffe's HDF5 snapshot (fixtures/hdf5): the same numbers.
      await page.evaluate(() => ((globalThis as unknown as { cremaPage: PageState }).cremaPage.probs = []));
      await (await page.$('#weights'))!.uploadFile(path.join(root, 'test/fixtures/hdf5/cifar10_full.caffemodel.h5'));
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(fetched).toContain('/h5wasm/hdf5_hl.js');
      await click(page, '#run');
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.probs.length > 0);
      expect((await pageState(page)).probs).toEqual([...node.prob]);

      // Parameters shared by name, from an HDF5 file with every copy (fixtures/shared-params): Caffe's numbers.
      const shared = path.join(root, 'test/fixtures/shared-params');
      const feeds = Object.fromEntries(['data', 'vec'].map((n) => { const t = readNpy(path.join(shared, 'files', `${n}.npy`)); return [n, { dims: [...t.dims], data: [...t.data] }]; }));
      // Through the browser library, h5wasm's URL given to the Engine; without it, the bare 'h5wasm' an application's
      // bundler resolves, which a page without one cannot: refused in one line.
      const [got, unbundled] = await page.evaluate(
        async (prototxt, weights, feeds) => {
          const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
          const engine = new crema.Engine(undefined, { h5wasm: new URL('h5wasm/hdf5_hl.js', (globalThis as unknown as { location: URL }).location.href).href });
          const net = await crema.Net.load({ prototxt, weights: Uint8Array.from(weights) }, { engine });
          const inputs = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, { dims: t.dims, data: Float32Array.from(t.data) }]));
          const out = (await net.run(inputs, { backend: 'native', fetches: ['conv_main', 'branch_conv', 'conv_c', 'ip_p'] })) as Record<string, { data: Float32Array }>;
          const refused = await crema.Net.load({ prototxt, weights: Uint8Array.from(weights) }, { engine: new crema.Engine() }).then(() => 'loaded', (err: Error) => `${err.name}: ${err.message}`);
          return [Object.fromEntries(Object.entries(out).map(([n, t]) => [n, [...t.data]])), refused] as const;
        },
        fs.readFileSync(path.join(shared, 'net.prototxt'), 'utf8'), [...fs.readFileSync(path.join(shared, 'files/every.h5'))], feeds,
      );
      for (const b of ['conv_main', 'branch_conv', 'conv_c', 'ip_p'])
        expect(relativeDifference(Float32Array.from(got[b]), readNpy(path.join(shared, 'files', `every-h5-${b}.npy`)).data), b).toBeLessThanOrEqual(1e-6);
      expect(unbundled).toBe("CremaError: weights (Uint8Array, 10.2 kB): h5wasm did not load: Failed to resolve module specifier 'h5wasm' (HDF5 weights in a browser need the optional peer dependency h5wasm: npm install h5wasm)");

      // A truncated HDF5 file: the one line Node gives for the same bytes, naming the file as the page knows it.
      const truncated = path.join(dir, 'weights.h5');
      fs.writeFileSync(truncated, fs.readFileSync(path.join(root, 'test/fixtures/hdf5/cifar10_full.caffemodel.h5')).subarray(0, 200_000));
      const expected = await Net.load(model('cifar10_full', 'deploy.prototxt'), truncated).then(
        () => 'loaded',
        (err: Error) => err.message.replaceAll(truncated, 'weights.h5'),
      );
      expect(expected).toMatch(/^weights\.h5: cannot read it as HDF5 weights/);
      await (await page.$('#weights'))!.uploadFile(truncated);
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(expected);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('colorizes a photo with a colorization net as the Node library does (the same bytes; through onnxruntime-web within 1), its section titled for it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-colorize-'));
    const { page, errors } = await open(browser, server.url);
    try {
      // The colorization net's head on a 16 x 16 L: conv8_313 (weights given), conv8_313_rh (its prototxt's constant
      // filler, as the release leaves it out), the bins' softmax, class8_ab (no weights: colorize decodes the bins itself).
      const prototxt = path.join(dir, 'color.prototxt'), weightsFile = path.join(dir, 'color.caffemodel');
      fs.writeFileSync(prototxt, `name: "tinycolor"
        layer { name: "data_l" type: "Input" top: "data_l" input_param { shape { dim: 1 dim: 1 dim: 16 dim: 16 } } }
        layer { name: "conv8_313" type: "Convolution" bottom: "data_l" top: "conv8_313" convolution_param { num_output: 313 kernel_size: 3 stride: 2 pad: 1 } }
        layer { name: "conv8_313_rh" type: "Scale" bottom: "conv8_313" top: "conv8_313_rh" scale_param { bias_term: false filler { type: "constant" value: 2.606 } } }
        layer { name: "class8_313_rh" type: "Softmax" bottom: "conv8_313_rh" top: "class8_313_rh" }
        layer { name: "class8_ab" type: "Convolution" bottom: "class8_313_rh" top: "class8_ab" convolution_param { num_output: 2 kernel_size: 1 } }
        layer { name: "Silence" type: "Silence" bottom: "class8_ab" }`);
      const filled = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
      fs.writeFileSync(weightsFile, encodeCaffemodel({ name: 'tinycolor', layer: [{ name: 'conv8_313', type: 'Convolution', blobs: [
        { shape: { dim: [313, 1, 3, 3] }, data: filled(313 * 9, (i) => Math.sin(i * 0.37) * 0.02) },
        { shape: { dim: [313] }, data: filled(313, (i) => Math.cos(i * 0.11) * 0.5) },
      ] }] }));
      const photo = path.join(root, 'test/fixtures/colorize/cat.png');
      const nodeNet = await Net.load(prototxt, weightsFile, { threads: 2 });
      const expected = await colorize(nodeNet, photo);
      nodeNet.dispose();

      await (await page.$('#prototxt'))!.uploadFile(prototxt);
      await (await page.$('#weights'))!.uploadFile(weightsFile);
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Colorize a photo');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe(
        "The colorization net: the photo's lightness (L of Lab) at the input's 16 × 16, less 50, fed to 'data_l' as its demo colorize.py feeds it; the colours zoomed back to the photo's size beside its own L.",
      );
      await (await page.$('#image'))!.uploadFile(photo);
      await page.waitForFunction('cremaPage.colorized !== undefined || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const got = await page.evaluate(() => (globalThis as unknown as { cremaPage: { colorized: { width: number; height: number; data: number[] } } }).cremaPage.colorized);
      expect([got.width, got.height]).toEqual([expected.width, expected.height]);
      expect(got.data).toEqual([...expected.data]);
      expect(await page.$eval('#boxes', (e) => [(e as unknown as { width: number }).width, (e as unknown as { height: number }).height])).toEqual([160, 117]);
      // Through onnxruntime-web: the bytes within 1 of the engine's (255 * v truncated: ONNX Runtime's sums round otherwise)
      await page.select('#backend', 'onnx');
      await click(page, '#run');
      await page.waitForFunction('document.getElementById("run-time").textContent.includes("ONNX Runtime Web") || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const byOrt = await page.evaluate(() => (globalThis as unknown as { cremaPage: { colorized: { data: number[] } } }).cremaPage.colorized.data);
      const off = byOrt.map((v, i) => Math.abs(v - expected.data[i]));
      expect(Math.max(...off)).toBeLessThanOrEqual(1);
      expect(off.filter((d) => d > 0).length / off.length).toBeLessThan(0.01);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it.skipIf(sharedMissing())("computes FlowNet2-S's optical flow from its deploy template as the Node library does (the page's Optical flow, Net.flow in the engine worker; again at another size, the template filled again)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-flowweb-'));
    const { page, errors } = await open(browser, server.url);
    try {
      const template = path.join(flownetDir, 'FlowNet2-S.prototxt.template'), weightsFile = flownetWeights(dir, 100, 50);
      const png = (name: string, w: number, h: number, dx: number, dy: number) => patternPng(dir, name, w, h, dx, dy);
      const [a, b, c, d] = await Promise.all([png('a.png', 100, 50, 0, 0), png('b.png', 100, 50, 2, 1), png('c.png', 70, 40, 0, 0), png('d.png', 70, 40, -1, 2)]);
      const expected = await nodeFlow(template, weightsFile, a, b, { threads: 2 }), small = await nodeFlow(template, weightsFile, c, d, { threads: 2 });

      await (await page.$('#prototxt'))!.uploadFile(template);
      await (await page.$('#weights'))!.uploadFile(weightsFile);
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Optical flow');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe(
        'FlowNet 2.0: the flow from the image to the second image, both of one size, as run-flownet.py (and crema flow) computes it: the deploy template filled for their size, their bytes in BGR order, no mean; shown in the Middlebury colours as flow_vis draws them.',
      );
      expect(await page.$eval('#notes', (e) => e.textContent)).toContain("FlowNet2-S.prototxt.template: a FlowNet 2.0 deploy template, shown filled for 64 x 64 images; Net.flow fills it again for its images' size, as run-flownet.py fills it");
      await (await page.$('#image'))!.uploadFile(a);
      await (await page.$('#image2'))!.uploadFile(b); // the second image computes the flow at once
      await page.waitForFunction('cremaPage.flow !== undefined || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      type Shown = { width: number; height: number; data: number[]; colors: number[] };
      const got = await page.evaluate(() => (globalThis as unknown as { cremaPage: { flow: Shown } }).cremaPage.flow);
      expect([got.width, got.height]).toEqual([100, 50]);
      // the same engine and kernels on 2 threads: the same floats (stated tolerance 1e-6 of the largest, found 0)
      expect(relativeDifference(Float32Array.from(got.data), expected.data)).toBeLessThanOrEqual(1e-6);
      expect(got.colors).toEqual([...flowColors({ width: 100, height: 50, data: Float32Array.from(got.data) })]);
      expect(await page.$eval('#detections li', (e) => e.textContent)).toMatch(/^a\.png -> b\.png \(100 x 50\): flow length max [0-9.]+, mean [0-9.]+ pixels$/);
      expect(await page.$eval('#boxes', (e) => [(e as unknown as { width: number }).width, (e as unknown as { height: number }).height])).toEqual([100, 50]);
      // the net shown is the one filled for their size: its totals and blobs follow
      expect(await page.$eval('#totals', (e) => e.textContent)).toContain('inputs img0 1×3×50×100, img1 1×3×50×100;');
      expect(await page.$eval('#blob option:last-child', (e) => e.textContent)).toBe('predict_flow_final 1×2×50×100');
      await shot(page, 'web-flow.png', '#classify');
      // through onnxruntime-web: within the Node tests' ONNX tolerance (1e-4 of the largest)
      await page.select('#backend', 'onnx');
      await click(page, '#run');
      await page.waitForFunction('document.getElementById("run-time").textContent.includes("ONNX Runtime Web") || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const byOrt = await page.evaluate(() => (globalThis as unknown as { cremaPage: { flow: Shown } }).cremaPage.flow.data);
      expect(relativeDifference(Float32Array.from(byOrt), expected.data)).toBeLessThanOrEqual(1e-4);
      await page.select('#backend', 'native');

      // another size: the first image of it beside the old second is refused in one line; the second of it too, the
      // template filled again for 70 x 40 (Net.flow in the engine worker)
      await (await page.$('#image'))!.uploadFile(c);
      await page.waitForFunction('document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('c.png is 70 x 40 but b.png is 100 x 50: FlowNet takes two images of one size');
      await (await page.$('#image2'))!.uploadFile(d);
      await page.waitForFunction('cremaPage.flow?.width === 70 || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const other = await page.evaluate(() => (globalThis as unknown as { cremaPage: { flow: Shown } }).cremaPage.flow);
      expect([other.width, other.height]).toEqual([70, 40]);
      expect(relativeDifference(Float32Array.from(other.data), small.data)).toBeLessThanOrEqual(1e-6);
      // flow() in one call: a net that is no FlowNet refused in one line (LeNet, the shipped one), the net released
      const refused = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: { flow: (files: object, a: Blob, b: Blob, options: object) => Promise<unknown> } } }).cremaPage;
        const prototxt = await (await fetch('models/lenet/deploy.prototxt')).text();
        return crema.flow({ prototxt }, new Blob([]), new Blob([]), { names: { prototxt: 'deploy.prototxt' } }).then(() => 'no error', (e: Error) => e.message);
      });
      expect(refused).toBe("flow: deploy.prototxt is no FlowNet deploy net (two image inputs and the blob 'predict_flow_final')");
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  }, 300_000);

  it("the page's Optical flow decodes each image once (the first when picked, the second when picked, neither again for Flow): TinyFlow's flow as the Node library's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-tinyflow-'));
    const { page, errors } = await open(browser, server.url);
    try {
      const [a, b] = await Promise.all([patternPng(dir, 'a.png', 24, 16, 0, 0), patternPng(dir, 'b.png', 24, 16, 1, -1)]);
      const expected = await nodeFlow(tinyTemplate, tinyWeights, a, b, { threads: 2 });
      await (await page.$('#prototxt'))!.uploadFile(tinyTemplate);
      await (await page.$('#weights'))!.uploadFile(tinyWeights);
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Optical flow');
      // every decode of the page's (decodeImage) makes one ImageBitmap: counted from here on
      await page.evaluate(() => {
        const g = globalThis as unknown as { decodes: number; createImageBitmap: (...args: unknown[]) => Promise<unknown> };
        const create = g.createImageBitmap.bind(g);
        g.decodes = 0;
        g.createImageBitmap = (...args) => (g.decodes++, create(...args));
      });
      const decodes = () => page.evaluate(() => (globalThis as unknown as { decodes: number }).decodes);
      await (await page.$('#image'))!.uploadFile(a);
      await (await page.$('#image2'))!.uploadFile(b);
      await page.waitForFunction('cremaPage.flow !== undefined || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      type Shown = { width: number; height: number; data: number[] };
      const got = await page.evaluate(() => (globalThis as unknown as { cremaPage: { flow: Shown } }).cremaPage.flow);
      expect([got.width, got.height]).toEqual([24, 16]);
      // the same engine and kernels on 2 threads: the same floats (stated tolerance 1e-6 of the largest)
      expect(relativeDifference(Float32Array.from(got.data), expected.data)).toBeLessThanOrEqual(1e-6);
      expect(await decodes()).toBe(2);
      // Flow again: the images as decoded when picked
      await page.evaluate(() => ((globalThis as unknown as { cremaPage: { flow?: Shown } }).cremaPage.flow = undefined));
      await click(page, '#run');
      await page.waitForFunction('cremaPage.flow !== undefined || document.getElementById("error").textContent');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await decodes()).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("Net.flow's template filled again: a fill that fails leaves the net's id one line saying so (no disposed net), the next fill's forwards counted; flow() in one call as Node's; a template's error names its line as Node's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-tinyflow-'));
    const { page, errors } = await open(browser, server.url);
    try {
      const [a, b, c, d, e] = await Promise.all([patternPng(dir, 'a.png', 24, 16, 0, 0), patternPng(dir, 'b.png', 24, 16, 1, -1), patternPng(dir, 'c.png', 20, 12, 0, 0), patternPng(dir, 'd.png', 20, 12, -2, 1), patternPng(dir, 'e.png', 4, 4, 0, 0)]);
      const [first, second] = [await nodeFlow(tinyTemplate, tinyWeights, a, b, { threads: 2 }), await nodeFlow(tinyTemplate, tinyWeights, c, d, { threads: 2 })];
      const nodeSaid = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => err.message);
      const tooSmall = await nodeSaid(nodeFlow(tinyTemplate, tinyWeights, e, e));
      expect(tooSmall).toBe("layer 'conv1' (Convolution): kernel extent 5 x 5 is larger than the padded input 4 x 4 (input 4 x 4, pad 0 x 0)");
      // a misspelt field on the template's line 20: Node names the template's file and that line (test/flow.test.ts)
      const text = fs.readFileSync(tinyTemplate, 'utf8'), misspelt = text.replace('kernel_size: 5 } }', 'kernel_size: 5 strid: 2 } }');
      fs.writeFileSync(path.join(dir, 'bad.template'), misspelt);
      const badNode = await nodeSaid(nodeFlow(path.join(dir, 'bad.template'), tinyWeights, a, b));
      expect(badNode).toBe(`${path.join(dir, 'bad.template')}:20:119: layer 'conv1' has unknown field 'strid' in convolution_param: did you mean 'stride'? (options.lenient skips it)`);
      const base64 = (f: string) => fs.readFileSync(f).toString('base64');
      const got = await page.evaluate(
        async (text, misspelt, weights64, pngs) => {
          type Flowed = { width: number; height: number; data: Float32Array };
          type PageNet = { info: { id: number }; engine: { call(r: object): Promise<{ ways: string }> }; flow(a: Uint8Array, b: Uint8Array): Promise<Flowed>; convert(): Promise<Uint8Array>; dispose(): Promise<void> };
          type Lib = {
            Net: { load(files: { prototxt: string; weights: Uint8Array }, options: object): Promise<PageNet> };
            flow(files: { prototxt: string; weights: Uint8Array }, a: Uint8Array, b: Uint8Array, options: object): Promise<Flowed>;
          };
          const { crema } = (globalThis as unknown as { cremaPage: { crema: Lib } }).cremaPage;
          const bytes = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)); // a fresh copy each call: a load transfers its buffer
          const [a, b, c, d, e] = pngs.map(bytes);
          const names = { prototxt: 'TinyFlow.prototxt.template', weights: 'TinyFlow.caffemodel' };
          const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => err.message);
          const net = await crema.Net.load({ prototxt: text, weights: bytes(weights64) }, { names });
          const ways = async () => (await net.engine.call({ op: 'stats', net: net.info.id })).ways;
          const plain = (f: Flowed) => ({ width: f.width, height: f.height, data: [...f.data] });
          const flowed = plain(await net.flow(a, b));
          await ways(); // the count from here
          const failed = await said(net.flow(e, e)); // the template cannot be filled for 4 x 4: the 24 x 16 net is gone
          const after = { convert: await said(net.convert()), stats: await said(ways()) };
          const refilled = plain(await net.flow(c, d));
          const counted = await ways();
          await net.dispose();
          return {
            flowed,
            failed,
            after,
            refilled,
            counted,
            once: plain(await crema.flow({ prototxt: text, weights: bytes(weights64) }, a, b, { names })),
            misspelt: await said(crema.Net.load({ prototxt: misspelt, weights: bytes(weights64) }, { names: { prototxt: 'bad.template' } })),
          };
        },
        text,
        misspelt,
        base64(tinyWeights),
        [a, b, c, d, e].map(base64),
      );
      expect([got.flowed.width, got.flowed.height, got.refilled.width, got.refilled.height, got.once.width, got.once.height]).toEqual([24, 16, 20, 12, 24, 16]);
      // the same engine and kernels on 2 threads: the same floats (stated tolerance 1e-6 of the largest)
      expect(relativeDifference(Float32Array.from(got.flowed.data), first.data)).toBeLessThanOrEqual(1e-6);
      expect(relativeDifference(Float32Array.from(got.refilled.data), second.data)).toBeLessThanOrEqual(1e-6);
      expect(relativeDifference(Float32Array.from(got.once.data), first.data)).toBeLessThanOrEqual(1e-6);
      expect(got.failed).toBe(tooSmall);
      const gone = `TinyFlow.prototxt.template has no net: filling it for 4 x 4 images failed (${tooSmall}); Net.flow with images of a size it fills loads it again`;
      expect(got.after).toEqual({ convert: gone, stats: gone });
      expect(got.counted).toMatch(/^[PA]$/); // the refilled net's one forward, judged (2 threads, isolated)
      expect(got.misspelt).toBe(badNode.replace(path.join(dir, 'bad.template'), 'bad.template'));
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("dispose releases what the engine worker holds for the net now (its wasm blocks, ids, sessions; a FlowNet template's net too), not at a collection; a disposed id is one line", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-dispose-'));
    const { page, errors } = await open(browser, server.url);
    try {
      const [a, b] = await Promise.all([patternPng(dir, 'a.png', 24, 16, 0, 0), patternPng(dir, 'b.png', 24, 16, 1, -1)]);
      const base64 = (f: string) => fs.readFileSync(f).toString('base64');
      const got = await page.evaluate(
        async (cifar, cifar64, template, tiny64, pngs) => {
          type Memory = { ids: number; heapBytes: number };
          type PageNet = { info: { id: number }; run(feeds: object): Promise<unknown>; flow(a: Uint8Array, b: Uint8Array, o?: object): Promise<unknown>; dispose(): Promise<void> };
          type Engine = { ready: Promise<unknown>; call(r: object): Promise<unknown> };
          type Lib = { Engine: new (url: undefined, options: object) => Engine; Net: { load(files: { prototxt: string; weights: Uint8Array }, options: object): Promise<PageNet> } };
          const { crema } = (globalThis as unknown as { cremaPage: { crema: Lib } }).cremaPage;
          const bytes = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
          const [pa, pb] = pngs.map(bytes);
          // its own worker: no other net's blocks in its memory
          const engine = new crema.Engine(undefined, { onnxRuntime: new URL('ort/ort.wasm.bundle.min.mjs', (globalThis as unknown as { location: URL }).location.href).href });
          const memory = () => engine.call({ op: 'memory' }) as Promise<Memory>;
          const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => err.message);
          const cycle = async (load: () => Promise<PageNet>, use: (net: PageNet) => Promise<unknown>) => {
            const before = await memory(), net = await load();
            await use(net);
            const loaded = await memory();
            await net.dispose();
            const after = await memory();
            const id = net.info.id, gone = [said(engine.call({ op: 'dispose', net: id })), said(engine.call({ op: 'stats', net: id })), said(engine.call({ op: 'convert', net: id })), said(engine.call({ op: 'flow', net: id })), said(net.dispose()), said(use(net))];
            return { before: before.heapBytes, loaded: loaded.heapBytes, after: after.heapBytes, ids: [before.ids, loaded.ids, after.ids], id, gone: await Promise.all(gone) };
          };
          const plain = () => crema.Net.load({ prototxt: cifar, weights: bytes(cifar64) }, { engine });
          const runPlain = (net: PageNet) => net.run({ data: { dims: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) } });
          const tiny = () => crema.Net.load({ prototxt: template, weights: bytes(tiny64) }, { engine });
          const flowOnnx = (net: PageNet) => net.flow(pa.slice(), pb.slice()).then(() => net.flow(pa.slice(), pb.slice(), { backend: 'onnx' }));
          const warm = [await cycle(plain, runPlain), await cycle(tiny, flowOnnx)];
          return { warm, plain: await cycle(plain, runPlain), template: await cycle(tiny, flowOnnx) };
        },
        fs.readFileSync(model('cifar10_full', 'deploy.prototxt'), 'utf8'),
        base64(model('cifar10_full', 'weights.caffemodel')),
        fs.readFileSync(tinyTemplate, 'utf8'),
        base64(tinyWeights),
        [a, b].map(base64),
      );
      // The engine's scratch grows to what the nets need in their first load and stays (each forward reuses it): from
      // then on a load, forwards and dispose leave the wasm memory in use as they found it, and no id behind.
      for (const cycle of [got.plain, got.template]) {
        expect(cycle.loaded).toBeGreaterThan(cycle.before);
        expect(cycle.after).toBe(cycle.before);
        expect(cycle.ids).toEqual([0, 1, 0]);
        const gone = `no net ${cycle.id} in this engine (disposed?)`;
        expect(cycle.gone).toEqual([gone, gone, gone, gone, 'ran', 'this net was disposed']); // flow without images too: the net is looked up first
      }
      expect(got.template.loaded - got.template.before).toBeGreaterThan(100_000); // the filled net's blobs, released too
      // The page releases the net it replaces: one net left in its engine.
      await page.goto(`${server.url}?model=cifar10_full`);
      expect(await waitLoaded(page)).toBe('');
      await page.select('#shipped', 'lenet');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await page.evaluate("cremaPage.engine.call({ op: 'memory' }).then((m) => m.ids)")).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("finds MTCNN's faces with the shipped nets as the Node library does (detectFaces in the engine worker)", async () => {
    const expected = await nodeFaces(), expectedOnnx = await nodeFaces(undefined, undefined, 'onnx');
    expect(expected).toHaveLength(2);
    const { page, errors } = await open(browser, server.url);
    try {
      const got = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine(undefined, { onnxRuntime: new URL('ort/ort.wasm.bundle.min.mjs', (globalThis as unknown as { location: URL }).location.href).href });
        const bytes = async (f: string) => new Uint8Array(await (await fetch(`models/mtcnn/${f}`)).arrayBuffer());
        const load = async (n: string) => crema.Net.load({ prototxt: new TextDecoder().decode(await bytes(`${n}.prototxt`)), weights: await bytes(`${n}.caffemodel`) }, { engine });
        const nets = { pnet: await load('det1'), rnet: await load('det2'), onet: await load('det3') };
        const image = await (await fetch('models/mtcnn/examples/handshake.jpg')).blob();
        const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
        // The forward judge's choices on P-Net since the last look: one a forward of crema's engine, none in onnxruntime-web.
        const ways = async () => ((await (engine as unknown as { call(r: object): Promise<{ ways: string }> }).call({ op: 'stats', net: (nets.pnet as unknown as { info: { id: number } }).info.id })).ways);
        await ways();
        const faces = await crema.detectFaces(nets, image), nativeWays = await ways();
        const onnx = await crema.detectFaces(nets, image, { backend: 'onnx', minSize: 20 }), onnxWays = await ways();
        return {
          faces,
          onnx,
          nativeWays,
          onnxWays,
          partial: await said(crema.detectFaces({ pnet: nets.pnet } as never, image)),
          badBackend: await said(crema.detectFaces(nets, image, { backend: 'gpu' })),
          unknown: await said(crema.detectFaces(nets, image, { threshold: 0.5 })),
        };
      });
      expectSameFaces(got.faces, expected, 1e-4);
      expectSameFaces(got.onnx, expectedOnnx, 1e-4); // each net in onnxruntime-web, as Node's in onnxruntime-node
      expect([got.nativeWays.length > 0, got.onnxWays]).toEqual([true, '']); // (the two backends' faces differ by less than the tolerance)
      expect(got.badBackend).toBe(`CremaError: detectFaces: options.backend is 'native' or 'onnx', got "gpu"`); // as Node's (test/mtcnn.test.ts)
      expect(got.unknown).toMatch(/^CremaError: detectFaces: .*threshold/);
      expect(got.partial).toBe('CremaError: detectFaces: expected { pnet, rnet, onet } (and lnet for MTCNNv2), each a Net from Net.load, got an object');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('finds faces with the shipped MTCNN (?model=mtcnn) as the Node library does: its three nets, each face drawn and listed as crema faces lists it', async () => {
    const expected = await nodeFaces(), expectedOnnx = await nodeFaces(undefined, undefined, 'onnx');
    expect(expected).toHaveLength(2);
    const { page, errors } = await open(browser, `${server.url}?model=mtcnn`);
    try {
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$$eval('#shipped option', (os) => os.map((o) => o.textContent))).toContain('MTCNN face detector (3 nets, 2016)');
      expect(await page.$eval('#net-title', (e) => e.textContent)).toBe('PNet'); // the net shown: det1
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Find faces');
      expect(await page.$eval('#run', (e) => e.textContent)).toBe('Find');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toMatch(/^MTCNN's 3 nets find the faces/);
      expect(await (await page.$('#pre'))!.isHidden()).toBe(true); // the nets prepare the image as the demo does
      await click(page, '#examples button');
      expectSameFaces(await pageFaces(page), expected, 1e-4);
      expect(await page.$$eval('#detections li', (lis) => lis.map((li) => li.textContent))).toEqual(expected.map(faceLine));
      // The line crema faces prints for the first (test/mtcnn.test.ts).
      expect(await page.$eval('#detections li', (e) => e.textContent)).toBe('1.0000 at [89, 17, 151, 101]; left eye (113, 48), right eye (140, 52), nose (128, 65), left mouth (109, 77), right mouth (137, 81)');
      const { width, height } = await loadImage(model('mtcnn', 'examples/handshake.jpg'), true);
      expect(await page.$eval('#boxes', (e) => [(e as unknown as { width: number }).width, (e as unknown as { height: number }).height])).toEqual([width, height]);
      expect(await page.$eval('#run-time', (e) => e.textContent)).toMatch(/^handshake\.jpg: 2 faces in [\d.]+ ms \(the engine worker/);
      await shot(page, 'web-faces.png', '#classify');
      // The Blob view: Find faces fetches no blob (P-Net's shape as its prototxt gives it), where Classify would
      const blobStats = async (blob: string) => {
        await page.select('#blob', blob);
        return page.$eval('#blob-stats', (e) => e.textContent);
      };
      expect(await blobStats('conv1')).toBe(`conv1 1×10×10×10: "Find faces" fetches no blob values (MTCNN's nets run on each scale of the image pyramid, then on the boxes)`);
      // The ONNX backend: each net in onnxruntime-web, as Node's detectFaces runs them in onnxruntime-node.
      await page.select('#backend', 'onnx');
      await page.evaluate('cremaPage.faces = []');
      await click(page, '#run');
      expectSameFaces(await pageFaces(page), expectedOnnx, 1e-4);
      expect(await page.$eval('#run-time', (e) => e.textContent)).toMatch(/^handshake\.jpg: 2 faces in [\d.]+ ms \(ONNX Runtime Web/);
      // The demo's settings, as crema faces' flags: a larger smallest face, other thresholds, a coarser pyramid
      const flags = { minSize: 60, thresholds: [0.5, 0.6, 0.9] as [number, number, number], factor: 0.6 };
      const flagged = await nodeFaces(undefined, undefined, 'native', flags);
      await page.select('#backend', 'native');
      for (const [id, value] of [['#min-size', '60'], ['#thresholds', '0.5,0.6,0.9'], ['#factor', '0.6']]) await fill(page, id, value);
      await page.evaluate('cremaPage.faces = []');
      await click(page, '#run');
      expectSameFaces(await pageFaces(page), flagged, 1e-4);
      expect(flagged).not.toEqual(expected); // the flags changed what was found
      await page.$eval('#thresholds', (e) => ((e as unknown as { value: string }).value = '0.5,,0.9'));
      await click(page, '#run');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe("--thresholds: three numbers, P-Net's, R-Net's and O-Net's (the demo's: 0.6,0.7,0.7), got '0.5,,0.9'");
      // Another net in its place: MTCNN's mode and faces go, its three nets released in the engine worker.
      await page.evaluate('globalThis.mtcnnNets = Object.values(cremaPage.faceNets)');
      await page.select('#shipped', 'lenet');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Classify an image');
      expect(await blobStats('conv1')).toBe('conv1 1×20×24×24: classify an image to see its values');
      expect((await page.evaluate(() => (globalThis as unknown as { cremaPage: { faces: Face[] } }).cremaPage.faces))).toEqual([]);
      const released = await page.evaluate(`Promise.all(mtcnnNets.map((n) => n.engine.call({ op: 'convert', net: n.info.id }).then(() => 'kept', (e) => e.message.replace(/\\d+/, 'N'))))`);
      expect(released).toEqual(Array(3).fill('no net N in this engine (disposed?)'));
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("loads MTCNN from its six files picked together or dropped (det1..det3 .prototxt and .caffemodel; det4 too: MTCNNv2) and finds the faces; a missing one is named", async () => {
    const expected = await nodeFaces();
    const det = (n: number, ext: string) => model('mtcnn', `det${n}.${ext}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-mtcnn-'));
    const { page, errors } = await open(browser, server.url);
    try {
      await (await page.$('#prototxt'))!.uploadFile(det(1, 'prototxt'), det(2, 'prototxt'), det(3, 'prototxt'));
      await (await page.$('#weights'))!.uploadFile(det(1, 'caffemodel'), det(2, 'caffemodel'));
      await click(page, '#load');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(
        "det1.prototxt, det2.prototxt, det3.prototxt, det1.caffemodel, det2.caffemodel: no det3.caffemodel among them (the page opens one .prototxt, or MTCNN's nets: det1, det2 and det3 .prototxt and .caffemodel, and MTCNNv2's det4)",
      );
      // One net that cannot load (R-Net's weights cut in half): its one-line error, as Node's for the same bytes.
      const truncated = path.join(dir, 'det2.caffemodel'), weights = fs.readFileSync(det(2, 'caffemodel'));
      fs.writeFileSync(truncated, weights.subarray(0, weights.length >> 1));
      const expectedError = await Net.load(det(2, 'prototxt'), truncated).then(() => 'loaded', (err: Error) => err.message.replaceAll(truncated, 'det2.caffemodel'));
      expect(expectedError).toMatch(/^det2\.caffemodel: truncated file/);
      await (await page.$('#weights'))!.uploadFile(det(1, 'caffemodel'), truncated, det(3, 'caffemodel'));
      await click(page, '#load');
      await page.waitForFunction(`document.getElementById('error').textContent.startsWith('det2.caffemodel')`);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(expectedError);
      await (await page.$('#weights'))!.uploadFile(det(1, 'caffemodel'), det(2, 'caffemodel'), det(3, 'caffemodel'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Find faces');
      expect(await page.$eval('#status', (e) => e.textContent)).toBe('MTCNN loaded');
      await (await page.$('#image'))!.uploadFile(model('mtcnn', 'examples/handshake.jpg')); // picking an image finds the faces at once
      expectSameFaces(await pageFaces(page), expected, 1e-4);
      // MTCNNv2's eight (det4: LNet, which moves the landmarks), as Node's detectFaces takes them from a directory.
      const v2 = path.join(root, 'test/fixtures/mtcnn/model'), test1 = path.join(root, 'test/fixtures/mtcnn/test1.jpg');
      const expectedV2 = await nodeFaces(v2, test1);
      await (await page.$('#prototxt'))!.uploadFile(...[1, 2, 3, 4].map((n) => path.join(v2, `det${n}.prototxt`)));
      await (await page.$('#weights'))!.uploadFile(...[1, 2, 3, 4].map((n) => path.join(v2, `det${n}.caffemodel`)));
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toMatch(/^MTCNN's 4 nets .* then R-Net and O-Net and LNet on the boxes/);
      await (await page.$('#image'))!.uploadFile(test1);
      expectSameFaces(await pageFaces(page), expectedV2, 1e-4);
      // The six files and the image dropped on the page together: MTCNN again, its faces found on the image.
      await page.evaluate(`(async () => {
        const names = [1, 2, 3].flatMap((n) => ['det' + n + '.prototxt', 'det' + n + '.caffemodel']).concat('examples/handshake.jpg');
        const files = await Promise.all(names.map(async (n) => new File([await (await fetch('models/mtcnn/' + n)).blob()], n.split('/').pop())));
        const dataTransfer = new DataTransfer();
        for (const f of files) dataTransfer.items.add(f);
        document.dispatchEvent(new DragEvent('drop', { dataTransfer, cancelable: true }));
      })()`);
      expect(await waitLoaded(page, 3)).toBe('');
      expectSameFaces(await pageFaces(page), expected, 1e-4);
      expect(await page.$eval('#run-time', (e) => e.textContent)).toMatch(/^handshake\.jpg: 2 faces in /);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('finds people with an OpenPose net as the Node library does (detectPoses in the engine worker), both backends, its section titled for it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-pose-'));
    const { page, errors } = await open(browser, server.url);
    try {
      const { prototxt, weights: weightsFile } = writeTinyPose(dir);
      // OpenPose's pattern (test/fixtures/openpose), whose maps here have no near ties: a photo's give people that the
      // forwards' last bits (FMA or not, ONNX Runtime's sums) can change.
      const photo = path.join(root, 'test/fixtures/openpose/images/pattern.png');
      const nodeNet = await Net.load(prototxt, weightsFile, { threads: 2 });
      const expected = await detectPoses(nodeNet, photo);
      const flagged = await detectPoses(nodeNet, photo, { netResolution: [-1, 64], scaleNumber: 2, scaleGap: 0.3 });
      nodeNet.dispose();
      expect(expected.length).toBeGreaterThan(3);

      await (await page.$('#prototxt'))!.uploadFile(prototxt);
      await (await page.$('#weights'))!.uploadFile(weightsFile);
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Find people');
      expect(await page.$eval('#input-note', (e) => e.textContent)).toBe("OpenPose's COCO net: the image is scaled into its input at --net-resolution (each of --scale-number's scales) and padded with black, as crema pose feeds it; the keypoints are in the image's pixels.");
      await (await page.$('#image'))!.uploadFile(photo);
      const people = async (by: string) => {
        await page.waitForFunction(`document.getElementById('run-time').textContent.includes(${JSON.stringify(by)}) || document.getElementById('error').textContent`);
        expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
        return (await page.evaluate(() => (globalThis as unknown as { cremaPage: { people: Person[] } }).cremaPage.people));
      };
      const same = (got: Person[], tolerance: number) => {
        expect(got.map((p) => p.keypoints.map((k) => k[2] > 0))).toEqual(expected.map((p) => p.keypoints.map((k) => k[2] > 0)));
        const off = got.flatMap((p, i) => [p.score - expected[i].score, ...p.keypoints.flatMap((k, j) => k.map((v, d) => v - expected[i].keypoints[j][d]))]);
        expect(Math.max(...off.map(Math.abs))).toBeLessThanOrEqual(tolerance);
      };
      same(await people('the engine worker'), 1e-4);
      expect(await page.$eval('#detections li', (e) => e.textContent)).toBe(personLine(poseModel('COCO').parts, expected[0], 0));
      expect(await page.$eval('#boxes', (e) => [(e as unknown as { width: number }).width, (e as unknown as { height: number }).height])).toEqual([50, 37]);
      // The skeletons (crema pose -o's SVG) drawn over the image: pixels the image alone does not have
      const png = `data:image/png;base64,${fs.readFileSync(photo).toString('base64')}`;
      const drawn = await page.evaluate(`(async () => {
        const canvas = document.getElementById('boxes'), plain = new OffscreenCanvas(canvas.width, canvas.height).getContext('2d');
        plain.drawImage(await createImageBitmap(await (await fetch(${JSON.stringify(png)})).blob()), 0, 0);
        const a = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, b = plain.getImageData(0, 0, canvas.width, canvas.height).data;
        let changed = 0;
        for (let i = 0; i < a.length; i += 4) changed += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30 ? 1 : 0;
        return changed;
      })()`) as number;
      expect(drawn).toBeGreaterThan(50);
      await page.select('#backend', 'onnx');
      await click(page, '#run');
      same(await people('ONNX Runtime Web'), 1e-3);
      // OpenPose's flags, as crema pose's: another net size and two scales
      await page.select('#backend', 'native');
      for (const [id, value] of [['#net-resolution', '-1x64'], ['#scale-number', '2'], ['#scale-gap', '0.3']]) await fill(page, id, value);
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await click(page, '#run');
      const got = await people('the engine worker');
      expect(got.map((p) => p.keypoints.map((k) => k[2] > 0))).toEqual(flagged.map((p) => p.keypoints.map((k) => k[2] > 0)));
      expect(Math.max(...got.flatMap((p, i) => p.keypoints.flatMap((k, j) => k.map((v, d) => Math.abs(v - flagged[i].keypoints[j][d])))))).toBeLessThanOrEqual(1e-4);
      expect(flagged.map((p) => p.score)).not.toEqual(expected.map((p) => p.score)); // the flags changed what was found
      await page.$eval('#net-resolution', (e) => ((e as unknown as { value: string }).value = '-1x'));
      await click(page, '#run');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe("--net-resolution: WIDTHxHEIGHT in pixels, one of them may be -1 (OpenPose's default: -1x368), got '-1x'");
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("finds OpenPose's hands and faces as the Node library does (detectPoses' hand and face nets in the engine worker), both backends; refusals said", async () => {
    const scales = { handScaleNumber: 3, handScaleRange: 0.5 };
    const expected = { native: await nodeWholeParts('native'), onnx: await nodeWholeParts('onnx'), scaled: await nodeWholeParts('native', scales) };
    expect(expected.native.some((p) => p.face!.some((k) => k[2] > 0)) && expected.native.some((p) => p.handLeft!.some((k) => k[2] > 0))).toBe(true);
    const { page, errors } = await open(browser, server.url);
    try {
      const got = await page.evaluate(async (files, png, sizes, scales) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const ort = new URL('ort/ort.wasm.bundle.min.mjs', (globalThis as unknown as { location: URL }).location.href).href;
        const engine = new crema.Engine(undefined, { onnxRuntime: ort }), other = new crema.Engine(undefined, { onnxRuntime: ort });
        const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const load = (f: { prototxt: string; weights: string }, on = engine) => crema.Net.load({ prototxt: f.prototxt, weights: bytes(f.weights) }, { engine: on });
        const [body, hand, face, elsewhere] = await Promise.all([load(files.body), load(files.hand), load(files.face), load(files.hand, other)]);
        const image = new Blob([bytes(png)]);
        const options = { netResolution: sizes.netResolution, hand, face, handNetResolution: sizes.netSide, faceNetResolution: sizes.netSide };
        const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
        return {
          native: await body.detectPoses(image, options),
          onnx: await body.detectPoses(image, { ...options, backend: 'onnx' }),
          otherEngine: await said(body.detectPoses(image, { hand: elsewhere })),
          notANet: await said(body.detectPoses(image, { face: 'face.prototxt' })),
          swapped: await said(body.detectPoses(image, { face: hand })),
          badSide: await said(body.detectPoses(image, { hand, handNetResolution: 50 })),
          scaled: await body.detectPoses(image, { ...options, ...scales }),
          badRange: await said(body.detectPoses(image, { hand, handScaleRange: 2 })),
        };
      }, wholeFiles(), fs.readFileSync(path.join(wholeDir, '../images/photo.png')).toString('base64'), wholeSizes, scales);
      expectSamePeople(got.native, expected.native, 1e-4);
      expectSamePeople(got.onnx, expected.onnx, 1e-4); // each net in onnxruntime-web, as Node's in onnxruntime-node
      expect(got.otherEngine).toBe("CremaError: detectPoses: the hand and face nets must be loaded on the body net's engine (Net.load(files, { engine }))");
      expect(got.notANet).toBe("CremaError: detectPoses: options.face is OpenPose's face net (a loaded Net: models/face/pose_deploy.prototxt), got string"); // as Node's (test/openpose-parts.test.ts)
      // (the hand net's output as its last forward left it: 48 x 48 crops, 6 x 6 maps)
      expect(got.swapped).toBe("CremaError: pose: the face net's output 'net_output' is 1 x 22 x 6 x 6; OpenPose's face net gives 1 x 71 x H x W (70 keypoint heatmaps and the background)");
      expect(got.badSide).toBe("CremaError: detectPoses: options.handNetResolution is the side of the hand net's square input, a multiple of 16 (OpenPose's --hand_net_resolution, default 368), got 50");
      // handScaleNumber / handScaleRange reach the worker: its hands are Node's at three scales, not at one
      expect(expected.scaled.map((p) => p.handLeft)).not.toEqual(expected.native.map((p) => p.handLeft));
      expectSamePeople(got.scaled, expected.scaled, 1e-4);
      expect(got.badRange).toBe("CremaError: detectPoses: options.handScaleRange is a number in (0, 1] (OpenPose's --hand_scale_range), got 2");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("the page's Find people with OpenPose's hand and face nets picked: faces and hands as the Node library finds them, drawn and listed as crema pose does; bad picks refused", async () => {
    const scales = { handScaleNumber: 3, handScaleRange: 0.5 };
    const expected = { native: await nodeWholeParts('native'), onnx: await nodeWholeParts('onnx'), scaled: await nodeWholeParts('native', scales), handOnly: await nodeWholeParts('native', scales, false) };
    expect(expected.handOnly.map((p) => p.face)).not.toEqual(expected.scaled.map((p) => p.face));
    const photo = path.join(wholeDir, '../images/photo.png');
    const { page, errors } = await open(browser, server.url);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-parts-'));
    const pickParts = async (...files: string[]) => (await page.$('#pose-parts'))!.uploadFile(...files);
    const partsShown = () => page.$$eval('#pose-parts-loaded .part-name', (els) => els.map((e) => e.textContent));
    const both = ['hand: hand.prototxt + hand.caffemodel', 'face: face.prototxt + face.caffemodel'];
    try {
      await (await page.$('#prototxt'))!.uploadFile(wholeFile('body', 'prototxt'));
      await (await page.$('#weights'))!.uploadFile(wholeFile('body', 'caffemodel'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#classify-title', (e) => e.textContent)).toBe('Find people');
      for (const [id, value] of [['#net-resolution', '-1x64'], ['#hand-net-resolution', '48x48'], ['#face-net-resolution', '48x48']]) await fill(page, id, value);
      // OpenPose names both prototxts pose_deploy.prototxt: the page tells them apart by their outputs (the face's first here)
      await pickParts(wholeFile('face', 'prototxt'), wholeFile('face', 'caffemodel'));
      await page.waitForFunction(`document.getElementById('pose-parts-loaded').textContent || document.getElementById('error').textContent`);
      await pickParts(wholeFile('hand', 'prototxt'), wholeFile('hand', 'caffemodel'));
      await page.waitForFunction(`document.getElementById('pose-parts-loaded').textContent.includes('hand') || document.getElementById('error').textContent`);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      expect(await partsShown()).toEqual(both);
      await (await page.$('#image'))!.uploadFile(photo);
      const people = async (by: string) => {
        await page.waitForFunction(`document.getElementById('run-time').textContent.includes(${JSON.stringify(by)}) || document.getElementById('error').textContent`);
        expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
        return page.evaluate(() => (globalThis as unknown as { cremaPage: { people: Person[] } }).cremaPage.people);
      };
      const found = await people('the engine worker');
      expectSamePeople(found, expected.native, 1e-4);
      await page.$eval('#face-net-resolution', (e) => (e as unknown as { blur(): void }).blur()); // no focus ring in the picture
      await shot(page, 'web-pose.png', '#classify', '#detections li:nth-child(3)'); // the first three people
      // drawn as crema pose -o draws them (posesSvg over the photo): the canvas is the picture with the faces and
      // hands, and differs from the one without them
      const model = poseModel('COCO'), { width, height } = await loadImage(photo, true);
      const bodiesOnly = found.map(({ score, keypoints }) => ({ score, keypoints }));
      const differing = async (svg: string) => page.evaluate(`(async () => {
        const canvas = document.getElementById('boxes'), drawn = new OffscreenCanvas(canvas.width, canvas.height).getContext('2d');
        drawn.drawImage(await createImageBitmap(await (await fetch(${JSON.stringify(`data:image/png;base64,${fs.readFileSync(photo).toString('base64')}`)})).blob()), 0, 0);
        const svg = new Image();
        svg.src = URL.createObjectURL(new Blob([${JSON.stringify(svg)}], { type: 'image/svg+xml' }));
        await svg.decode();
        drawn.drawImage(svg, 0, 0);
        const a = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, b = drawn.getImageData(0, 0, canvas.width, canvas.height).data;
        let changed = 0;
        for (let i = 0; i < a.length; i += 4) changed += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30 ? 1 : 0;
        return changed;
      })()`) as Promise<number>;
      expect(await differing(posesSvg(width, height, model, found))).toBe(0);
      expect(await differing(posesSvg(width, height, model, bodiesOnly))).toBeGreaterThan(20);
      // each person's line and its faces' and hands' under it, as crema pose prints them
      expect(await page.$$eval('#detections li', (lis) => lis.map((li) => li.textContent))).toEqual(expected.native.map((p, i) => `${personLine(model.parts, p, i)}\n${partsLine(p)}`));
      await page.select('#backend', 'onnx');
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await click(page, '#run');
      expectSamePeople(await people('ONNX Runtime Web'), expected.onnx, 1e-4);
      // --hand-scale-number 3, --hand-scale-range 0.5: the hands at three scales, as Node's
      await page.select('#backend', 'native');
      await fill(page, '#hand-scale-number', String(scales.handScaleNumber));
      await fill(page, '#hand-scale-range', String(scales.handScaleRange));
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await click(page, '#run');
      expectSamePeople(await people('the engine worker'), expected.scaled, 1e-4);
      // The face net's "remove": released in the engine worker, the people found again with the hand net alone
      await page.evaluate('globalThis.removedFace = cremaPage.partNets.face');
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await click(page, '#pose-parts-loaded button[aria-label="Remove the face net"]');
      expectSamePeople(await people('the engine worker'), expected.handOnly, 1e-4);
      expect(await partsShown()).toEqual([both[0]]);
      expect(await page.$eval('#status', (e) => e.textContent)).toBe('face net removed');
      expect(await page.evaluate(`removedFace.engine.call({ op: 'convert', net: removedFace.info.id }).then(() => 'kept', (e) => e.message.replace(/\\d+/, 'N'))`)).toBe('no net N in this engine (disposed?)');
      // picked again: the faces back
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await pickParts(wholeFile('face', 'prototxt'), wholeFile('face', 'caffemodel'));
      expectSamePeople(await people('the engine worker'), expected.scaled, 1e-4);
      expect(await partsShown()).toEqual(both);
      // The Caffe controls load the part nets as the body net (crema pose loads --hand and --face as the body): a
      // fork's field refused naming "skip unknown fields", skipped with it checked, the status saying what
      const forked = path.join(dir, 'hand.prototxt');
      fs.writeFileSync(forked, fs.readFileSync(wholeFile('hand', 'prototxt'), 'utf8').replace('convolution_param {', 'convolution_param {\n  engine: MKL2017\n '));
      await pickParts(forked, wholeFile('hand', 'caffemodel'));
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(
        "hand.prototxt:5:11: layer 'net_output' has unknown value 'MKL2017' for 'engine' in convolution_param (expected one of DEFAULT, CAFFE, CUDNN; \"skip unknown fields\" skips it)");
      await click(page, '#lenient');
      await page.$eval('#run-time', (e) => (e.textContent = ''));
      await pickParts(forked, wholeFile('hand', 'caffemodel'));
      expectSamePeople(await people('the engine worker'), expected.scaled, 1e-4);
      expect(await page.$eval('#status', (e) => e.textContent)).toBe("hand net loaded; hand.prototxt:5:11: layer 'net_output' has unknown value 'MKL2017' for 'engine' in convolution_param (expected one of DEFAULT, CAFFE, CUDNN) (skipped)");
      expect(await partsShown()).toEqual(both);
      // a bad side, a lone file, a net that is neither OpenPose's hand nor face net: each in one line
      await fill(page, '#hand-net-resolution', '48x40');
      await click(page, '#run');
      await page.waitForSelector('#error:not(:empty)');
      expect(await page.$eval('#error', (e) => e.textContent)).toBe("--hand-net-resolution: SIDExSIDE, a square, the side a multiple of 16 (OpenPose's default: 368x368), got '48x40'");
      await pickParts(wholeFile('hand', 'prototxt'));
      await page.waitForFunction(`document.getElementById('error').textContent.startsWith('hand.prototxt:')`);
      expect(await page.$eval('#error', (e) => e.textContent)).toBe("hand.prototxt: pick OpenPose's hand or face net, its .prototxt and .caffemodel together");
      await pickParts(wholeFile('body', 'prototxt'), wholeFile('body', 'caffemodel'));
      await page.waitForFunction(`document.getElementById('error').textContent.startsWith('body.prototxt:')`);
      // in the words of crema pose's refusal (partNetMismatch), the file named
      expect(await page.$eval('#error', (e) => e.textContent)).toBe(
        "body.prototxt: the hand or face net's output 'net_output' is 1 x 57 x 2 x 2; OpenPose's hand net gives 1 x 22 x H x W (21 keypoint heatmaps and the background), its face net 1 x 71 x H x W (70 keypoint heatmaps and the background)");
      expect(await partsShown()).toEqual(both); // the nets it had, kept
      // Another body net in its place: the hand and face nets released in the engine worker
      await page.evaluate('globalThis.partNets = Object.values(cremaPage.partNets)');
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      expect(await partsShown()).toEqual([]);
      const released = await page.evaluate(`Promise.all(partNets.map((n) => n.engine.call({ op: 'convert', net: n.info.id }).then(() => 'kept', (e) => e.message.replace(/\\d+/, 'N'))))`);
      expect(released).toEqual(Array(2).fill('no net N in this engine (disposed?)'));
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("segments and finds edges as the Node library does (Net.segment, Net.edges in the engine worker), both backends, a JPEG as PIL reads it", async () => {
    // The thin FCN-8s and RCF of test/fixtures/dense (their deploy nets, channels / 16, synthetic weights)
    const dense = path.join(root, 'test/fixtures/dense');
    const files = (kind: 'fcn8s' | 'rcf') => ({ prototxt: fs.readFileSync(path.join(dense, kind, 'net.prototxt'), 'utf8'), weights: Buffer.from(denseWeights(kind)).toString('base64') });
    const nets = { fcn8s: files('fcn8s'), rcf: files('rcf') };
    const photo = path.join(dense, 'images/c.jpg'); // EXIF orientation 6: 90 x 70 as stored, which the demos read
    const expected = { segment: await nodeDense('fcn8s', (n) => segment(n, photo)), edges: await nodeDense('rcf', (n) => edges(n, photo, { scales: [0.5, 1] })) };
    expect([expected.segment.width, expected.segment.height]).toEqual([90, 70]);
    const { page, errors } = await open(browser, server.url);
    try {
      const got = await page.evaluate(async (nets, jpeg) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine(undefined, { onnxRuntime: new URL('ort/ort.wasm.bundle.min.mjs', (globalThis as unknown as { location: URL }).location.href).href });
        const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const load = (f: { prototxt: string; weights: string }) => crema.Net.load({ prototxt: f.prototxt, weights: bytes(f.weights) }, { engine });
        const fcn = await load(nets.fcn8s), rcf = await load(nets.rcf);
        const image = new Blob([bytes(jpeg)]);
        const plain = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ArrayBuffer.isView(v) ? [...(v as unknown as number[])] : v]));
        const said = (p: Promise<unknown>) => p.then(() => 'ran', (err: Error) => `${err.name}: ${err.message}`);
        return {
          segment: plain(await fcn.segment(image)),
          segmentOnnx: plain(await fcn.segment(image, { backend: 'onnx' })),
          edges: plain(await rcf.edges(image, { scales: [0.5, 1] })),
          edgesOnnx: plain(await rcf.edges(image, { scales: [0.5, 1], backend: 'onnx' })),
          bad: await said(rcf.edges(image, { scales: [0] })),
        };
      }, nets, fs.readFileSync(photo).toString('base64'));
      for (const s of [got.segment, got.segmentOnnx]) {
        expect([s.width, s.height]).toEqual([90, 70]);
        expect(s.labels).toEqual([...expected.segment.labels]);
        expect(s.classes).toEqual(expected.segment.classes);
      }
      for (const [e, tolerance] of [[got.edges, 1e-6], [got.edgesOnnx, 1e-5]] as const) {
        expect([e.width, e.height]).toEqual([90, 70]);
        const data = e.data as unknown as number[];
        expect(Math.max(...data.map((v, i) => Math.abs(v - expected.edges.data[i])))).toBeLessThanOrEqual(tolerance);
      }
      expect(got.bad).toBe("CremaError: edges: options.scales is a list of factors above 0 (RCF's multi-scale test: [0.5, 1, 1.5]), got [0]");
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('the page segments an image and finds edges with FCN and RCF nets as Node does (both backends), its section titled for each', async () => {
    const dense = path.join(root, 'test/fixtures/dense');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-page-dense-'));
    const weightsOf = (kind: 'fcn8s' | 'rcf') => {
      const file = path.join(dir, `${kind}.caffemodel`);
      fs.writeFileSync(file, denseWeights(kind));
      return file;
    };
    const photo = path.join(dense, 'images/c.jpg'); // EXIF orientation 6: 90 x 70 as stored, which the demos read
    const voc = fs.readFileSync(path.join(dense, 'voc.txt'), 'utf8').trim().split('\n');
    const expected = { segment: await nodeDense('fcn8s', (n) => segment(n, photo)), edges: await nodeDense('rcf', (n) => edges(n, photo, { scales: [0.5, 1] })) };
    const { page, errors } = await open(browser, server.url);
    const text = (selector: string) => page.$eval(selector, (e) => e.textContent);
    /** Waits for the run the run-time line names `by`, and says the page's error (none). */
    const ran = async (by: string) => {
      await page.waitForFunction(`document.getElementById('run-time').textContent.includes(${JSON.stringify(by)}) || document.getElementById('error').textContent`);
      expect(await text('#error')).toBe('');
    };
    /** The canvas's pixels as RGB bytes. */
    const canvasRgb = () => page.$eval('#boxes', (e) => {
      const c = e as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      return [...c.getContext('2d').getImageData(0, 0, c.width, c.height).data].filter((_, i) => i % 4 !== 3);
    });
    try {
      // The image first: decoded upright for the thumbnail (no net yet), then given to Net.segment as its file, which
      // the library reads as PIL does.
      await (await page.$('#image'))!.uploadFile(photo);
      await page.waitForFunction("document.getElementById('thumb').width === 70 && document.getElementById('thumb').height === 90");
      await (await page.$('#prototxt'))!.uploadFile(path.join(dense, 'fcn8s/net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(weightsOf('fcn8s'));
      await (await page.$('#labels'))!.uploadFile(path.join(dense, 'voc.txt'));
      await click(page, '#load');
      expect(await waitLoaded(page)).toBe('');
      expect([await text('#classify-title'), await text('#run')]).toEqual(['Segment an image', 'Segment']);
      expect(await (await page.$('#pre'))!.isVisible()).toBe(false); // the demos' own preprocessing
      await click(page, '#run');
      const labelled = async () => (await page.evaluate(() => (globalThis as unknown as { cremaPage: { segmentation: { width: number; height: number; labels: number[]; classes: unknown[] } } }).cremaPage.segmentation));
      await ran('the engine worker');
      const total = expected.segment.width * expected.segment.height;
      const lines = expected.segment.classes.map((c) => segmentClassLine(c, total, voc));
      let got = await labelled();
      expect([got.width, got.height]).toEqual([90, 70]);
      expect(got.labels).toEqual([...expected.segment.labels]);
      expect(got.classes).toEqual(expected.segment.classes);
      const size = (id: string) => page.$eval(id, (e) => [(e as unknown as { width: number }).width, (e as unknown as { height: number }).height]);
      expect([await size('#thumb'), await size('#boxes')]).toEqual([[90, 70], [90, 70]]); // the thumbnail now as the net reads it
      expect(await page.$$eval('#detections li', (li) => li.map((e) => e.textContent))).toEqual(lines);
      expect(lines[0]).toBe('0 background: 424 pixels (6.7%)'); // crema segment's line, named from the labels file
      expect(await canvasRgb()).toEqual([...colourLabels(expected.segment.labels, vocPalette(21))]);
      await shot(page, 'web-segment.png', '#classify');
      await page.select('#backend', 'onnx');
      await click(page, '#run');
      await ran('ONNX Runtime Web');
      got = await labelled();
      expect(got.labels).toEqual([...expected.segment.labels]);
      expect(await page.$$eval('#detections li', (li) => li.map((e) => e.textContent))).toEqual(lines);

      // RCF: its two-scale test, through onnxruntime-web (the backend still chosen), then natively.
      await (await page.$('#prototxt'))!.uploadFile(path.join(dense, 'rcf/net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(weightsOf('rcf'));
      await click(page, '#load');
      expect(await waitLoaded(page, 2)).toBe('');
      expect([await text('#classify-title'), await text('#run')]).toEqual(['Find edges', 'Find']);
      expect(await (await page.$('#pre'))!.isVisible()).toBe(false); // the demos' own preprocessing
      await page.type('#scales', '0.5,1');
      const edgeMap = async () => (await page.evaluate(() => (globalThis as unknown as { cremaPage: { edges?: { width: number; height: number; data: number[] } } }).cremaPage.edges));
      expect(await edgeMap()).toBeUndefined();
      await click(page, '#run');
      await page.waitForFunction("cremaPage.edges !== undefined || document.getElementById('error').textContent");
      expect(await text('#error')).toBe('');
      const within = async (tolerance: number) => {
        const e = (await edgeMap())!;
        expect([e.width, e.height]).toEqual([90, 70]);
        expect(Math.max(...e.data.map((v, i) => Math.abs(v - expected.edges.data[i])))).toBeLessThanOrEqual(tolerance);
        // the canvas: 255 * (1 - edge) as crema edges writes it, gray
        expect(await canvasRgb()).toEqual([...edgeBytes(Float32Array.from(e.data))].flatMap((v) => [v, v, v]));
      };
      await within(1e-5);
      expect(await text('#run-time')).toMatch(/^c\.jpg: the edge map \(2 scales: 0\.5, 1\) in [\d.]+ ms \(ONNX Runtime Web/);
      await page.select('#backend', 'native');
      await click(page, '#run');
      await ran('the engine worker');
      await within(1e-6);
      await shot(page, 'web-edges.png', '#classify');
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it("Find edges reads HED's Crops without crop_param in the hed dialect, as crema edges does, its note shown; a dialect chosen is kept", async () => {
    const hed = path.join(root, 'test/fixtures/dense/hed');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-page-hed-'));
    const weights = path.join(dir, 'hed.caffemodel');
    fs.writeFileSync(weights, denseWeights('hed'));
    const photo = path.join(root, 'test/fixtures/dense/images/a.png');
    // crema edges' library call: HED in the hed dialect (test/dense.test.ts: HED's tutorial in FCN's Caffe of 2015)
    const expected = { hed: await nodeDense('hed', (n) => edges(n, photo), 'hed'), bvlc: await nodeDense('hed', (n) => edges(n, photo), 'faceboxes') }; // as the page's choice below: BVLC's Crop (edges refuses HED's net loaded in no dialect)
    const { page, errors } = await open(browser, server.url);
    const notes = () => page.$$eval('#notes li', (li) => li.map((e) => e.textContent));
    /** Loads HED (the `count`th net) in `dialect`, finds its edges natively, and returns the largest difference from `want`'s. */
    const found = async (dialect: string, count: number, want: Float32Array) => {
      await page.select('#dialect', dialect);
      await (await page.$('#prototxt'))!.uploadFile(path.join(hed, 'net.prototxt'));
      await (await page.$('#weights'))!.uploadFile(weights);
      await click(page, '#load');
      expect(await waitLoaded(page, count)).toBe('');
      expect([await page.$eval('#classify-title', (e) => e.textContent), await page.$eval('#run', (e) => e.textContent)]).toEqual(['Find edges', 'Find']);
      await click(page, '#run');
      await page.waitForFunction("cremaPage.edges !== undefined || document.getElementById('error').textContent");
      expect(await page.$eval('#error', (e) => e.textContent)).toBe('');
      const e = await page.evaluate(() => (globalThis as unknown as { cremaPage: { edges: { width: number; height: number; data: number[] } } }).cremaPage.edges);
      expect([e.width, e.height]).toEqual([100, 80]);
      return Math.max(...e.data.map((v, i) => Math.abs(v - want[i])));
    };
    try {
      await (await page.$('#image'))!.uploadFile(photo);
      expect(await found('', 1, expected.hed.data)).toBeLessThanOrEqual(1e-6);
      // crema edges' note, in the page's words (its Caffe control for --dialect hed)
      expect(await notes()).toContain("Crop 'crop' without crop_param, as in HED's net: loaded with Caffe: FCN 2015 (HED, CRF-RNN) (FCN's Caffe of 2015, which aligns by the layers' coordinate maps)");
      // The Blob view: Find edges fetches no blob, as Find faces (the MTCNN test)
      await page.select('#blob', 'conv1_1');
      expect(await page.$eval('#blob-stats', (e) => e.textContent)).toBe('conv1_1 1×4×568×568: "Find edges" fetches no blob values (only Classify fetches them)');
      // A dialect chosen (FaceBoxes: its PriorBox only) is the net's: BVLC's Crop, no note; the edges shifted from HED's
      expect(await found('faceboxes', 2, expected.bvlc.data)).toBeLessThanOrEqual(1e-6);
      expect((await notes()).filter((n) => n?.includes('without crop_param'))).toEqual([]);
      expect(Math.max(...expected.bvlc.data.map((v, i) => Math.abs(v - expected.hed.data[i])))).toBeGreaterThan(0.01);
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('decodes the shipped PNG and JPEG examples to the pixels the Node path reads', async () => {
    const { page } = await open(browser, server.url);
    try {
      for (const [file, color] of [['cifar10_full/examples/cat.jpg', true], ['lenet/examples/digit-3.png', false], ['lenet/examples/digit-7.png', true]] as const) {
        const browserPixels = await page.evaluate(
          async (url, color) => {
            const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
            const im = await crema.decodeImage(await (await fetch(url)).blob(), color);
            return { dims: [im.height, im.width, im.channels], data: [...im.data] };
          },
          `models/${file}`,
          color,
        );
        const im = await loadImage(path.join(root, 'models', file), color);
        expect(browserPixels.dims, file).toEqual([im.height, im.width, im.channels]);
        expect(browserPixels.data, file).toEqual([...im.data]);
      }
      // A 16-bit gray PNG (test/flow.test.ts's): 8 bits here, the canvas's, where the Node path keeps Pillow's 16 (README)
      const gray16 = path.join(flownetDir, 'gray16.png'), pillow = JSON.parse(fs.readFileSync(path.join(flownetDir, 'gray16.json'), 'utf8')) as number[];
      const read16 = await page.evaluate(async (bytes) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const im = await crema.decodeImage(new Blob([new Uint8Array(bytes)]), false);
        return { channels: im.channels, bits: (im as { bits?: number }).bits, values: [...im.data].map((v) => Math.round(v * 255)) };
      }, [...fs.readFileSync(gray16)]);
      const node16 = await loadImage(gray16, false);
      expect([node16.bits, [...node16.data].map((v) => Math.round(v * 65535))]).toEqual([16, pillow]);
      expect(read16).toEqual({ channels: 1, bits: 8, values: pillow.map((v) => v >> 8) });
      // A header of more than 10^8 pixels: the Node path's message, before the browser decodes anything.
      const png = fs.readFileSync(path.join(root, 'models/lenet/examples/digit-7.png'));
      png.writeUInt32BE(20000, 16);
      png.writeUInt32BE(20000, 20);
      const said = await page.evaluate(async (bytes) => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        return crema.decodeImage(new Blob([new Uint8Array(bytes)]), true).then(() => 'decoded', (err: Error) => `${err.name}: ${err.message}`);
      }, [...png]);
      expect(said).toBe("CremaError: image: more than 10000 x 10000 pixels (10^8, crema's limit for an image): make it smaller first");
    } finally {
      await page.close();
    }
  });

  it('without cross-origin isolation the engine runs the unshared kernels on one thread, with the same numbers', async () => {
    const { page, errors } = await open(browser, `${plain.url}?model=cifar10_full`);
    try {
      expect(await waitLoaded(page)).toBe('');
      expect(await page.$eval('#totals', (e) => e.textContent)).toMatch(/kernels: fma, 1 thread$/);
      await click(page, '#examples button');
      await page.waitForFunction(() => (globalThis as unknown as { cremaPage: PageState }).cremaPage.top.length > 0);
      expect((await pageState(page)).probs).toEqual([...node.prob]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("copies a forward's inputs into buffers the engine gave back: the caller's arrays untouched, each run its own numbers", async () => {
    const { page, errors } = await open(browser, `${server.url}?model=lenet`);
    try {
      expect(await waitLoaded(page)).toBe('');
      const runs = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine();
        const spare = () => (engine as unknown as { spare: { buffers: ArrayBuffer[] } }).spare.buffers.map((b) => b.byteLength);
        const net = await crema.Net.load({ prototxt: 'input: "x" input_shape { dim: 1 dim: 3 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }' }, { engine });
        const a = Float32Array.of(-1, 2, -3), b = Float32Array.of(4, -5, 6), out: unknown[] = [];
        for (const x of [a, b, a, b]) {
          const { y } = (await net.run({ x: { dims: [1, 3], data: x } }, { backend: 'native' })) as { y: { data: Float32Array } };
          out.push({ y: [...y.data], spare: spare() });
        }
        // A feed of another size gets a new buffer and keeps the one given back for this size.
        const other = await crema.Net.load({ prototxt: 'input: "x" input_shape { dim: 1 dim: 2 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }' }, { engine });
        await other.run({ x: { dims: [1, 2], data: Float32Array.of(1, -1) } }, { backend: 'native' });
        return { out, a: [...a], b: [...b], spare: spare() };
      });
      expect(runs.out).toEqual([
        { y: [0, 2, 0], spare: [12] },
        { y: [4, 0, 6], spare: [12] },
        { y: [0, 2, 0], spare: [12] },
        { y: [4, 0, 6], spare: [12] },
      ]);
      expect([runs.a, runs.b]).toEqual([[-1, 2, -3], [4, -5, 6]]);
      expect(runs.spare).toEqual([12, 8]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('reports an engine worker that cannot start, and fits a phone-sized screen', async () => {
    const { page } = await open(browser, `${server.url}?model=lenet`, 390, 844);
    try {
      expect(await waitLoaded(page)).toBe('');
      const message = await page.evaluate(async () => {
        const { crema } = (globalThis as unknown as { cremaPage: { crema: BrowserLib } }).cremaPage;
        const engine = new crema.Engine('/no-such-worker.js');
        return engine.ready.then(
          () => 'started',
          (err: Error) => `${err.name}: ${err.message}`,
        );
      });
      expect(message).toMatch(/^CremaError: the crema engine worker \(\/no-such-worker\.js\) failed: /);
      // Nothing wider than the screen: no sideways scrolling on a phone.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await shot(page, 'web-phone.png');
    } finally {
      await page.close();
    }
  });
});
