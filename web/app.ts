// The page (`crema ui`): open a Caffe model (shipped, picked or dropped), see its layer graph and layers, classify
// an image with classify's preprocessing (or, for a detector, outline the objects it finds; with MTCNN's nets, the
// faces), look at any blob (channel grid + histogram), at LRN's lateral inhibition, time each layer, convert to
// ONNX. Everything runs in the browser, on crema's engine worker.
import { Graphviz } from '@hpcc-js/wasm-graphviz';
import * as crema from '../src/browser/index.js';
import { parseDataShape } from '../src/util/data-shape.js';
import { DIALECTS, DIALECT_WORDS, isDialect } from '../src/caffe/dialects.js';
import { type MtcnnRole, MTCNN_FILES, detectionLine, faceDetection, faceLine, mtcnnRoles, parseThresholds } from '../src/detect/options.js';
import { colourLabels, edgeBytes, segmentClassLine, vocPalette } from '../src/detect/dense-view.js';
import { flowLine } from '../src/detect/flow.js';
import { posesSvg } from '../src/detect/pose-draw.js';
import { type Person, type PoseDetectOptions, type PosePartOptions, parseResolution, parseSquareResolution, personLines, poseModel } from '../src/detect/pose-models.js';
import { partKindOf, partNetMismatch, poseOutput } from '../src/detect/pose-parts.js';
import {
  type Backend,
  type BrowserVerifyReport,
  type Detection,
  type EdgeMap,
  Engine,
  type Face,
  type FileNames,
  type FloatImage,
  type LayerInfo,
  type MtcnnNets,
  Net,
  type PreprocessOptions,
  type Segmentation,
  type Tensor,
  decodeImage,
  detectFaces,
  geometryOf,
  preprocess,
  readBlob,
  seededInput,
  tileGrid,
} from '../src/browser/index.js';

interface Shipped {
  title: string;
  examples: string[];
  /** The preprocessing classify uses; none for MTCNN, whose nets prepare the image as its demo does. */
  pre?: { channelSwap: string; rawScale: string; mean: string };
  /** MTCNN's nets (det1..det3 in the model's directory) rather than one deploy.prototxt and weights.caffemodel. */
  faces?: true;
}

/** The models crema ships (models/<name>/), with the preprocessing their README gives. */
const SHIPPED: Record<string, Shipped> = {
  cifar10_full: { title: 'CIFAR-10 full (V1, 2014; LRN WITHIN_CHANNEL)', examples: ['cifar10_full/examples/cat.jpg'], pre: { channelSwap: '0,1,2', rawScale: '255', mean: '125,123,114' } },
  cifar10_quick: { title: 'CIFAR-10 quick', examples: ['cifar10_full/examples/cat.jpg'], pre: { channelSwap: '0,1,2', rawScale: '255', mean: '125,123,114' } },
  lenet: { title: 'LeNet (MNIST digits)', examples: [0, 2, 3, 7].map((d) => `lenet/examples/digit-${d}.png`), pre: { channelSwap: '', rawScale: '1', mean: '' } },
  mtcnn: { title: 'MTCNN face detector (3 nets, 2016)', examples: ['mtcnn/examples/handshake.jpg'], faces: true },
};

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface State {
  /** The net the page shows (MTCNN's P-Net when it has MTCNN's nets). */
  net?: Net;
  /** MTCNN's nets, when the page has them: "Find faces" runs the three (four) together. */
  faces?: MtcnnNets;
  /** OpenPose's hand and face nets picked for "Find people" (crema pose --hand, --face), with their files' names. */
  parts: { hand?: PartNet; face?: PartNet };
  labels: string[];
  image?: FloatImage;
  /** How `image` was decoded (decodeImage's color and upright): a mode that reads the file so takes it as it is. */
  read?: { color: boolean; upright: boolean };
  imageName?: string;
  /** The image's file: Net.segment and Net.edges read it as the demos' PIL does (a JPEG's EXIF orientation not applied). */
  file?: Blob;
  /** FlowNet's second frame (the "Second image"), decoded when picked as Net.flow reads it, and its name: the flow is from the image to it. */
  second?: { image: FloatImage; name: string };
  /** Every blob after the last forward. */
  blobs: Record<string, Tensor>;
  input?: Tensor;
  selectedLayer?: number;
}
const state: State = { labels: [], blobs: {}, parts: {} };

interface PartNet {
  net: Net;
  name: string;
}

/** The page's engine; onnxruntime-web (when installed) comes from /ort/, where `crema ui` and the static build put it. */
const pageEngine = new Engine(undefined, { onnxRuntime: new URL('ort/ort.wasm.bundle.min.mjs', location.href), h5wasm: new URL('h5wasm/hdf5_hl.js', location.href) });

/** What the browser tests read (the page's last results). */
const exposed = {
  top: [] as { index: number; label: string; prob: number }[],
  probs: [] as number[],
  detections: [] as Detection[],
  colorized: undefined as { width: number; height: number; data: number[] } | undefined,
  people: [] as Person[],
  segmentation: undefined as { width: number; height: number; labels: number[]; classes: Segmentation['classes'] } | undefined,
  edges: undefined as { width: number; height: number; data: number[] } | undefined,
  /** The last flow (u, v per pixel) and its picture's RGB bytes. */
  flow: undefined as { width: number; height: number; data: number[]; colors: number[] } | undefined,
  faces: [] as Face[],
  /** MTCNN's nets while the page has them (the tests check that loading another net releases them). */
  get faceNets() {
    return state.faces;
  },
  /** OpenPose's hand and face nets while the page has them (released when another net loads). */
  get partNets() {
    return { hand: state.parts.hand?.net, face: state.parts.face?.net };
  },
  downloads: [] as { name: string; bytes: Uint8Array }[],
  loaded: 0,
  crema,
  /** The engine (the tests ask it what it holds: loading another net releases the one replaced). */
  engine: pageEngine,
};
(globalThis as { cremaPage?: unknown }).cremaPage = exposed;

function say(text: string): void {
  $('status').textContent = text;
}

/** The library's options in a message as this page's controls. */
function inPageWords(message: string): string {
  const dialectsNamed = DIALECTS.reduce((m, d) => m.replace(`options.dialect '${d}'`, `Caffe: ${DIALECT_WORDS[d].label}`), message);
  return dialectsNamed
    .replace(/options\.dataShapes: \{ '(.*?)': \[([A-Z, ]+)\] \}/g, (_, top: string, dims: string) => `"data shape" ${top}=${dims.replace(/ /g, '')}`)
    .replace('options.lenient skips it', '"skip unknown fields" skips it');
}

/** Errors as the CLI prints them: one line. */
function showError(err: unknown): void {
  const message = inPageWords(err instanceof Error ? err.message : String(err));
  $('error').textContent = message.split('\n')[0];
  $('error').title = message;
  say('');
}

async function guarded(what: () => Promise<void>): Promise<void> {
  $('error').textContent = '';
  try {
    await what();
  } catch (err) {
    showError(err);
  }
}

/** Reads a file or an HTTP response to the end, showing how far it got (weights can be hundreds of MB). */
async function readAll(source: File | Response, name: string): Promise<Uint8Array> {
  const total = source instanceof File ? source.size : Number(source.headers.get('content-length') ?? 0);
  const progress = $<HTMLProgressElement>('progress');
  progress.value = 0; // not the last file's full bar
  progress.hidden = total < 4e6; // small files: no bar flashing by
  const show = (got: number) => {
    if (total) progress.value = got / total;
    say(`reading ${name}: ${(got / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`);
  };
  try {
    // a file: into one buffer of its size, allocated first (one too large for it refused before any is read)
    return source instanceof File ? await readBlob(source, name, show) : await readResponse(source, show);
  } finally {
    progress.hidden = true;
  }
}

/** An HTTP response's body (its length may be unknown: compressed, or not given), chunk by chunk. */
async function readResponse(response: Response, show: (got: number) => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let got = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    show(got);
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
}

async function fetchFile(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/** A net's files as read: their bytes, and the names errors give them. */
interface NetBytes {
  prototxt: Uint8Array;
  weights?: Uint8Array;
  names: FileNames;
}

/** MTCNN's nets' files, by role (det4's, LNet, for MTCNNv2 only). */
type FacesBytes = { [R in keyof MtcnnNets]: NetBytes };

/** Loads a net, or MTCNN's nets (P-Net shown), in place of the page's (released first), with the Caffe controls' options. */
async function loadNet(name: string, files: NetBytes | FacesBytes, labels: string[]): Promise<void> {
  say(`loading ${name}…`);
  const old = [state.net, ...Object.values(state.faces ?? {}), state.parts.hand?.net, state.parts.face?.net];
  Object.assign(state, { net: undefined, faces: undefined, parts: {} });
  showPartNets();
  $<HTMLButtonElement>('run').disabled = true;
  await Promise.all(old.map((n) => n?.dispose()));
  const skipped: string[] = [];
  const open = (f: NetBytes) => openNet(f, skipped);
  const faces = 'pnet' in files ? await openFaces(files, open) : undefined;
  const net = faces?.pnet ?? (await open(files as NetBytes));
  Object.assign(state, { net, faces, labels, blobs: {}, input: undefined, selectedLayer: undefined });
  $('verify-box').hidden = true;
  await render(net, name);
  exposed.loaded++;
  sayLoaded(name, skipped);
}

/**
 * A net's files loaded with the Caffe controls' options (the dialect, the frcnn config, "skip unknown fields", "data shape"): the
 * page's net, MTCNN's, and OpenPose's hand and face nets alike (crema pose loads --hand and --face as the body).
 * What "skip unknown fields" leaves out is pushed into `skipped`.
 */
async function openNet(f: NetBytes, skipped: string[]): Promise<Net> {
  const chosen = $<HTMLSelectElement>('dialect').value;
  const dialect = isDialect(chosen) ? chosen : undefined; // '' is BVLC 1.0
  const lenient = $<HTMLInputElement>('lenient').checked;
  const dataShapes = dataShapesOf($<HTMLInputElement>('data-shape').value);
  const config = $<HTMLInputElement>('frcnn-config').files?.[0]; // makefile/frcnn's (crema --frcnn-config)
  const frcnnConfig = config ? await config.text() : undefined;
  // Find edges reads HED's Crops as crema edges does (edgesDialect) unless a dialect is chosen
  return Net.load({ prototxt: f.prototxt, weights: f.weights }, { names: f.names, engine: pageEngine, dialect, edgesDialect: true, lenient, dataShapes, frcnnConfig, warn: (m) => skipped.push(m) });
}

/** "NAME loaded", and what "skip unknown fields" left out as the CLI's warnings: the first in the status, all in its tooltip. */
function sayLoaded(name: string, skipped: string[]): void {
  say(`${name} loaded${skipped.length ? `; ${skipped[0]}${skipped.length > 1 ? `, and ${skipped.length - 1} more` : ''}` : ''}`);
  $('status').title = skipped.join('\n');
}

/**
 * OpenPose's hand or face net picked (its .prototxt and .caffemodel), loaded with the Caffe controls as the body
 * net, told apart as crema pose checks them (its output's maps: 22 the hand's, 71 the face's), in place of the one
 * of its kind the page had; the people found again.
 */
async function loadPartNet(files: File[]): Promise<void> {
  const prototxt = files.filter((f) => /\.prototxt$/i.test(f.name)), weights = files.filter((f) => /\.caffemodel$/i.test(f.name));
  if (prototxt.length !== 1 || weights.length !== 1 || files.length !== 2)
    throw new Error(`${files.map((f) => f.name).join(', ')}: pick OpenPose's hand or face net, its .prototxt and .caffemodel together`);
  const [p, w] = [prototxt[0], weights[0]], skipped: string[] = [];
  const net = await openNet({ prototxt: await readAll(p, p.name), weights: await readAll(w, w.name), names: { prototxt: p.name, weights: w.name } }, skipped);
  const output = poseOutput(net.outputs), dims = net.info.blobs[output], kind = partKindOf(dims);
  if (!kind) {
    await net.dispose();
    throw new Error(partNetMismatch(p.name, ['hand', 'face'], output, dims));
  }
  await state.parts[kind]?.net.dispose();
  state.parts[kind] = { net, name: `${p.name} + ${w.name}` };
  showPartNets();
  sayLoaded(`${kind} net`, skipped);
  if (state.image && runKind() === 'pose') await runImage();
}

/** A part net's "remove": the net released, the people found again without it. */
async function removePartNet(kind: 'hand' | 'face'): Promise<void> {
  const part = state.parts[kind];
  if (!part) return;
  delete state.parts[kind];
  showPartNets();
  await part.net.dispose();
  say(`${kind} net removed`);
  if (state.image && runKind() === 'pose') await runImage();
}

/** The hand and face nets the page has, each named by its files, with a button that removes it. */
function showPartNets(): void {
  const shown = (['hand', 'face'] as const).flatMap((kind) => {
    const part = state.parts[kind];
    if (!part) return [];
    const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'remove', textContent: '×', title: `Remove the ${kind} net` });
    remove.setAttribute('aria-label', `Remove the ${kind} net`);
    remove.addEventListener('click', () => guarded(() => removePartNet(kind)));
    const name = Object.assign(document.createElement('span'), { className: 'part-name', textContent: `${kind}: ${part.name}` });
    const row = Object.assign(document.createElement('span'), { className: 'part-net' });
    row.append(name, remove);
    return [row];
  });
  $('pose-parts-loaded').replaceChildren(...shown);
}

/** Each of MTCNN's nets opened; when one fails, those that loaded are released before its error is thrown. */
async function openFaces(files: FacesBytes, open: (f: NetBytes) => Promise<Net>): Promise<MtcnnNets> {
  const roles = Object.keys(files) as MtcnnRole[];
  const got = await Promise.allSettled(roles.map((r) => open(files[r]!)));
  const failed = got.find((g) => g.status === 'rejected');
  if (failed) {
    await Promise.all(got.map((g) => g.status === 'fulfilled' && g.value.dispose()));
    throw failed.reason;
  }
  return Object.fromEntries(roles.map((r, i) => [r, (got[i] as PromiseFulfilledResult<Net>).value])) as unknown as MtcnnNets;
}

/** MTCNN's nets' files, each read by `read` ('det1.prototxt' to its bytes), named in errors by `at` (its path). */
async function facesBytes(roles: MtcnnRole[], read: (file: string) => Promise<Uint8Array>, at: (file: string) => string): Promise<FacesBytes> {
  const one = async (r: MtcnnRole): Promise<[MtcnnRole, NetBytes]> => {
    const [prototxt, weights] = [`${MTCNN_FILES[r]}.prototxt`, `${MTCNN_FILES[r]}.caffemodel`];
    return [r, { prototxt: await read(prototxt), weights: await read(weights), names: { prototxt: at(prototxt), weights: at(weights) } }];
  };
  return Object.fromEntries(await Promise.all(roles.map(one))) as FacesBytes;
}

/** The "data shape" field: TOP=N,C,H,W, several separated by spaces (the CLI's --data-shape), or nothing. */
function dataShapesOf(text: string): Record<string, number[]> | undefined {
  const specs = text.trim().split(/\s+/).filter(Boolean);
  if (!specs.length) return undefined;
  return Object.fromEntries(specs.map((spec) => parseDataShape(spec, 'data shape')));
}

async function loadShipped(model: string): Promise<void> {
  if (SHIPPED[model].faces) return loadShippedFaces(model);
  const base = `models/${model}/`;
  const [prototxt, weights, labels] = await Promise.all([
    fetchFile(`${base}deploy.prototxt`).then((r) => readAll(r, 'deploy.prototxt')),
    fetchFile(`${base}weights.caffemodel`).then((r) => readAll(r, 'weights.caffemodel')),
    fetch(`${base}labels.txt`).then((r) => (r.ok ? r.text() : '')),
  ]);
  const pre = SHIPPED[model].pre!;
  Object.entries({ 'channel-swap': pre.channelSwap, 'raw-scale': pre.rawScale, mean: pre.mean }).forEach(([id, v]) => ($<HTMLInputElement>(id).value = v));
  showExamples(SHIPPED[model].examples);
  await loadNet(model, { prototxt, weights, names: { prototxt: `${base}deploy.prototxt`, weights: `${base}weights.caffemodel` } }, lines(labels));
}

/** The shipped MTCNN: its directory's det1..det3. */
async function loadShippedFaces(model: string): Promise<void> {
  const base = `models/${model}/`;
  const files = await facesBytes(['pnet', 'rnet', 'onet'], async (f) => readAll(await fetchFile(base + f), f), (f) => base + f);
  showExamples(SHIPPED[model].examples);
  await loadNet(model, files, []);
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Files picked or dropped: a .prototxt (and its .caffemodel, labels), or several: MTCNN's det1..det3 (det4). */
async function loadPicked(files: { prototxt: File[]; weights: File[]; labels?: File }): Promise<void> {
  const [first, ...more] = files.prototxt, weightsFile = files.weights[0];
  if (!first) throw new Error('choose a .prototxt (and its .caffemodel)');
  showExamples([]);
  if (more.length) return loadPickedFaces([...files.prototxt, ...files.weights]);
  const prototxt = await readAll(first, first.name);
  const weights = weightsFile && (await readAll(weightsFile, weightsFile.name));
  const labels = files.labels ? lines(await files.labels.text()) : [];
  await loadNet(first.name, { prototxt, weights, names: { prototxt: first.name, weights: weightsFile?.name } }, labels);
}

/** Several .prototxt picked: MTCNN's nets, each file found by its demo's name, or a one-line error naming those missing. */
async function loadPickedFaces(files: File[]): Promise<void> {
  const byName = new Map(files.map((f) => [f.name.toLowerCase(), f]));
  const { roles, missing } = mtcnnRoles((f) => byName.has(f));
  if (missing.length) throw new Error(`${files.map((f) => f.name).join(', ')}: no ${missing.join(', ')} among them (the page opens one .prototxt, or MTCNN's nets: det1, det2 and det3 .prototxt and .caffemodel, and MTCNNv2's det4)`);
  const picked = (f: string) => byName.get(f)!;
  await loadNet('MTCNN', await facesBytes(roles, (f) => readAll(picked(f), picked(f).name), (f) => picked(f).name), []);
}

function showExamples(examples: string[]): void {
  const box = $('examples');
  box.replaceChildren(
    ...examples.map((path) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = path.split('/').pop()!;
      b.addEventListener('click', () => guarded(async () => setImage(await (await fetchFile(`models/${path}`)).blob(), b.textContent!)));
      return b;
    }),
  );
}

const fmt = (n: number) => n.toLocaleString('en-US');
const shape = (dims: readonly number[] | undefined) => (dims ? dims.join('×') : '');

async function render(net: Net, name: string): Promise<void> {
  const info = net.info;
  $('main').hidden = false;
  $('net-title').textContent = `${info.name || name}`;
  await showShapes(net);
  $('notes').replaceChildren(...[...info.upgrades, ...info.notes].map((n) => Object.assign(document.createElement('li'), { textContent: inPageWords(n) })));
  $('notes-box').hidden = !info.notes.length && !info.upgrades.length;
  const target = imageTarget(net);
  showMode(net);
  $('input-note').textContent = state.faces
    ? `MTCNN's ${Object.keys(state.faces).length} nets find the faces as its MATLAB demo and crema faces do (P-Net, shown here, over an image pyramid, then R-Net and O-Net${state.faces.lnet ? ' and LNet' : ''} on the boxes); the boxes and landmarks are in the image's pixels.`
    : info.dense
    ? `The net is reshaped to the image's size and fed it as ${info.dense === 'segment' ? "FCN's infer.py feeds" : "HED's and RCF's demos feed"} it: read as PIL reads it (a JPEG's EXIF orientation not applied), BGR, less the demos' mean.`
    : info.flow
    ? `FlowNet 2.0: the flow from the image to the second image, both of one size, as run-flownet.py (and crema flow) computes it: ${info.flow === 'template' ? 'the deploy template filled for their size, ' : `the net filled for ${shape(info.blobs[info.inputs[0]]).split('×').slice(2).reverse().join(' × ')} images only, `}their bytes in BGR order, no mean; shown in the Middlebury colours as flow_vis draws them.`
    : info.pose
    ? `OpenPose's ${info.pose} net: the image is scaled into its input at --net-resolution (each of --scale-number's scales) and padded with black, as crema pose feeds it; the keypoints are in the image's pixels.`
    : info.colorizer && target
    ? `The colorization net: the photo's lightness (L of Lab) at the input's ${shape(info.blobs[target]).split('×').slice(2).join(' × ')}, less 50, fed to '${target}' as its demo colorize.py feeds it; the colours zoomed back to the photo's size beside its own L.`
    : info.detector === 'faster-rcnn'
    ? `The image is scaled as py-faster-rcnn's im_detect scales it (its shorter side to 600 pixels, the longer at most 1000) and fed to '${info.inputs[0]}' with im_info; the boxes are in the image's pixels.`
    : info.detector === 'frcnn'
    ? `makefile/frcnn's net, run as its test_frcnn runs it, with the settings of the frcnn config (without one, the fork's default_config.json): the image scaled to each of its test_scales on the shorter side (the longer at most test_max_size), less pixel_means, fed to '${info.inputs[0]}' with im_info; the boxes of every scale together, NMS per class at test_nms, in the image's pixels.`
    : info.detector === 'fpn'
    ? `unsky/FPN's net, run as its own im_detect runs it: the image scaled as py-faster-rcnn's (its shorter side to 768 pixels, the longer at most 1280), padded below and right to a multiple of 64 and fed to '${info.inputs[0]}' with the padded size in im_info; per class NMS at 0.3, the boxes in the image's pixels.`
    : info.detector === 'ssh'
    ? `SSH's face detector, run as its demo.py runs it: the image fitted to 800 pixels on its shorter side (the longer at most 1200), then fed to '${info.inputs[0]}' with im_info at 500, 800, 1200 and 1600 of those 800 pixels (its pyramid); the faces of every scale together, NMS at 0.3, the boxes in the image's pixels.`
    : target
    ? `The image fills input '${target}' (${shape(info.blobs[target])}).${info.detector ? ' The boxes are in the image\'s pixels.' : ''}`
    : info.inputs.length === 0
      ? 'This net has no input to fill from an image.'
      : `This net has ${info.inputs.length} inputs (${info.inputs.map((i) => `${i} ${shape(info.blobs[i])}`).join(', ')}): the page fills one input from an image, so it cannot classify with this net (crema run --input NAME=FILE feeds each). Time each layer and Verify use seeded random values (seed 1) for every input.`;
  $<HTMLButtonElement>('run').disabled = !state.image || !runnable(net);
  await renderGraph(info.dot);
}

function renderLayers(layers: LayerInfo[], blobs: Record<string, number[]>): void {
  const rows = layers.map((l, i) => {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    tr.dataset.layer = String(i);
    for (const [text, num] of [[l.name], [l.type], [l.top.map((t) => shape(blobs[t])).join(', ')], [fmt(l.params), true], [fmt(l.macs), true], ['', true]] as [string, boolean?][]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (num) td.className = 'num';
      tr.append(td);
    }
    tr.addEventListener('click', () => selectLayer(i));
    tr.addEventListener('keydown', (e) => e.key === 'Enter' && selectLayer(i));
    return tr;
  });
  $('layers').querySelector('tbody')!.replaceChildren(...rows);
}

let graphviz: Promise<Awaited<ReturnType<typeof Graphviz.load>>> | undefined;

/** The net's totals, layers and blobs as its shapes are now (a FlowNet template's follow each image size: Net.flow). */
async function showShapes(net: Net): Promise<void> {
  const info = net.info;
  const params = info.layers.reduce((s, l) => s + l.params, 0), macs = info.layers.reduce((s, l) => s + l.macs, 0);
  const engine = await net.engine.ready;
  $('totals').textContent = `${info.layers.length} layers, ${fmt(params)} parameters, ${fmt(macs)} multiply-adds; inputs ${info.inputs.map((i) => `${i} ${shape(info.blobs[i])}`).join(', ')}; kernels: ${engine.kernels}, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}`;
  renderLayers(info.layers, info.blobs);
  $<HTMLSelectElement>('blob').replaceChildren(...Object.keys(info.blobs).map((b) => new Option(`${b} ${shape(info.blobs[b])}`, b)));
}

async function renderGraph(dot: string): Promise<void> {
  const svg = (await (graphviz ??= Graphviz.load())).dot(dot, 'svg');
  const box = $('graph');
  box.innerHTML = svg;
  // Each node is a button: a blob shows its values, a layer its parameters.
  for (const g of box.querySelectorAll<SVGGElement>('g.node')) {
    const id = g.querySelector('title')?.textContent ?? '';
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    g.setAttribute('aria-label', id.replace(':', ' '));
    g.dataset.id = id;
    const open = () => guarded(async () => openNode(id));
    g.addEventListener('click', open);
    g.addEventListener('keydown', (e) => e.key === 'Enter' && open());
  }
}

function openNode(id: string): void {
  const [kind, name] = id.split(':');
  if (kind === 'blob') showBlob(name);
  else selectLayer(state.net!.info.layers.findIndex((l) => l.name === name));
}

function markGraph(id: string): void {
  for (const g of $('graph').querySelectorAll('g.node')) g.classList.toggle('selected', (g as SVGGElement).dataset.id === id);
}

function selectLayer(i: number): void {
  const layer = state.net?.info.layers[i];
  if (!layer) return;
  state.selectedLayer = i;
  for (const tr of $('layers').querySelectorAll('tbody tr')) tr.setAttribute('aria-selected', String((tr as HTMLElement).dataset.layer === String(i)));
  $('layer-title').textContent = `${layer.name} (${layer.type}): ${fmt(layer.params)} parameters, ${fmt(layer.macs)} multiply-adds`;
  $('layer-text').textContent = layer.text;
  markGraph(`layer:${layer.name}:${layer.type}`);
  showLrn(layer);
}

// ---- images and classification

/**
 * The image section as the net asks: "Detect objects" for a detector (a detection layer or Faster R-CNN), "Colorize
 * a photo" for the colorization net, "Find people" for an OpenPose net, else "Classify an image".
 */
function showMode(net: Net): void {
  const detector = net.info.detector !== undefined, colorizer = net.info.colorizer === true, poser = net.info.pose !== undefined;
  $('classify-title').textContent = detector ? 'Detect objects' : colorizer ? 'Colorize a photo' : poser ? 'Find people' : 'Classify an image';
  $('run').textContent = detector ? 'Detect' : colorizer ? 'Colorize' : poser ? 'Find' : 'Classify';
  $('pre-command').textContent = detector ? 'crema detect' : 'crema classify';
  $('pre').hidden = colorizer || poser; // the demo's own preparation (the photo's L; OpenPose's scale and x / 256 - 0.5)
  $('threshold-box').hidden = !detector;
  $('pose-box').hidden = !poser;
  $('faces-box').hidden = true; // showFacesMode shows it
  $('detect-box').hidden = !detector && !colorizer && !poser;
  $('top').hidden = detector || colorizer || poser;
  $('thumb').hidden = detector || poser; // the boxes' canvas shows the image
  $('top').replaceChildren();
  $('detections').replaceChildren();
  Object.assign(exposed, { top: [], probs: [], detections: [], colorized: undefined, people: [] });
  exposed.faces = [];
  showDenseMode(net.info.dense);
  showFlowMode(net.info.flow !== undefined);
  if (state.faces) showFacesMode();
}

/** FCN's "Segment an image" and HED's / RCF's "Find edges" over the rest of showMode (the scales field for edges only). */
function showDenseMode(dense: 'segment' | 'edges' | undefined): void {
  $('scales-box').hidden = dense !== 'edges';
  Object.assign(exposed, { segmentation: undefined, edges: undefined });
  if (!dense) return;
  $('classify-title').textContent = dense === 'segment' ? 'Segment an image' : 'Find edges';
  $('run').textContent = dense === 'segment' ? 'Segment' : 'Find';
  $('pre').hidden = true; // the demos' own preparation: BGR less their mean, at the image's size
  $('detect-box').hidden = false; // the map's canvas, the classes' list
  $('top').hidden = true;
}

/** FlowNet's "Optical flow": a second image, the flow's picture where the boxes go. */
function showFlowMode(flow: boolean): void {
  $('image2-box').hidden = !flow;
  exposed.flow = undefined;
  if (!flow) return;
  $('classify-title').textContent = 'Optical flow';
  $('run').textContent = 'Flow';
  $('pre').hidden = true; // run-flownet.py's own preparation: the bytes in BGR, no mean
  $('detect-box').hidden = false; // the flow's picture; its line
  $('top').hidden = true;
}

/** "Find faces" for MTCNN's nets (P-Net alone would be classified): their own preparation (the demo's), boxes drawn. */
function showFacesMode(): void {
  $('classify-title').textContent = 'Find faces';
  $('run').textContent = 'Find';
  for (const id of ['pre', 'top', 'thumb']) $(id).hidden = true;
  $('detect-box').hidden = false;
  $('faces-box').hidden = false;
}

/** Whether the page can run the net on an image: a detector (Net.detect feeds it), or a net of one input. */
function runnable(net: Net): boolean {
  return net.info.flow !== undefined || net.info.dense !== undefined || net.info.detector !== undefined || net.info.colorizer === true || net.info.pose !== undefined || imageTarget(net) !== undefined;
}

/** The input an image fills: a net's only input (a net with several gets no image: the page cannot fill the rest). */
function imageTarget(net: Net): string | undefined {
  return net.inputs.length === 1 ? net.inputs[0] : undefined;
}

/** A value for every input (run takes every one): the image's for the input it fills, else seeded random (as verify). */
function everyInput(net: Net): Record<string, Tensor> {
  const target = imageTarget(net);
  return Object.fromEntries(net.inputs.map((name) => [name, name === target && state.input ? state.input : seededInput(net.info.blobs[name], 1)]));
}

async function setImage(file: Blob, name: string): Promise<void> {
  const net = state.net;
  // The input the image is prepared for: the one it fills, or a detector's first (as Net.detect decodes).
  const input = net && (imageTarget(net) ?? (net.info.detector ? net.inputs[0] : undefined));
  // The colorization net reads a colour photo (its L channel is taken here, as the demo takes it).
  const color = net?.info.colorizer || !net || !input ? true : geometryOf(net.info.blobs[input], input).channels === 3;
  const upright = !net?.info.dense && !net?.info.flow; // a dense demo's or FlowNet's image as Net.segment / edges / flow read it
  state.image = await decodeImage(file, color, name, upright);
  state.read = { color, upright };
  state.imageName = name;
  state.file = file;
  drawThumb(state.image);
  $<HTMLButtonElement>('run').disabled = !net || !runnable(net);
  if (net && runnable(net)) await runImage();
}

/** What the Classify / Detect button does with an image, by the net (showMode titles it). */
function runKind(): 'faces' | 'flow' | 'segment' | 'edges' | 'detect' | 'colorize' | 'pose' | 'classify' {
  const info = state.net?.info;
  return state.faces ? 'faces' : info?.flow ? 'flow' : (info?.dense ?? (info?.detector ? 'detect' : info?.colorizer ? 'colorize' : info?.pose ? 'pose' : 'classify'));
}

/** The Classify / Detect button: what the net does with an image. */
function runImage(): Promise<void> {
  const kind = runKind();
  if (kind === 'segment' || kind === 'edges') return runDense(kind);
  if (kind === 'flow') return flowImages();
  return kind === 'faces' ? findFaces() : kind === 'detect' ? detectObjects() : kind === 'colorize' ? colorizePhoto() : kind === 'pose' ? findPeople() : classify();
}

/** MTCNN's nets on the image: detectFaces (the library's, in the engine worker; natively or in onnxruntime-web), each face outlined with its landmarks and listed as crema faces lists it. */
async function findFaces(): Promise<void> {
  const nets = state.faces, image = state.image;
  if (!nets || !image) return;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const t0 = performance.now();
  const flags = { minSize: numberIn('min-size'), thresholds: parseThresholds($<HTMLInputElement>('thresholds').value), factor: numberIn('factor') };
  const faces = await detectFaces(nets, image, { backend, ...flags });
  const ms = performance.now() - t0;
  exposed.faces = faces;
  drawDetections($<HTMLCanvasElement>('boxes'), image, faces.map(faceDetection));
  $('detections').replaceChildren(...faces.map((f) => Object.assign(document.createElement('li'), { textContent: faceLine(f) })));
  $('run-time').textContent = `${state.imageName}: ${faces.length} face${faces.length === 1 ? '' : 's'} in ${ms.toFixed(1)} ms (${ranBy(backend)})`;
}

/** An OpenPose net on the image: Net.detectPoses (the library's, in the engine worker), the skeletons drawn as OpenPose draws them and listed. */
async function findPeople(): Promise<void> {
  const net = state.net, image = state.image;
  if (!net?.info.pose || !image) return;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const t0 = performance.now();
  const people = await net.detectPoses(image, { backend, ...poseFlags(), hand: state.parts.hand?.net, face: state.parts.face?.net });
  const ms = performance.now() - t0;
  exposed.people = people;
  const model = poseModel(net.info.pose), canvas = $<HTMLCanvasElement>('boxes');
  Object.assign(canvas, { width: image.width, height: image.height });
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(pixelsOf(image), 0, 0);
  // The skeletons as crema pose -o draws them (posesSvg: OpenPose's renderer), the SVG drawn over the image.
  const svg = URL.createObjectURL(new Blob([posesSvg(image.width, image.height, model, people)], { type: 'image/svg+xml' }));
  try {
    const drawn = new Image();
    drawn.src = svg;
    await drawn.decode();
    ctx.drawImage(drawn, 0, 0);
  } finally {
    URL.revokeObjectURL(svg);
  }
  // each person as crema pose prints it: its line, and its face's and hands' under it
  $('detections').replaceChildren(...people.map((p, i) => Object.assign(document.createElement('li'), { textContent: personLines(model.parts, p, i).join('\n') })));
  const by = ranBy(backend);
  $('run-time').textContent = `${state.imageName}: ${people.length} ${people.length === 1 ? 'person' : 'people'} (${model.name}) in ${ms.toFixed(1)} ms (${by})`;
}

/** The page's OpenPose flags as detectPoses' options (--net-resolution WxH, --scale-number, --scale-gap, --hand-net-resolution, --face-net-resolution, --hand-scale-number, --hand-scale-range). */
function poseFlags(): PoseDetectOptions & Omit<PosePartOptions, 'hand' | 'face'> {
  const side = (kind: 'hand' | 'face') => parseSquareResolution($<HTMLInputElement>(`${kind}-net-resolution`).value, `--${kind}-net-resolution`);
  const netResolution = parseResolution($<HTMLInputElement>('net-resolution').value);
  const hands = { handScaleNumber: numberIn('hand-scale-number'), handScaleRange: numberIn('hand-scale-range') };
  return { netResolution, scaleNumber: numberIn('scale-number'), scaleGap: numberIn('scale-gap'), handNetResolution: side('hand'), faceNetResolution: side('face'), ...hands };
}

/** A number field's value (NaN when empty: the library's option checks then say so). */
function numberIn(id: string): number {
  return $<HTMLInputElement>(id).valueAsNumber;
}

/** The colorization net on the photo: Net.colorize (the library's, in the engine worker), shown beside the original. */
async function colorizePhoto(): Promise<void> {
  const net = state.net, image = state.image;
  if (!net || !image) return;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const t0 = performance.now();
  const out = await net.colorize(image, { backend });
  const ms = performance.now() - t0;
  exposed.colorized = { width: out.width, height: out.height, data: [...out.data] };
  drawBytes($<HTMLCanvasElement>('boxes'), out.width, out.height, out.data, 3);
  $('run-time').textContent = `${state.imageName}: colorized in ${ms.toFixed(1)} ms (${ranBy(backend)})`;
}

/**
 * FCN's, HED's or RCF's demo on the image: Net.segment / Net.edges (the library's, in the engine worker), on the file
 * decoded as they decode one, as the demos' PIL reads it (an image picked before the net was decoded upright).
 */
async function runDense(kind: 'segment' | 'edges'): Promise<void> {
  const net = state.net, file = state.file;
  if (!net || !file) return;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const scales = kind === 'edges' ? numbers('scales') : undefined;
  const image = await imageRead(file, true, false);
  const t0 = performance.now();
  const found = kind === 'segment' ? await net.segment(image, { backend }) : await net.edges(image, { backend, scales });
  const ms = performance.now() - t0;
  const what = 'labels' in found ? showSegmentation(found) : showEdges(found, scales);
  $('run-time').textContent = `${state.imageName}: ${what} in ${ms.toFixed(1)} ms (${ranBy(backend)})`;
}

/** The label map in PASCAL VOC's colours (as `crema segment -o` writes it) and each class present, as it lists them. */
function showSegmentation(s: Segmentation): string {
  exposed.segmentation = { width: s.width, height: s.height, labels: [...s.labels], classes: s.classes };
  drawBytes($<HTMLCanvasElement>('boxes'), s.width, s.height, colourLabels(s.labels, vocPalette(s.channels)), 3);
  const names = state.labels.length ? state.labels : undefined;
  $('detections').replaceChildren(...s.classes.map((c) => Object.assign(document.createElement('li'), { textContent: segmentClassLine(c, s.width * s.height, names) })));
  return `${s.classes.length} ${s.classes.length === 1 ? 'class' : 'classes'} of ${s.channels}`;
}

/** The edge map as `crema edges` writes it: 255 * (1 - edge), edges dark. */
function showEdges(e: EdgeMap, scales: number[] | undefined): string {
  exposed.edges = { width: e.width, height: e.height, data: [...e.data] };
  drawBytes($<HTMLCanvasElement>('boxes'), e.width, e.height, edgeBytes(e.data), 1);
  $('detections').replaceChildren();
  return `the edge map${scales ? ` (${scales.length} scales: ${scales.join(', ')})` : ''}`;
}

/**
 * FlowNet on the image and the second image: Net.flow (the library's, in the engine worker; the template filled for
 * their size), its picture in flow_vis's colours and its line as crema flow prints it. Both read as run-flownet.py's
 * scipy.misc.imread reads them (a JPEG's EXIF orientation not applied).
 */
async function flowImages(): Promise<void> {
  const net = state.net, file = state.file, second = state.second;
  if (!net?.info.flow || !file) return;
  if (!second) {
    $('run-time').textContent = 'Pick the second image: the flow is from the image to it.';
    return;
  }
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const a = await imageRead(file, true, false), b = second.image;
  if (a.width !== b.width || a.height !== b.height) throw new Error(`${state.imageName} is ${a.width} x ${a.height} but ${second.name} is ${b.width} x ${b.height}: FlowNet takes two images of one size`);
  const sized = shape(net.info.blobs[net.inputs[0]]), t0 = performance.now();
  const f = await net.flow(a, b, { backend });
  const ms = performance.now() - t0;
  if (shape(net.info.blobs[net.inputs[0]]) !== sized) await showShapes(net); // the template filled for another size
  exposed.flow = { width: f.width, height: f.height, data: [...f.data], colors: [...f.colors] };
  drawBytes($<HTMLCanvasElement>('boxes'), f.width, f.height, f.colors, 3);
  $('detections').replaceChildren(Object.assign(document.createElement('li'), { textContent: flowLine(state.imageName ?? 'image', second.name, f) }));
  $('run-time').textContent = `${state.imageName} -> ${second.name}: the flow in ${ms.toFixed(1)} ms (${ranBy(backend)})`;
}

/**
 * The image as `color` and `upright` decode it: as decoded when picked when it was read so (the net's mode read it
 * so), else its file decoded again (an image picked before the net was loaded) and kept, and its thumbnail drawn.
 */
async function imageRead(file: Blob, color: boolean, upright: boolean): Promise<FloatImage> {
  if (state.image && state.read?.color === color && state.read.upright === upright) return state.image;
  const image = (state.image = await decodeImage(file, color, state.imageName, upright));
  state.read = { color, upright };
  drawThumb(image);
  return image;
}

/** How a forward was timed, by backend. */
function ranBy(backend: Backend): string {
  return backend === 'onnx' ? 'ONNX Runtime Web (converted in the engine worker, session included)' : 'the engine worker, with the transfer';
}

/** Bytes of 1 (gray) or 3 (RGB) channels, interleaved, drawn as the canvas's picture at their size. */
function drawBytes(canvas: HTMLCanvasElement, width: number, height: number, data: Uint8Array, channels: 1 | 3): void {
  const px = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) px.data[4 * i + c] = data[channels * i + (channels === 3 ? c : 0)];
    px.data[4 * i + 3] = 255;
  }
  Object.assign(canvas, { width, height });
  canvas.getContext('2d')!.putImageData(px, 0, 0);
}

/** The image's pixels as a canvas draws them (gray as gray). */
function pixelsOf(im: FloatImage): ImageData {
  const px = new ImageData(im.width, im.height);
  for (let i = 0; i < im.width * im.height; i++) {
    for (let c = 0; c < 3; c++) px.data[4 * i + c] = Math.round(255 * im.data[im.channels === 3 ? 3 * i + c : i]);
    px.data[4 * i + 3] = 255;
  }
  return px;
}

function drawThumb(im: FloatImage): void {
  const canvas = $<HTMLCanvasElement>('thumb');
  canvas.width = im.width;
  canvas.height = im.height;
  canvas.getContext('2d')!.putImageData(pixelsOf(im), 0, 0);
  canvas.style.width = `${Math.min(160, im.width * Math.max(1, Math.floor(96 / im.width)))}px`;
}

function numbers(id: string): number[] | undefined {
  const text = $<HTMLInputElement>(id).value.trim();
  if (!text) return undefined;
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`--${id} ${text}: numbers separated by commas`);
  return values;
}

/** The controls as classify's options (the same flags, the same meaning). */
function preprocessOptions(): PreprocessOptions {
  const [rawScale] = numbers('raw-scale') ?? [];
  const [inputScale] = numbers('input-scale') ?? [];
  const mean = numbers('mean');
  const resize = numbers('resize');
  return {
    channelSwap: numbers('channel-swap'),
    rawScale,
    inputScale,
    mean: mean && { perChannel: Float64Array.from(mean) },
    resize: resize && ([resize[0], resize[1] ?? resize[0]] as [number, number]),
    crop: $<HTMLInputElement>('crop').checked,
  };
}

async function classify(): Promise<void> {
  const net = state.net, image = state.image;
  if (!net || !image) return;
  const name = imageTarget(net);
  if (!name) throw new Error($('input-note').textContent ?? 'the page cannot fill this net\'s inputs');
  const input = preprocess(image, geometryOf(net.info.blobs[name], name), preprocessOptions());
  state.input = input;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const t0 = performance.now();
  const out = await net.run({ [name]: input }, { backend });
  const ms = performance.now() - t0;
  const prob = out[net.outputs[net.outputs.length - 1]];
  const values = [...prob.data.subarray(0, prob.size / prob.dims[0])];
  const top = values.map((p, index) => ({ index, label: state.labels[index] ?? `class ${index}`, prob: p })).sort((a, b) => b.prob - a.prob).slice(0, 5);
  Object.assign(exposed, { top, probs: values });
  $('top').replaceChildren(...top.map((t) => Object.assign(document.createElement('li'), { textContent: `${t.prob.toFixed(4)} - "${t.label}"` })));
  const by = ranBy(backend);
  $('run-time').textContent = `${state.imageName}: one forward in ${ms.toFixed(1)} ms (${by})`;
  // Every blob, for the views below (a second forward: the timed one fetched only the outputs).
  state.blobs = await net.run({ [name]: input }, { fetches: Object.keys(net.info.blobs), backend });
  const selected = $<HTMLSelectElement>('blob').value;
  showBlob(selected || name);
  if (state.selectedLayer !== undefined) showLrn(net.info.layers[state.selectedLayer]);
}

// ---- detection

/** The threshold field: a number (the library refuses what is not one, in its words), empty for the default 0.5. */
function thresholdOf(): number | undefined {
  const text = $<HTMLInputElement>('threshold').value.trim();
  return text === '' ? undefined : Number(text);
}

/** A detector on the image: Net.detect (the library's detect, in the engine worker), its boxes drawn and listed. */
async function detectObjects(): Promise<void> {
  const net = state.net, image = state.image;
  if (!net || !image) return;
  const backend = $<HTMLSelectElement>('backend').value as Backend;
  const labels = state.labels.length ? state.labels : undefined;
  const t0 = performance.now();
  const found = await net.detect(image, { ...preprocessOptions(), threshold: thresholdOf(), labels, backend });
  const ms = performance.now() - t0;
  exposed.detections = found;
  drawDetections($<HTMLCanvasElement>('boxes'), image, found);
  $('detections').replaceChildren(...found.map((d) => Object.assign(document.createElement('li'), { textContent: detectionLine(d) })));
  const by = ranBy(backend);
  $('run-time').textContent = `${state.imageName}: ${found.length} detection${found.length === 1 ? '' : 's'} in ${ms.toFixed(1)} ms (${by})`;
}

const nameOf = (d: Detection) => d.name ?? `class ${d.label}`;

/** The image with each detection outlined (a TextBoxes++ quadrilateral too, MTCNN's landmarks as dots) and labelled "name score". */
function drawDetections(canvas: HTMLCanvasElement, image: FloatImage, found: readonly Detection[]): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(pixelsOf(image), 0, 0);
  const line = Math.max(2, Math.round(Math.min(image.width, image.height) / 200));
  ctx.lineWidth = line;
  ctx.font = `${6 * line + 2}px sans-serif`;
  for (const d of found) {
    ctx.strokeStyle = ctx.fillStyle = `hsl(${(d.label * 67) % 360} 90% 45%)`;
    ctx.strokeRect(d.xmin, d.ymin, d.xmax - d.xmin, d.ymax - d.ymin);
    if (d.quad) outline(ctx, d.quad);
    for (const [x, y] of d.landmarks ?? []) {
      ctx.beginPath();
      ctx.arc(x, y, 1.5 * line, 0, 2 * Math.PI);
      ctx.fill();
    }
    const text = `${nameOf(d)} ${d.score.toFixed(2)}`, height = 6 * line + 6, width = ctx.measureText(text).width + 2 * line;
    // Above the box, or inside it at the image's top; kept inside the image (an SSD's boxes may cross its edges).
    const x = Math.max(0, Math.min(d.xmin, image.width - width)), y = Math.max(0, d.ymin >= height ? d.ymin - height : d.ymin);
    ctx.fillRect(x, y, width, height);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x + line, y + height - 2 * line);
  }
}

/** A closed polygon through the points x1, y1, x2, y2, … */
function outline(ctx: CanvasRenderingContext2D, points: readonly number[]): void {
  ctx.beginPath();
  for (let i = 0; i < points.length; i += 2) ctx.lineTo(points[i], points[i + 1]);
  ctx.closePath();
  ctx.stroke();
}

// ---- blobs: channel grid, histogram, LRN

/** A blob's first item as a picture: N×C×H×W as C gray tiles, anything else as one row of values. */
function blobPicture(t: Tensor): ReturnType<typeof tileGrid> {
  if (t.dims.length === 4) {
    const [, c, h, w] = t.dims;
    return tileGrid(t.data.subarray(0, c * h * w), c, h, w, false);
  }
  const n = t.size / (t.dims[0] || 1);
  return tileGrid(t.data.subarray(0, n), 1, 1, n, false);
}

function drawPicture(canvas: HTMLCanvasElement, t: Tensor, target = 480): void {
  const p = blobPicture(t);
  const scale = Math.max(1, Math.min(16, Math.floor(target / Math.max(p.width, p.height / 2))));
  canvas.width = p.width * scale;
  canvas.height = p.height * scale;
  const img = new ImageData(p.width, p.height);
  for (let i = 0; i < p.width * p.height; i++) {
    img.data.fill(p.data[i], 4 * i, 4 * i + 3);
    img.data[4 * i + 3] = 255;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(imageBitmapOf(img), 0, 0, canvas.width, canvas.height);
}

function imageBitmapOf(img: ImageData): OffscreenCanvas {
  const c = new OffscreenCanvas(img.width, img.height);
  c.getContext('2d')!.putImageData(img, 0, 0);
  return c;
}

/** The Blob view's words for a blob without values: Classify fetches every blob, the other modes' runs none. */
function withoutValues(): string {
  const kind = runKind();
  if (kind === 'classify') return 'classify an image to see its values';
  const why = kind === 'faces' ? "MTCNN's nets run on each scale of the image pyramid, then on the boxes" : 'only Classify fetches them';
  return `"${$('classify-title').textContent}" fetches no blob values (${why})`;
}

function showBlob(name: string): void {
  $<HTMLSelectElement>('blob').value = name;
  $('blob-title').textContent = `Blob ${name}`;
  markGraph(`blob:${name}`);
  const t = state.blobs[name];
  if (!t) {
    $('blob-stats').textContent = `${name} ${shape(state.net?.info.blobs[name])}: ${withoutValues()}`;
    return;
  }
  let lo = Infinity, hi = -Infinity, sum = 0;
  for (const v of t.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    sum += v;
  }
  $('blob-stats').textContent = `${shape(t.dims)}: min ${lo.toPrecision(4)}, max ${hi.toPrecision(4)}, mean ${(sum / t.size).toPrecision(4)}`;
  drawPicture($<HTMLCanvasElement>('grid'), t);
  drawHistogram($<HTMLCanvasElement>('histogram'), t.data, lo, hi);
  $('blob-box').scrollIntoView?.({ block: 'nearest' });
}

function drawHistogram(canvas: HTMLCanvasElement, data: Float32Array, lo: number, hi: number, bins = 64): void {
  const counts = new Array<number>(bins).fill(0);
  const width = hi > lo ? (hi - lo) / bins : 1;
  for (const v of data) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const ctx = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  ctx.clearRect(0, 0, W, H);
  const top = Math.max(...counts), bar = W / bins;
  ctx.fillStyle = '#6b4f3f';
  // Square-root heights: a ReLU's spike at 0 would flatten everything else.
  counts.forEach((c, i) => c && ctx.fillRect(i * bar, H - 16 - (H - 20) * Math.sqrt(c / top), Math.max(1, bar - 1), (H - 20) * Math.sqrt(c / top)));
  ctx.fillStyle = '#1d1d1f';
  ctx.font = '11px sans-serif';
  ctx.fillText(lo.toPrecision(3), 2, H - 3);
  const right = hi.toPrecision(3);
  ctx.fillText(right, W - ctx.measureText(right).width - 2, H - 3);
}

/** LRN: input and output side by side, and the formula Caffe computes with this layer's numbers. */
function showLrn(layer: LayerInfo): void {
  const box = $('lrn-box');
  box.hidden = !layer.lrn;
  if (!layer.lrn) return;
  const p = layer.lrn;
  const across = p.norm_region === 'ACROSS_CHANNELS';
  const n = p.local_size;
  $('lrn-title').textContent = `LRN ${layer.name}: ${p.norm_region}`;
  $('lrn-formula').textContent = across
    ? `b[c] = a[c] / (k + α/n · Σ a[c′]²)^β   over the n = ${n} channels c′ around c  (α/n = ${p.alpha}/${n} = ${(p.alpha / n).toPrecision(4)}, k = ${p.k}, β = ${p.beta})`
    : `b = a / (1 + α/n² · Σ a²)^β   over the ${n}×${n} window around each pixel, zero-padded  (α/n² = ${p.alpha}/${n * n} = ${(p.alpha / (n * n)).toPrecision(4)}, β = ${p.beta}; k = ${p.k} is ignored, as in Caffe)`;
  $('lrn-params').textContent = `local_size ${n}, alpha ${p.alpha}, beta ${p.beta}, k ${p.k}: each value is divided by a power of the energy of its ${across ? 'neighbouring channels at the same pixel' : 'neighbourhood in its own channel'} (lateral inhibition).`;
  const [input, output] = [layer.bottom[0], layer.top[0]];
  $('lrn-in-caption').textContent = `input ${input}`;
  $('lrn-out-caption').textContent = `output ${output}`;
  const a = state.blobs[input], b = state.blobs[output];
  if (a && b) {
    drawPicture($<HTMLCanvasElement>('lrn-in'), a, 300);
    drawPicture($<HTMLCanvasElement>('lrn-out'), b, 300);
  }
}

// ---- timing and conversion

async function timeLayers(): Promise<void> {
  const net = state.net;
  if (!net) return;
  say('timing each layer (5 forwards after a warm-up)…');
  const { layers, total_ms } = await net.timeLayers(everyInput(net), 5);
  const byName = new Map(layers.map((l) => [l.name, l.median_ms]));
  for (const tr of $('layers').querySelectorAll<HTMLTableRowElement>('tbody tr')) {
    const ms = byName.get(net.info.layers[Number(tr.dataset.layer)].name);
    tr.cells[5].textContent = ms === undefined ? '' : ms.toFixed(3);
  }
  say(`layer by layer: ${total_ms.toFixed(2)} ms a forward (median of 5)`);
}

async function convert(): Promise<void> {
  const net = state.net;
  if (!net) return;
  say('converting to ONNX…');
  const bytes = await net.convert();
  const name = `${(net.info.name || 'net').replace(/[^\w.-]+/g, '_')}.onnx`;
  exposed.downloads.push({ name, bytes });
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' })), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  say(`${name}: ${fmt(bytes.length)} bytes`);
}

/** Every blob through crema's engine and through onnxruntime-web, on the classified image (else a seeded draw). */
async function verify(): Promise<void> {
  const net = state.net;
  if (!net) return;
  const image = state.input && imageTarget(net);
  say('verifying: the net in crema\'s engine and in ONNX Runtime Web…');
  const report = await net.verify(everyInput(net), { tolerance: verifyTolerance() });
  showVerify(report, image ? `the image ${state.imageName}` : `random values (seed 1)`);
  say('');
}

/** The tolerance field's: empty is verify's own 1e-4; anything but a positive number is refused in one line. */
function verifyTolerance(): number | undefined {
  const text = $<HTMLInputElement>('verify-tolerance').value.trim();
  if (text === '') return undefined;
  const tolerance = Number(text);
  if (!(tolerance > 0)) throw new Error(`Tolerance must be a positive number, got '${text}'`);
  return tolerance;
}

function showVerify(report: BrowserVerifyReport, input: string): void {
  $('verify-box').hidden = false;
  const inherited = report.failed.filter((b) => !report.unexplained.includes(b));
  const byInputs = inherited.length ? `; ${inherited.join(', ')} only by their inputs (their layers, run on the same inputs, agree)` : '';
  const verdict = report.pass ? `every blob within ${report.tolerance}` : `${report.failed.length} blob(s) out of tolerance: ${report.failed.join(', ')}${byInputs}`;
  $('verify-summary').textContent = `${report.pass ? 'PASS' : 'FAIL'}: ${report.blobs.length} blobs on ${input}, ${verdict}. ${report.notes.join('; ')}`;
  const rows = report.blobs.map((b) => {
    const p = b.pairs.native_onnx!;
    const tr = document.createElement('tr');
    for (const [text, num] of [[b.blob], [shape(b.shape)], [p.mismatch ?? p.abs.toExponential(2), true], [p.rel.toExponential(2), true], [p.pass ? 'yes' : b.explained ? `no: ${b.explained.follows.length ? `follows ${b.explained.follows.join(', ')}` : 'its input, amplified'}` : 'NO']] as [string, boolean?][]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (num) td.className = 'num';
      tr.append(td);
    }
    return tr;
  });
  $('verify-table').querySelector('tbody')!.replaceChildren(...rows);
  $('verify-box').scrollIntoView?.({ block: 'nearest' });
}

// ---- wiring

function onDrop(files: File[]): Promise<void> {
  const all = (re: RegExp) => files.filter((f) => re.test(f.name.toLowerCase()));
  const [image] = all(/\.(png|jpe?g|webp|bmp|gif)$/);
  const prototxt = all(/\.(prototxt|pt)$/);
  return guarded(async () => {
    if (prototxt.length) await loadPicked({ prototxt, weights: all(/\.(caffemodel|h5|bin)$/), labels: all(/\.txt$/)[0] });
    if (image) await setImage(image, image.name);
  });
}

function main(): void {
  const select = $<HTMLSelectElement>('shipped');
  for (const [name, m] of Object.entries(SHIPPED)) select.add(new Option(m.title, name));
  for (const d of DIALECTS) $<HTMLSelectElement>('dialect').add(new Option(DIALECT_WORDS[d].label, d));
  select.addEventListener('change', () => select.value && guarded(() => loadShipped(select.value)));
  $('open').addEventListener('submit', (e) => {
    e.preventDefault();
    const files = (id: string) => [...($<HTMLInputElement>(id).files ?? [])];
    guarded(() => loadPicked({ prototxt: files('prototxt'), weights: files('weights'), labels: files('labels')[0] }));
  });
  $<HTMLInputElement>('pose-parts').addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement, files = [...(input.files ?? [])];
    input.value = ''; // the same files picked again (after "remove") are a change too
    if (files.length) guarded(() => loadPartNet(files));
  });
  $<HTMLInputElement>('image').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) guarded(() => setImage(f, f.name));
  });
  $<HTMLInputElement>('image2').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    guarded(async () => {
      state.second = undefined; // a second image that does not decode leaves none
      state.second = { image: await decodeImage(f, true, f.name, false), name: f.name };
      if (state.image && state.net?.info.flow) await runImage();
    });
  });
  $('run').addEventListener('click', () => guarded(runImage));
  $('threshold').addEventListener('change', () => state.image && state.net?.info.detector && guarded(detectObjects));
  $('time').addEventListener('click', () => guarded(timeLayers));
  $('convert').addEventListener('click', () => guarded(convert));
  $('verify').addEventListener('click', () => guarded(verify));
  $<HTMLSelectElement>('blob').addEventListener('change', (e) => showBlob((e.target as HTMLSelectElement).value));
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    onDrop([...(e.dataTransfer?.files ?? [])]);
  });
  const model = new URLSearchParams(location.search).get('model');
  if (model && SHIPPED[model]) {
    select.value = model;
    guarded(() => loadShipped(model));
  }
}

main();
