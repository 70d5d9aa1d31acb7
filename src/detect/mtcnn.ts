// MTCNN's face detection as its authors' MATLAB demo computes it (kpzhang93/MTCNN_face_detection_alignment,
// code/codes/MTCNNv1 and MTCNNv2: detect_face.m and its helpers), restated from that code: P-Net over an image
// pyramid, R-Net and O-Net on the boxes cropped and resized, NMS and box regression between the stages, five landmarks
// from O-Net averaged with O-Net's on the mirrored crops (v1) or moved by LNet on patches around them (v2, det4). Its numbers are kept: MATLAB's single precision where the demo's
// arrays are single (the image, the boxes, the nets' outputs) and double where they are double (the crops), Piotr
// Dollár's imResample for every resize (imresample.ts), MATLAB's stable sort and column-major find for the order of
// equal scores, and matcaffe's layout: a MATLAB H x W x 3 array is a Caffe blob of W x H, so the nets see the image
// transposed, in RGB, as they were trained.
import { type Forward, forwardNative } from './forward.js';
import type { FloatImage } from '../image/image.js';
import { imResample } from '../image/imresample.js';
import type { Box as ScoredBox } from '../layers/box_group_output.js';
import type { Net } from '../runtime/net.js';
import { Tensor, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { byBytes } from '../util/names.js';
import { checkOptionKeys } from '../util/options.js';
import type { Face, MtcnnOptions } from './options.js';

/** The nets: det1 (P-Net), det2 (R-Net), det3 (O-Net), and MTCNNv2's det4 (LNet), which refines the landmarks. */
export interface MtcnnNets {
  pnet: Net;
  rnet: Net;
  onet: Net;
  lnet?: Net;
}

export type { Face, MtcnnOptions };

const f = Math.fround;

/** A box row of the demo's total_boxes: corners (MATLAB's pixels, from 1), score, regression. */
interface Box extends ScoredBox {
  reg: number[];
}

/**
 * The faces MTCNN's demo finds in `image` (detect_face.m with fastresize false), best first after O-Net's NMS.
 * Gray images are taken as colour (the demo reads colour only).
 */
export type { Forward } from './forward.js';

export async function facesInImage(nets: MtcnnNets, image: FloatImage, options: MtcnnOptions = {}, run: Forward = forwardNative): Promise<Face[]> {
  const { minSize, thresholds, factor } = mtcnnOptions(options);
  const h = image.height, w = image.width;
  const img = matlabImage(image);
  const forward: StageForward = async (net, data, count, outputs, hw, channels = 3) => (await matcaffeForward(run, net, data, count, outputs, hw, channels)).map((t) => t.data);
  let boxes = await pyramidBoxes(run, nets.pnet, img, h, w, minSize, factor, thresholds[0]);
  if (!boxes.length) return [];
  boxes = nms(boxes, 0.7, 'Union').map((b) => {
    const rw = f(b.x2 - b.x1), rh = f(b.y2 - b.y1);
    return { ...b, x1: f(b.x1 + f(b.reg[0] * rw)), y1: f(b.y1 + f(b.reg[1] * rh)), x2: f(b.x2 + f(b.reg[2] * rw)), y2: f(b.y2 + f(b.reg[3] * rh)) };
  });
  boxes = rerec(boxes).map((b) => ({ ...b, x1: Math.trunc(b.x1), y1: Math.trunc(b.y1), x2: Math.trunc(b.x2), y2: Math.trunc(b.y2) }));
  // R-Net
  const [reg2, prob2] = await forward(nets.rnet, crops(img, h, w, boxes, 24), boxes.length, 2);
  boxes = passing(boxes, prob2, reg2, thresholds[1]);
  if (!boxes.length) return [];
  boxes = rerec(nms(boxes, 0.7, 'Union').map(bbreg));
  // O-Net; then the landmarks: v1 averages them with O-Net's on the mirrored crops, v2 moves them by LNet's look
  boxes = boxes.map((b) => ({ ...b, x1: Math.trunc(b.x1), y1: Math.trunc(b.y1), x2: Math.trunc(b.x2), y2: Math.trunc(b.y2), score: Math.trunc(b.score) }));
  const input = crops(img, h, w, boxes, 48);
  const [reg3, points, prob3] = await forward(nets.onet, input, boxes.length, 3);
  const pass = boxes.flatMap((_, k) => (prob3[k * 2 + 1] > thresholds[2] ? [k] : []));
  if (!pass.length) return [];
  const passed = pass.map((k) => ({ ...boxes[k], score: prob3[k * 2 + 1], reg: Array.from(reg3.subarray(k * 4, k * 4 + 4)) }));
  const picked = nmsPick(passed.map(bbreg), 0.7, 'Min');
  const finals = picked.map((i) => bbreg(passed[i]));
  const at = (t: Float32Array, k: number, j: number) => t[k * 10 + j];
  let marks: [number, number][][];
  if (nets.lnet) {
    const placed = picked.map((i) => place(passed[i], [0, 1, 2, 3, 4].map((j) => at(points, pass[i], j)), [5, 6, 7, 8, 9].map((j) => at(points, pass[i], j))));
    marks = await lnetLandmarks(forward, nets.lnet, img, h, w, finals, placed);
  } else {
    const kept = picked.map((i) => pass[i]);
    const [, mirrored] = await forward(nets.onet, mirror(input, kept), kept.length, 3);
    // points2 = [1 - p([2 1 3 5 4]); p([7 6 8 10 9])]: the mirrored crop's landmarks, left and right swapped back
    const SWAP = [1, 0, 2, 4, 3];
    marks = picked.map((i, n) => {
      const k = kept[n];
      const xs = SWAP.map((s, j) => f(f(at(points, k, j) + f(1 - at(mirrored, n, s))) / 2));
      const ys = SWAP.map((s, j) => f(f(at(points, k, 5 + j) + at(mirrored, n, 5 + s)) / 2));
      return place(passed[i], xs, ys);
    });
  }
  return finals.map((b, n) => ({ score: b.score, xmin: b.x1 - 1, ymin: b.y1 - 1, xmax: b.x2 - 1, ymax: b.y2 - 1, landmarks: marks[n] }));
}

/** O-Net's landmarks (fractions of its crop) in the image: size x fraction + corner - 1, of the box before regression. */
function place(before: Box, xs: number[], ys: number[]): [number, number][] {
  const bw = f(f(before.x2 - before.x1) + 1), bh = f(f(before.y2 - before.y1) + 1);
  return xs.map((x, j) => [f(f(f(bw * x) + before.x1) - 1), f(f(f(bh * ys[j]) + before.y1) - 1)]);
}

/**
 * MTCNNv2's extended stage: a square patch about each landmark (a quarter of the face's longer side, made even),
 * the five as LNet's 15 channels; each landmark moved by LNet's offset for it, in patches, unless either coordinate
 * of that offset strays more than 0.35 from the patch's centre ("do not make a large movement").
 */
async function lnetLandmarks(forward: StageForward, lnet: Net, img: Float32Array, h: number, w: number, finals: Box[], marks: [number, number][][]): Promise<[number, number][][]> {
  const n = finals.length, plane = 24 * 24 * 3;
  const patch = finals.map((b) => {
    const side = Math.trunc(f(0.25 * Math.max(f(f(b.x2 - b.x1) + 1), f(f(b.y2 - b.y1) + 1))));
    return side % 2 === 1 ? side + 1 : side;
  });
  const corner = (v: number, j: number) => Math.trunc(f(v - f(0.5 * patch[j])));
  const input = new Float32Array(n * 5 * plane);
  for (let k = 0; k < 5; k++) {
    const squares = marks.map(([...m], j) => {
      const x = corner(m[k][0], j), y = corner(m[k][1], j);
      return { x1: x, y1: y, x2: x + patch[j], y2: y + patch[j], score: 0, reg: [] };
    });
    const cut = crops(img, h, w, squares, 24);
    for (let j = 0; j < n; j++) input.set(cut.subarray(j * plane, (j + 1) * plane), (j * 5 + k) * plane);
  }
  const offsets = await forward(lnet, input, n, 5, undefined, 15);
  return marks.map((m, j) =>
    m.map(([px, py], k): [number, number] => {
      let ox = offsets[k][j * 2], oy = offsets[k][j * 2 + 1];
      if (Math.abs(f(ox - 0.5)) > 0.35) ox = oy = 0.5;
      if (Math.abs(f(oy - 0.5)) > 0.35) ox = oy = 0.5;
      const half = f(0.5 * patch[j]);
      return [f(f(px - half) + f(ox * patch[j])), f(f(py - half) + f(oy * patch[j]))];
    }),
  );
}

function mtcnnOptions(options: MtcnnOptions): Required<MtcnnOptions> {
  checkOptionKeys(options, ['minSize', 'thresholds', 'factor'], 'detectFaces');
  const minSize = options.minSize ?? 20, factor = options.factor ?? 0.709, thresholds = options.thresholds ?? [0.6, 0.7, 0.7];
  if (!(typeof minSize === 'number' && minSize >= 12 && minSize <= 1e5))
    throw new CremaError(`minSize: the smallest face looked for, from 12 pixels (P-Net's window) up (the demo's minsize: 20), got ${String(minSize)}`);
  if (!(typeof factor === 'number' && factor > 0.1 && factor < 0.95))
    throw new CremaError(`factor: the pyramid's scale step, above 0.1 and below 0.95 (the demo's: 0.709), got ${String(factor)}`);
  if (!(Array.isArray(thresholds) && thresholds.length === 3 && thresholds.every((t) => typeof t === 'number' && t >= 0 && t <= 1)))
    throw new CremaError(`thresholds: three scores from 0 to 1, one a stage (the demo's: 0.6, 0.7, 0.7), got ${JSON.stringify(thresholds)}`);
  return { minSize, factor, thresholds };
}

/** The image as the demo's single(imread(...)): H x W x 3 column-major, values 0-255. */
function matlabImage(image: FloatImage): Float32Array {
  const { height: h, width: w, channels, data } = image;
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let z = 0; z < 3; z++) out[z * h * w + x * h + y] = Math.round(data[(y * w + x) * channels + (channels === 3 ? z : 0)] * 255);
  return out;
}

/** Stage one: P-Net at each scale of the pyramid, its boxes (generateBoundingBox), NMS at 0.5 within a scale. */
async function pyramidBoxes(run: Forward, pnet: Net, img: Float32Array, h: number, w: number, minSize: number, factor: number, threshold: number): Promise<Box[]> {
  const m = 12 / minSize, scales: number[] = [];
  for (let minl = Math.min(w, h) * m, count = 0; minl >= 12; minl *= factor, count++) scales.push(m * factor ** count);
  const all: Box[] = [];
  if (scales.length) checkPNetMemory(pnet, Math.ceil(h * scales[0]), Math.ceil(w * scales[0]), minSize);
  for (const scale of scales) {
    const hs = Math.ceil(h * scale), ws = Math.ceil(w * scale);
    const resized = imResample(img, h, w, 3, hs, ws);
    const data = new Float32Array(resized.length);
    for (let i = 0; i < data.length; i++) data[i] = f(f(resized[i] - 127.5) * 0.0078125);
    const [regT, probT] = await matcaffeForward(run, pnet, data, 1, 2, [ws, hs]);
    // P-Net's maps, over the transposed image: Caffe's H runs along the image's x
    const [, , ho, wo] = probT.dims, reg = regT.data, prob = probT.data;
    if (probT.dims[1] !== 2 || regT.dims[1] !== 4 || regT.dims[2] !== ho || regT.dims[3] !== wo)
      throw new CremaError(`net '${pnet.name || 'P-Net'}': its outputs are [${regT.dims.join(', ')}] and [${probT.dims.join(', ')}]; MTCNN's P-Net gives a regression of 4 maps and scores of 2 of the same size`);
    const boxes: Box[] = [], cells: number[] = [];
    // find(map >= t) on the transposed map: column-major, so image rows (Caffe's W) outer
    for (let wi = 0; wi < wo; wi++)
      for (let hi = 0; hi < ho; hi++) {
        const score = prob[(ho + hi) * wo + wi];
        if (!(score >= threshold)) continue;
        const at = (c: number) => reg[(c * ho + hi) * wo + wi];
        boxes.push({ x1: Math.trunc((2 * hi + 1) / scale), y1: Math.trunc((2 * wi + 1) / scale), x2: Math.trunc((2 * hi + 12) / scale), y2: Math.trunc((2 * wi + 12) / scale), score, reg: [at(0), at(1), at(2), at(3)] });
        cells.push(wi * ho + hi);
      }
    // generateBoundingBox.m with one box at a scale turns its regression maps back before indexing them by the
    // transposed map's index: the box takes the regression of the cell at that index in Caffe's order. Kept.
    if (boxes.length === 1) boxes[0].reg = [0, 1, 2, 3].map((c) => reg[c * ho * wo + cells[0]]);
    all.push(...nms(boxes, 0.5, 'Union'));
  }
  return all;
}

/** What P-Net's blobs take at the pyramid's first (largest) scale: refused above a limit, with the minSize that fits. */
function checkPNetMemory(pnet: Net, hs: number, ws: number, minSize: number): void {
  pnet.reshape({ [pnet.inputs[0]]: [1, 3, ws, hs] });
  const bytes = 4 * [...pnet.shapes.values()].reduce((n, dims) => n + sizeOf(dims), 0);
  // the blobs grow with the scale squared: the minSize at which they fit
  const fits = Math.ceil(minSize * Math.sqrt(bytes / PNET_MEMORY));
  if (bytes > PNET_MEMORY)
    throw new CremaError(`P-Net at the pyramid's first scale (${ws} x ${hs} for minSize ${minSize}) would take ${Math.round(bytes / 2 ** 20)} MB (crema's limit: ${PNET_MEMORY / 2 ** 20} MB): give a larger minSize (${fits} fits)`);
}

/** The most P-Net's blobs may take at one scale (its largest). */
const PNET_MEMORY = 2 ** 30;

/** The net's outputs in Caffe's order (its std::set of names: bytes compared), which matcaffe's out{i} follows. */
function sortedOutputs(net: Net): string[] {
  return [...net.outputs].sort(byBytes);
}

/**
 * A forward of `count` MATLAB arrays (H x W x 3 each; `hw` gives H and W, else square crops) as matcaffe runs it:
 * the bytes as the blob's, dims reversed. Returns the outputs in matcaffe's order.
 */
async function matcaffeForward(run: Forward, net: Net, data: Float32Array, count: number, outputs: number, hw?: [number, number], channels = 3): Promise<Tensor[]> {
  const names = sortedOutputs(net);
  if (names.length !== outputs)
    throw new CremaError(`net '${net.name || 'net'}' has ${names.length} outputs (${names.join(', ')}); MTCNN's ${OUTPUTS[outputs]}`);
  const side = Math.round(Math.sqrt(data.length / count / channels));
  const [a, b] = hw ?? [side, side];
  return run(net, new Tensor([count, channels, a, b], data), names);
}

const OUTPUTS: Record<number, string> = { 2: 'P-Net and R-Net have 2', 3: 'O-Net has 3', 5: 'LNet (MTCNNv2\'s det4) has 5' };

/** A stage's forward on MATLAB arrays (see matcaffeForward): the outputs' values. */
type StageForward = (net: Net, data: Float32Array, count: number, outputs: number, hw?: [number, number], channels?: number) => Promise<Float32Array[]>;

/** The boxes R-Net or O-Net passes: score above the threshold, with its own score and regression. */
function passing(boxes: Box[], prob: Float32Array, reg: Float32Array, threshold: number): Box[] {
  return boxes.flatMap((b, k) => (prob[k * 2 + 1] > threshold ? [{ ...b, score: prob[k * 2 + 1], reg: Array.from(reg.subarray(k * 4, k * 4 + 4)) }] : []));
}

/** nms.m: greedy, best score first (MATLAB's stable ascending sort, taken from its end); 'Min' divides by the smaller area. */
function nmsPick(boxes: Box[], threshold: number, type: 'Union' | 'Min'): number[] {
  const area = boxes.map((b) => f(f(f(b.x2 - b.x1) + 1) * f(f(b.y2 - b.y1) + 1)));
  const order = Int32Array.from(boxes.keys()).sort((i, j) => boxes[i].score - boxes[j].score || i - j);
  const pick: number[] = [];
  // the survivors stay in order at the front of `order` (P-Net's boxes run to tens of thousands at low thresholds)
  for (let n = order.length; n > 0; ) {
    const i = order[n - 1], a = boxes[i];
    pick.push(i);
    let kept = 0;
    for (let k = 0; k < n - 1; k++) {
      const j = order[k], b = boxes[j];
      const iw = Math.max(0, f(f(Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1)) + 1));
      const ih = Math.max(0, f(f(Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1)) + 1));
      const inter = f(iw * ih);
      const o = type === 'Min' ? f(inter / Math.min(area[i], area[j])) : f(inter / f(f(area[i] + area[j]) - inter));
      if (o <= threshold) order[kept++] = j;
    }
    n = kept;
  }
  return pick;
}

const nms = (boxes: Box[], threshold: number, type: 'Union' | 'Min'): Box[] => nmsPick(boxes, threshold, type).map((i) => boxes[i]);

/** bbreg.m: the box moved by its regression, in units of its size (pixels inclusive). */
function bbreg(b: Box): Box {
  const w = f(f(b.x2 - b.x1) + 1), h = f(f(b.y2 - b.y1) + 1);
  return { ...b, x1: f(b.x1 + f(b.reg[0] * w)), y1: f(b.y1 + f(b.reg[1] * h)), x2: f(b.x2 + f(b.reg[2] * w)), y2: f(b.y2 + f(b.reg[3] * h)) };
}

/** rerec.m: each box made square about its centre, its side the longer one. */
function rerec(boxes: Box[]): Box[] {
  return boxes.map((b) => {
    const h = f(b.y2 - b.y1), w = f(b.x2 - b.x1), l = Math.max(w, h);
    const x1 = f(f(b.x1 + f(w * 0.5)) - f(l * 0.5)), y1 = f(f(b.y1 + f(h * 0.5)) - f(l * 0.5));
    return { ...b, x1, y1, x2: f(x1 + l), y2: f(y1 + l) };
  });
}

/** A crop's area larger than this many times the image's is refused (a regression gone wild would allocate it). */
const MAX_CROP = 64;

/**
 * pad.m and the crops: each box's pixels (zero outside the image) as a double array, resized to side x side by
 * imResample in double, then (x - 127.5) / 128, as single for the net. MATLAB arrays, one after another.
 */
function crops(img: Float32Array, h: number, w: number, boxes: Box[], side: number): Float32Array {
  const out = new Float32Array(boxes.length * side * side * 3);
  boxes.forEach((b, k) => {
    const tw = b.x2 - b.x1 + 1, th = b.y2 - b.y1 + 1;
    if (tw * th > MAX_CROP * Math.max(h * w, side * side))
      throw new CremaError(`MTCNN: a box of ${tw} x ${th} pixels in an image of ${w} x ${h}: the nets' regressions are off (are these MTCNN's weights?)`);
    // pad.m, in MATLAB's 1-based pixels: the part of the box inside the image, and where it sits in the crop
    const dx = b.x1 < 1 ? 2 - b.x1 : 1, dy = b.y1 < 1 ? 2 - b.y1 : 1;
    const x = Math.max(b.x1, 1), y = Math.max(b.y1, 1), ex = Math.min(b.x2, w), ey = Math.min(b.y2, h);
    const tmp = new Float64Array(th * tw * 3);
    for (let z = 0; z < 3; z++)
      for (let i = 0; i <= ex - x; i++)
        for (let j = 0; j <= ey - y; j++) tmp[z * th * tw + (dx - 1 + i) * th + (dy - 1 + j)] = img[z * h * w + (x - 1 + i) * h + (y - 1 + j)];
    const resized = imResample(tmp, th, tw, 3, side, side);
    const at = k * side * side * 3;
    for (let i = 0; i < side * side * 3; i++) out[at + i] = (resized[i] - 127.5) * 0.0078125;
  });
  return out;
}

/** tempimg(:, end:-1:1, :, kept): the chosen crops mirrored left to right. */
function mirror(input: Float32Array, kept: number[]): Float32Array {
  const side = 48, plane = side * side, out = new Float32Array(kept.length * plane * 3);
  kept.forEach((k, n) => {
    for (let z = 0; z < 3; z++)
      for (let x = 0; x < side; x++) out.set(input.subarray(k * plane * 3 + z * plane + (side - 1 - x) * side, k * plane * 3 + z * plane + (side - x) * side), n * plane * 3 + z * plane + x * side);
  });
  return out;
}
