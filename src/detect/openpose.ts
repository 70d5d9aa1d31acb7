// OpenPose's multi-person pose estimation around its Caffe net, restated from its CPU code (CMU-Perceptual-Computing-
// Lab/openpose 1.7, default flags): ScaleAndSizeExtractor's net size, CvMatToOpInput's warp and normalisation,
// PoseExtractorCaffe::forwardPass's resize of the net's maps (resizeAndMergeCpu), peaks (nmsCpu) and the part
// affinity fields' matching (connectBodyPartsCpu). OpenPose computes in float: each step below rounds where its
// C++ does (Math.fround), and mixes in double exactly where its expressions promote (noted), so the people, their
// order and their keypoints are OpenPose's. Platform-neutral: the net runs through a Forward.
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { cvResizeCubic } from '../image/cv-resize-cubic.js';
import { type ByteImage, cvWarpAffineInverse, cvWarpAffineScale } from '../image/cv-warp.js';
import { type FloatImage, checkImageMemory, imageBytes } from '../image/image.js';
import { CremaError } from '../util/errors.js';
import { type Person, type PoseModel, type PoseModelName, type PoseOptions, type PosePartOptions, POSE_MODELS, poseChannels, poseHeatmaps, poseModel, scaledSide, shortScale } from './pose-models.js';
import { type Forward, forwardNative } from './forward.js';
import { FACE_PARTS, HAND_PARTS, type PartRectangle, averageScore, faceRectangle, handRectangles, handScaleRectangles, partKindOf, partNetMismatch, poseOutput } from './pose-parts.js';

const f = Math.fround;

// getPoseDefault* with maximize_positives off, POSE_MAX_PEOPLE, getPoseNetDecreaseFactor
const INTER_MIN_ABOVE = f(0.95), MIN_SUBSET_CNT = 3, MIN_SUBSET_SCORE = f(0.4), MAX_PEAKS = 127, DECREASE = 8;

/** The people OpenPose finds in an image (RGB, [0, 1]), best found first as its connector orders them. */
export async function posesInImage(net: Net, image: FloatImage, options: PoseOptions & PosePartOptions<Net> = {}, run: Forward = forwardNative): Promise<Person[]> {
  const { netResolution = [-1, 368], scaleNumber = 1, scaleGap = 0.25 } = options;
  const model = poseModel(options.model ?? modelOf(net)), name = outputOf(net);
  const channels = (dims?: readonly number[]) => (dims?.length === 4 && dims[0] === 1 ? dims[1] : -1);
  const wrong = (dims: readonly number[] | undefined) =>
    new CremaError(`pose: the net's output '${name}' is ${dims?.join(' x ')}; OpenPose's ${model.name} net gives 1 x ${poseChannels(model)} x H x W (${poseHeatmaps(model)} heatmaps, ${model.pairs.length} PAF channels)`);
  if (channels(net.blobs.get(name)?.dims) !== poseChannels(model)) throw wrong(net.blobs.get(name)?.dims);
  if (options.hand) checkPartNet(options.hand, 'hand');
  if (options.face) {
    checkFaceModel(model);
    checkPartNet(options.face, 'face');
  }
  const scales = netInputSizes(image.width, image.height, netResolution, scaleNumber, scaleGap);
  const outputs: Tensor[] = [];
  for (const { width, height, scale } of scales) {
    const [out] = await run(net, netInput(image, scale, width, height), [name]);
    if (channels(out.dims) !== poseChannels(model)) throw wrong(out.dims);
    outputs.push(out);
  }
  const people = posesFromMaps(model, outputs, image.width, image.height, scales[0].width, scales[0].height);
  if (options.hand || options.face) await addParts(people, model, image, options, run);
  return people;
}

/** The blob OpenPose reads (poseOutput). */
function outputOf(net: Net): string {
  return poseOutput(net.outputs);
}

/** The model a net is, from its output's channels (78 BODY_25, 57 COCO, 44 MPI: the 4-stage one when it has no 6th stage, 97 BODY_25B, 439 BODY_135). */
export function modelOf(net: Net): PoseModelName {
  const name = outputOf(net);
  const dims = net.blobs.get(name)?.dims;
  const c = dims?.length === 4 ? dims[1] : -1;
  const found = POSE_MODELS.filter((m) => poseChannels(poseModel(m)) === c);
  // A classifier's [1, 10] has no channels of maps: its shape, not "-1 channels".
  const has = dims?.length === 4 ? `has ${c} channels` : `is ${dims ? dims.join(' x ') : 'missing'}, not maps of N x C x H x W`;
  if (found.length === 0)
    throw new CremaError(`pose: the net's output '${name}' ${has}; OpenPose's BODY_25 net gives 78, COCO's 57, MPI's 44, BODY_25B's 97, BODY_135's 439 (not an OpenPose body net?)`);
  if (found[0] !== 'MPI') return found[0];
  return net.layers.some((l) => /stage6/.test(l.name)) ? 'MPI' : 'MPI_4';
}

/**
 * ScaleAndSizeExtractor::extract with --net_resolution_dynamic 1: a dimension <= 0 from the image's aspect ratio, no
 * wider than 16:9, both to multiples of 16. In float where its C++ is (the dynamic behaviour is a float).
 */
export function netInputSize(width: number, height: number, [w, h]: [number, number]): [number, number] {
  if (!(Number.isInteger(w) && Number.isInteger(h)) || (w <= 0 && h <= 0))
    throw new CremaError(`pose: the net resolution is two integers, one of them may be -1 (OpenPose's default: -1x368), got ${w}x${h}`);
  // (the products of ints are ints, made floats before the division)
  if (w <= 0) w = 16 * intRound(f(f(1 / 16) * Math.min(f(f(h * 16) / 9), f(f(h * width) / f(height)))));
  else if (h <= 0) h = 16 * intRound(f(f(1 / 16) * Math.min(f(f(w * 9) / 16), f(f(w * height) / f(width)))));
  return [w, h];
}

/**
 * Each scale's net input and the image's scale into it (ScaleAndSizeExtractor::extract, --scale_number and
 * --scale_gap): scale i is 1 - i * gap of the net resolution, each side rounded down to a multiple of 16 (at least
 * 1, at most the resolution's), the image scaled to fit it (resizeGetScaleFactor).
 */
export function netInputSizes(width: number, height: number, resolution: [number, number], scaleNumber = 1, scaleGap = 0.25): { width: number; height: number; scale: number }[] {
  // resizeGetScaleFactor divides by each side less 1
  if (width < 2 || height < 2) throw new CremaError(`pose: the image is ${width} x ${height}; OpenPose scales from an image of at least 2 x 2 pixels`);
  const [w, h] = netInputSize(width, height, resolution);
  return Array.from({ length: scaleNumber }, (_, i) => {
    const current = 1 - i * scaleGap;
    // OpenPose takes [0, 1], but at 0 every net input is 1 x 1: (0, 1], as checkPoseOptions' checkLastScale
    if (!(current > 0 && current <= 1)) throw new CremaError(`pose: scale ${i + 1} of ${scaleNumber} is 1 - ${i} x ${scaleGap} = ${shortScale(current)}; the scales must be in (0, 1] (a smaller --scale-gap or --scale-number)`);
    const [sw, sh] = [scaledSide(w, current), scaledSide(h, current)];
    if (sw < 16 || sh < 16) throw new CremaError(`pose: scale ${i + 1} (${shortScale(current)}) makes the net input ${sw} x ${sh}; OpenPose's nets take 16 x 16 or more (a smaller --scale-gap or a larger --net-resolution)`);
    return { width: sw, height: sh, scale: resizeScale(width, height, sw, sh) };
  });
}

/** positiveIntRound: int(a + 0.5f) on a float. */
const intRound = (a: number) => Math.trunc(f(a + 0.5));

/** resizeGetScaleFactor: the smaller of (target - 1) / (initial - 1) across and down, in double. */
export function resizeScale(w0: number, h0: number, w1: number, h1: number): number {
  return Math.min((w1 - 1) / (w0 - 1), (h1 - 1) / (h0 - 1));
}

/**
 * CvMatToOpInput::createArray: the image as OpenCV holds it (BGR bytes) warped by `scale` into the net's size
 * (resizeFixedAspectRatio: cubic when enlarging, else INTER_AREA, which warpAffine takes as linear; the rest 0),
 * then x / 256 - 0.5 a channel plane (exact: bytes over a power of two).
 */
export function netInput(image: FloatImage, scale: number, netW: number, netH: number): Tensor {
  const { width, height } = image;
  const warped = cvWarpAffineScale({ width, height, channels: 3, data: imageBytes(image, 'bgr') }, scale, netW, netH, scale > 1 ? 'cubic' : 'linear').data;
  return toNetPlanes(warped, netW, netH);
}

/** uCharCvMatToFloatPtr with normalize 1: interleaved BGR bytes to 1 x 3 x h x w planes of x / 256 - 0.5. */
export function toNetPlanes(bgr: Uint8Array, w: number, h: number): Tensor {
  const plane = w * h, out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = bgr[i * 3 + c] / 256 - 0.5;
  return new Tensor([1, 3, h, w], out);
}

/**
 * The people in a net's outputs (1 x C x H x W each: heatmaps, background, PAFs), one a scale, for an image of imgW
 * x imgH whose first scale ran at netW x netH: forwardPass after the net. Each map is resized on its own (as
 * resizeAndMergeCpu does), so only the heatmaps are held, and each pair's PAFs while the connector reads them
 * (BODY_135's 439 maps at 848 x 480 would take 716 MB).
 */
export function posesFromMaps(model: PoseModel, outputs: readonly Tensor[], imgW: number, imgH: number, netW: number, netH: number): Person[] {
  const { maps, h, w } = resizeMaps(outputs, 0, model.parts.length);
  const scale = scaleNetToOutput(imgW, imgH, netW, netH);
  const peaks = nms(maps, model.parts.length, h, w, f(model.nmsThreshold), f(0.5 / scale));
  return connect(model, maps, peaks, h, w, scale, (c) => resizeMaps(outputs, c, 1).maps);
}

/**
 * resizeAndMergeCpu: every map (heatmaps, background, PAFs; or `count` of them from `from`) of each scale resized by
 * cv::resize INTER_CUBIC to resizeAndMergeCaffe's size, the first scale's (out * 8 - 1) * 1 + 1 (the net's input: its
 * scale factor is 1 there); scales after the first added to it (cv::add, in float), then all times 1 / scales (Mat /=
 * : convertTo's float alpha). Each map on its own: a part of them is what all of them would hold there.
 */
export function resizeMaps(outputs: readonly Tensor[], from = 0, count = outputs[0].dims[1] - from): { maps: Float32Array; h: number; w: number } {
  const [, channels, oh, ow] = outputs[0].dims, h = oh * DECREASE, w = ow * DECREASE, plane = h * w;
  checkImageMemory(4 * (count + 1) * plane, () => `resizing ${count < channels ? `${count} of ` : ''}OpenPose's ${channels} maps to ${w} x ${h}`);
  const maps = new Float32Array(count * plane);
  outputs.forEach(({ dims: [, , sh, sw], data }, n) => {
    for (let c = 0; c < count; c++) {
      const resized = cvResizeCubic(data.subarray((from + c) * sh * sw, (from + c + 1) * sh * sw), sw, sh, w, h);
      if (n === 0) maps.set(resized, c * plane);
      else for (let i = 0, o = c * plane; i < plane; i++) maps[o + i] = f(resized[i] + maps[o + i]);
    }
  });
  if (outputs.length > 1) {
    const alpha = f(1 / outputs.length);
    for (let i = 0; i < maps.length; i++) maps[i] = f(maps[i] * alpha);
  }
  return { maps, h, w };
}

/**
 * forwardPass's mScaleNetToOutput: from the net's input back to the image, through the size the image takes in
 * the net (the scale into the net, then each side rounded), as a float.
 */
export function scaleNetToOutput(imgW: number, imgH: number, netW: number, netH: number): number {
  const s = resizeScale(imgW, imgH, netW, netH);
  return f(resizeScale(Math.trunc(s * imgW + 0.5), Math.trunc(s * imgH + 0.5), imgW, imgH));
}

/**
 * nmsCpu: per part, the pixels above the threshold and above their 8 neighbours (the image's border never; the
 * first inner ring with >= and the threshold standing in outside the image), in raster order, at most 127; each
 * refined to the score-weighted mean position of the positive scores in its 7 x 7 window, plus `offset`.
 * Returns per part [count, x1, y1, s1, x2, …] as OpenPose's peaks blob (stride 3 * 128).
 */
export function nms(maps: Float32Array, parts: number, h: number, w: number, threshold: number, offset: number): Float32Array {
  const peaks = new Float32Array(parts * (MAX_PEAKS + 1) * 3);
  for (let c = 0; c < parts; c++) {
    const src = maps.subarray(c * h * w, (c + 1) * h * w), dst = peaks.subarray(c * (MAX_PEAKS + 1) * 3);
    let count = 1;
    for (let y = 0; y < h && count < MAX_PEAKS + 1; y++)
      for (let x = 0; x < w && count < MAX_PEAKS + 1; x++) {
        if (!isPeak(src, w, h, threshold, x, y)) continue;
        refine(dst, count * 3, src, x, y, w, h, offset);
        count++;
      }
    dst[0] = count - 1;
  }
  return peaks;
}

function isPeak(s: Float32Array, w: number, h: number, t: number, x: number, y: number): boolean {
  const v = s[y * w + x];
  if (!(v > t)) return false;
  if (1 < x && x < w - 2 && 1 < y && y < h - 2) {
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if ((dx || dy) && !(v > s[(y + dy) * w + x + dx])) return false;
    return true;
  }
  if (!(x === 1 || x === w - 2 || y === 1 || y === h - 2)) return false;
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      if (!dx && !dy) continue;
      const xx = x + dx, yy = y + dy;
      const n = xx >= 0 && xx < w && yy >= 0 && yy < h ? s[yy * w + xx] : t;
      if (!(v >= n)) return false;
    }
  return true;
}

/** nmsAccuratePeakPosition: float sums, rows then columns. */
function refine(out: Float32Array, at: number, s: Float32Array, px: number, py: number, w: number, h: number, offset: number): void {
  let xAcc = 0, yAcc = 0, scoreAcc = 0;
  for (let y = Math.max(0, py - 3); y <= Math.min(h - 1, py + 3); y++)
    for (let x = Math.max(0, px - 3); x <= Math.min(w - 1, px + 3); x++) {
      const score = s[y * w + x];
      if (score > 0) {
        xAcc = f(xAcc + f(x * score));
        yAcc = f(yAcc + f(y * score));
        scoreAcc = f(scoreAcc + score);
      }
    }
  out[at] = f(f(xAcc / scoreAcc) + offset);
  out[at + 1] = f(f(yAcc / scoreAcc) + offset);
  out[at + 2] = s[py * w + px];
}

/** Map c of the resized maps (heatmaps, background, PAFs): held by the caller or resized when asked for. */
type MapOf = (c: number) => Float32Array;

/** A person candidate: the peaks blob's index of each part's score (0: none), its part count and score (float). */
interface Candidate {
  parts: Int32Array;
  count: number;
  score: number;
}

/**
 * connectBodyPartsCpu (createPeopleVector) or, for BODY_25B and BODY_135, connectBodyPartsGpu's steps after its
 * kernel (pafPtrIntoVector, pafVectorIntoPeopleVector); then removePeopleBelowThresholdsAndFillFaces and
 * peopleVectorToPeopleArray.
 */
export function connect(model: PoseModel, maps: Float32Array, peaks: Float32Array, h: number, w: number, scale: number, map?: MapOf): Person[] {
  const mapOf = map ?? ((c: number) => maps.subarray(c * h * w, (c + 1) * h * w));
  const people = model.connector === 'cuda' ? peopleFromPairs(model, mapOf, peaks, h, w) : peopleVector(model, mapOf, peaks, h, w);
  const valid = validPeople(people, model.name, peaks, false);
  const over = f(1 / (model.parts.length + model.pairs.length / 2));
  return valid.map((p) => ({
    score: f(people[p].score * over),
    keypoints: Array.from(people[p].parts, (i): [number, number, number] => (i > 0 ? [f(peaks[i - 2] * scale), f(peaks[i - 1] * scale), peaks[i]] : [0, 0, 0])),
  }));
}

function peopleVector(model: PoseModel, mapOf: MapOf, peaks: Float32Array, h: number, w: number): Candidate[] {
  const nParts = model.parts.length, nPairs = model.pairs.length / 2, stride = 3 * (MAX_PEAKS + 1);
  const people: Candidate[] = [];
  const person = (entries: [number, number][], count: number, score: number) => {
    const parts = new Int32Array(nParts);
    for (const [k, v] of entries) parts[k] = v;
    people.push({ parts, count, score });
  };
  for (let pair = 0; pair < nPairs; pair++) {
    const a = model.pairs[2 * pair], b = model.pairs[2 * pair + 1];
    const nA = intRound(peaks[a * stride]), nB = intRound(peaks[b * stride]);
    if (nA === 0 || nB === 0) {
      // the parts of the side found start people of their own (unless one already has them: not for MPI)
      const [part, n] = nA === 0 ? [b, nB] : [a, nA];
      for (let i = 1; i <= n; i++) {
        const index = part * stride + i * 3 + 2;
        if (nParts !== 15 && people.some((p) => p.parts[part] === index)) continue;
        person([[part, index]], 1, peaks[index]);
      }
      continue;
    }
    const [mapX, mapY] = pafOf(model, mapOf, pair);
    const all: [number, number, number][] = [];
    for (let i = 1; i <= nA; i++)
      for (let j = 1; j <= nB; j++) {
        const score = scoreAB(peaks, a * stride + i * 3, b * stride + j * 3, mapX, mapY, w, h, model);
        if (score > 1e-6) all.push([score, i, j]);
      }
    // std::sort with std::greater on (score as double, i, j)
    all.sort((p, q) => q[0] - p[0] || q[1] - p[1] || q[2] - p[2]);
    const connections: [number, number, number][] = [];
    const usedA = new Uint8Array(nA), usedB = new Uint8Array(nB), most = Math.min(nA, nB);
    for (const [score, i, j] of all) {
      if (usedA[i - 1] || usedB[j - 1]) continue;
      connections.push([a * stride + i * 3 + 2, b * stride + j * 3 + 2, score]);
      if (connections.length === most) break;
      usedA[i - 1] = usedB[j - 1] = 1;
    }
    if (connections.length === 0) continue;
    if (pair === 0) {
      for (const [ia, ib, score] of connections) person([[a, ia], [b, ib]], 2, f(f(peaks[ia] + peaks[ib]) + score));
    } else if ((nParts === 18 && (pair === 17 || pair === 18)) || (nParts === 25 && (pair === 18 || pair === 19))) {
      // the ears' pairs (a person seen from behind): a part joins every person holding its other side alone
      for (const [ia, ib] of connections)
        for (const p of people) {
          if (p.parts[a] === ia && p.parts[b] === 0) p.parts[b] = ib;
          else if (p.parts[b] === ib && p.parts[a] === 0) p.parts[a] = ia;
        }
    } else {
      for (const [ia, ib, score] of connections) {
        const p = people.find((q) => q.parts[a] === ia);
        if (p) {
          p.parts[b] = ib;
          p.count++;
          // here the connection's score was made a float first (T(std::get<2>(...))): float sums
          p.score = f(p.score + f(peaks[ib] + score));
        } else person([[a, ia], [b, ib]], 2, f(f(peaks[ia] + peaks[ib]) + score));
      }
    }
  }
  return people;
}

/** A pair's PAF maps (x, y), after the heatmaps (and the background's). */
function pafOf(model: PoseModel, mapOf: MapOf, pair: number): [Float32Array, Float32Array] {
  const first = poseHeatmaps(model);
  return [mapOf(first + model.mapIdx[2 * pair]), mapOf(first + model.mapIdx[2 * pair + 1])];
}

/**
 * getScoreAB: the PAF along the segment A -> B sampled at 5-25 points (rounded to pixels), each the field's
 * projection on the segment's direction; the mean of those above the threshold when over 95 % are, else a
 * token score for two peaks closer than the maps' diagonal / 150 (their PAF is 0 there). In float, as OpenPose's T.
 * The CUDA kernel's `process` (bodyPartConnectorBase.cu) is the same but for that diagonal, a float there.
 */
function scoreAB(peaks: Float32Array, ia: number, ib: number, mapX: Float32Array, mapY: Float32Array, w: number, h: number, model: PoseModel): number {
  const interThreshold = f(model.interThreshold), nmsThreshold = f(model.nmsThreshold);
  const dx = f(peaks[ib] - peaks[ia]), dy = f(peaks[ib + 1] - peaks[ia + 1]);
  const points = Math.max(5, Math.min(25, intRound(f(Math.sqrt(f(5 * Math.max(Math.abs(dx), Math.abs(dy))))))));
  const norm = f(Math.sqrt(f(f(dx * dx) + f(dy * dy))));
  if (!(norm > 1e-6)) return 0;
  const sX = peaks[ia], sY = peaks[ia + 1], nx = f(dx / norm), ny = f(dy / norm);
  const stepX = f(dx / points), stepY = f(dy / points);
  let sum = 0, count = 0;
  for (let lm = 0; lm < points; lm++) {
    const mX = Math.max(0, Math.min(w - 1, intRound(f(sX + f(lm * stepX)))));
    const mY = Math.max(0, Math.min(h - 1, intRound(f(sY + f(lm * stepY)))));
    const idx = mY * w + mX;
    const score = f(f(nx * mapX[idx]) + f(ny * mapY[idx]));
    if (score > interThreshold) {
      sum = f(sum + score);
      count++;
    }
  }
  if (f(count / points) > INTER_MIN_ABOVE) return f(sum / count);
  // sqrt(int) is a double in C++: the threshold is compared in double (CUDA's sqrtf: a float)
  const near = model.connector === 'cuda' ? f(f(Math.sqrt(w * h)) / 150) : Math.sqrt(w * h) / 150;
  if (norm < near) return f(nmsThreshold + 1e-6);
  return 0;
}

const F01 = f(0.1);

/**
 * connectBodyPartsGpu's people (BODY_25B, BODY_135): every pair's every connection scoring over 1e-6, best first by
 * its score plus a tenth of each end's peak score (pafPtrIntoVector), each then joining its ends into people
 * (pafVectorIntoPeopleVector): two free ends make a person; a free end joins its partner's person where that part
 * is still empty; ends already together add the score; ends of two people with no part in common merge them.
 */
function peopleFromPairs(model: PoseModel, mapOf: MapOf, peaks: Float32Array, h: number, w: number): Candidate[] {
  const nParts = model.parts.length, stride = 3 * (MAX_PEAKS + 1);
  const all: [number, number, number, number, number][] = [];
  for (let pair = 0; pair < model.pairs.length / 2; pair++) {
    const a = model.pairs[2 * pair], b = model.pairs[2 * pair + 1];
    const nA = intRound(peaks[a * stride]), nB = intRound(peaks[b * stride]);
    if (nA === 0 || nB === 0) continue;
    const [mapX, mapY] = pafOf(model, mapOf, pair);
    for (let i = 1; i <= nA; i++)
      for (let j = 1; j <= nB; j++) {
        const score = scoreAB(peaks, a * stride + i * 3, b * stride + j * 3, mapX, mapY, w, h, model);
        if (score > 1e-6) all.push([f(f(score + f(F01 * peaks[a * stride + i * 3 + 2])) + f(F01 * peaks[b * stride + j * 3 + 2])), score, pair, i, j]);
      }
  }
  // std::sort with std::greater on the tuple (total, score, pair, i, j)
  all.sort((p, q) => q[0] - p[0] || q[1] - p[1] || q[2] - p[2] || q[3] - p[3] || q[4] - p[4]);
  const people: Candidate[] = [], merged = new Set<number>();
  const assigned = new Int32Array(nParts * MAX_PEAKS).fill(-1); // a peak's person (part * 127 + peak - 1)
  for (const [, paf, pair, i, j] of all) {
    const a = model.pairs[2 * pair], b = model.pairs[2 * pair + 1];
    const ia = a * stride + i * 3 + 2, ib = b * stride + j * 3 + 2, ka = a * MAX_PEAKS + i - 1, kb = b * MAX_PEAKS + j - 1;
    const pa = assigned[ka], pb = assigned[kb];
    if (pa < 0 && pb < 0) {
      assigned[ka] = assigned[kb] = people.length;
      const parts = new Int32Array(nParts);
      parts[a] = ia;
      parts[b] = ib;
      people.push({ parts, count: 2, score: f(f(peaks[ia] + peaks[ib]) + paf) });
    } else if (pa < 0 || pb < 0) {
      const at = Math.max(pa, pb), p = people[at], [part, index, k] = pa >= 0 ? [b, ib, kb] : [a, ia, ka];
      if (p.parts[part] !== 0) continue; // its part came from a better connection
      p.parts[part] = index;
      p.count++;
      p.score = f(p.score + f(peaks[index] + paf));
      assigned[k] = at;
    } else if (pa === pb) people[pa].score = f(people[pa].score + paf);
    else mergePeople(people, Math.min(pa, pb), Math.max(pa, pb), paf, assigned, merged);
  }
  return people.filter((_, k) => !merged.has(k));
}

/** Case 5 of pafVectorIntoPeopleVector: two people with no part in common become the first (removed at the end). */
function mergePeople(people: Candidate[], one: number, two: number, paf: number, assigned: Int32Array, merged: Set<number>): void {
  const p = people[one], q = people[two];
  if (p.parts.some((v, k) => v > 0 && q.parts[k] > 0)) return;
  p.parts.forEach((v, k) => {
    if (v === 0) p.parts[k] = q.parts[k];
  });
  p.count += q.count;
  p.score = f(p.score + f(q.score + paf));
  merged.add(two);
  for (let k = 0; k < assigned.length; k++) if (assigned[k] === two) assigned[k] = one;
}

/**
 * removePeopleBelowThresholdsAndFillFaces: a candidate stays with 3 parts or more and a score of 0.4 a part. The feet
 * (parts 19-24 of BODY_25, BODY_25B, BODY_135) do not count, and a candidate that is mostly feet (4 parts or fewer
 * without them) is dropped, unless no one stayed (then again, feet counted: maximizePositives). BODY_135: its face
 * and each hand count as one part; a candidate that is only a face is no one, but fills the face it overlaps most.
 */
function validPeople(people: Candidate[], model: PoseModelName, peaks: Float32Array, maximizePositives: boolean): number[] {
  const valid: number[] = [], faces: number[] = [], loneFaces: number[] = [];
  const feet = model === 'BODY_25' || model === 'BODY_25B' || model === 'BODY_135';
  people.forEach((p, k) => {
    let counter = p.count;
    if (model === 'BODY_135') {
      const before = counter;
      counter = countAtMost(counter, p, F135, 135, 1);
      if (counter === 1) return void loneFaces.push(k);
      if (counter !== before) faces.push(k);
      counter = countAtMost(countAtMost(counter, p, H135 + 20, F135, 1), p, H135, H135 + 20, 1);
    }
    if (!maximizePositives && feet) {
      const before = counter;
      counter = countAtMost(counter, p, 19, 25, 0);
      if (counter !== before && counter <= 4) return;
    }
    if (counter >= MIN_SUBSET_CNT && f(p.score / counter) >= MIN_SUBSET_SCORE) valid.push(k);
  });
  if (valid.length > 0) for (const k of loneFaces) fillFace(people, k, faces, peaks);
  return valid.length === 0 && !maximizePositives ? validPeople(people, model, peaks, true) : valid;
}

const H135 = 25, F135 = 65, F03 = f(0.3), F001 = f(0.01), FLT_MAX = f(3.4028234663852886e38);

/** getKeypointCounter: the parts from..to - 1 a candidate has count as `most` at most. */
function countAtMost(counter: number, p: Candidate, from: number, to: number, most: number): number {
  let n = 0;
  for (let k = from; k < to; k++) n += p.parts[k] > 0 ? 1 : 0;
  return n > most ? counter + most - n : counter;
}

/**
 * The face-only candidate `lone` fills (or betters) the face parts of the candidate among `faces` whose face box
 * overlaps its box most (getKeypointsRoi: over 0.3, or over 0.01 with fewer than 3 faces), adding their scores.
 */
function fillFace(people: Candidate[], lone: number, faces: readonly number[], peaks: Float32Array): void {
  const { box, first, last } = faceBox(people[lone].parts, peaks, f(0.2));
  let best = 0, bestAt = -1;
  faces.forEach((k, at) => {
    const overlap = boxOverlap(faceBox(people[k].parts, peaks, f(0.1)).box, box);
    if (best < overlap) [best, bestAt] = [overlap, at];
  });
  if (!(best > F03 || (best > F001 && faces.length < 3))) return;
  const p = people[faces[bestAt]], q = people[lone];
  for (let part = first; part < last; part++) {
    const mine = p.parts[part], theirs = q.parts[part];
    if (theirs === 0) continue;
    if (mine === 0) {
      p.parts[part] = theirs;
      p.score = f(p.score + peaks[theirs]);
    } else if (peaks[mine] < peaks[theirs]) {
      p.parts[part] = theirs;
      p.score = f(p.score + f(peaks[theirs] - peaks[mine]));
    }
  }
}

/**
 * getRoiDiameterAndBounds over the face parts: the box [x, y, width, height] of those scoring above 0, widened by
 * `margin` of its far corner's coordinates (as OpenPose's code does), in float; and the first and past-last part.
 */
function faceBox(parts: Int32Array, peaks: Float32Array, margin: number): { box: [number, number, number, number]; first: number; last: number } {
  let x = FLT_MAX, y = FLT_MAX, right = 0, bottom = 0, first = -1, last = -1;
  for (let k = F135; k < 135; k++) {
    const i = parts[k];
    if (!(i > 0 && peaks[i] > 0)) continue;
    [x, y] = [Math.min(x, peaks[i - 2]), Math.min(y, peaks[i - 1])];
    [right, bottom] = [Math.max(right, peaks[i - 2]), Math.max(bottom, peaks[i - 1])];
    if (first < 0) first = k;
    last = k;
  }
  if (last < 0) return { box: [x, y, right, bottom], first, last };
  const mx = f(right * margin), my = f(bottom * margin);
  [x, y] = [f(x - mx), f(y - my)];
  const width = f(f(right + f(2 * mx)) + f(1 - x)), height = f(f(bottom + f(2 * my)) + f(1 - y));
  return { box: [x, y, width, height], first, last: last + 1 };
}

/** getKeypointsRoi: two boxes' intersection over union, in float (both shifted to non-negative corners first). */
function boxOverlap([ax, ay, aw, ah]: readonly number[], [bx, by, bw, bh]: readonly number[]): number {
  const biasX = Math.min(0, ax, bx), biasY = Math.min(0, ay, by);
  if (biasX !== 0) [ax, bx] = [f(ax - biasX), f(bx - biasX)];
  if (biasY !== 0) [ay, by] = [f(ay - biasY), f(by - biasY)];
  const x1 = Math.max(ax, bx), y1 = Math.max(ay, by), x2 = Math.min(f(ax + aw), f(bx + bw)), y2 = Math.min(f(ay + ah), f(by + bh));
  if (!(x1 < x2 && y1 < y2)) return 0;
  const inter = f(f(x2 - x1) * f(y2 - y1));
  return f(inter / f(f(f(aw * ah) + f(bw * bh)) - inter));
}

// --hand and --face: the hand and face keypoints given their rectangles (pose-parts.ts), as
// HandExtractorCaffe::forwardPass and FaceExtractorCaffe::forwardPass compute them on the CPU with the default flags
// (hand/face_net_resolution 368x368, hand_scale_number 1; or hand_scale_number / range given): each rectangle cropped into the net's square input by
// cv::warpAffine (an inverse map, bilinear, black outside; a left hand mirrored so that the net sees a right one),
// x / 256 - 0.5 planes, the net, its maps resized x 8 (resizeAndMergeCpu: cubic), and each part's first maximum
// (maximumCpu: cv::minMaxLoc) mapped back through the crop's matrix in double, then made a float.

/** Which crop: hand 0 (the left, mirrored), hand 1 (the right), or a face. */
export type PartKind = 'hand-left' | 'hand-right' | 'face';

/**
 * The crop's matrix [ax, bx, ay, by] (net pixel (x, y) is image (ax * x + bx, ay * y + by)) and whether forwardPass
 * runs the net for the rectangle at all (hands: a side over 1 pixel and an area over 10; faces: a side over 40).
 * Hands: cropFrame's float scale side / netSide, mirrored about the rectangle's right edge for the left hand;
 * faces: the scale in double (faceSize / (double)netInputSide).
 */
export function partAffine(kind: PartKind, r: PartRectangle, netSide: number): { affine: [number, number, number, number]; run: boolean } {
  const side = Math.min(r.width, r.height);
  if (kind === 'face') {
    const scale = Math.max(r.width, r.height) / netSide;
    return { affine: [scale, r.x, scale, r.y], run: side > 40 };
  }
  const scale = f(r.width / netSide), run = side > 1 && f(r.width * r.height) > 10;
  return kind === 'hand-left' ? { affine: [-scale, f(r.x + r.width), scale, r.y], run } : { affine: [scale, r.x, scale, r.y], run };
}

/** The net's input for a crop: the image (BGR bytes, as OpenCV holds it) warped into netSide x netSide, x / 256 - 0.5. */
export function partInput(bgr: ByteImage, affine: readonly [number, number, number, number], netSide: number): Tensor {
  return toNetPlanes(cvWarpAffineInverse(bgr, affine, netSide, netSide, 'linear').data, netSide, netSide);
}

/**
 * The keypoints in a part net's output (1 x (parts + 1) x H x W): the maps resized x 8, each part's first maximum in
 * raster order (cv::minMaxLoc), its place through the crop's matrix (double, then float), its value the score.
 */
export function partKeypoints(out: Tensor, affine: readonly [number, number, number, number]): [number, number, number][] {
  const { maps, h, w } = resizeMaps([out]), plane = h * w, [ax, bx, ay, by] = affine;
  return Array.from({ length: out.dims[1] - 1 }, (_, c): [number, number, number] => {
    let best = 0;
    for (let i = 1, o = c * plane; i < plane; i++) if (maps[o + i] > maps[o + best]) best = i;
    const x = best % w, y = (best - x) / w;
    return [f(ax * x + bx), f(ay * y + by), maps[c * plane + best]];
  });
}

/** --face: OpenPose's face detector needs the body's neck (its constructor: poseBodyPartMapStringToKey "Neck"). */
export function checkFaceModel(model: PoseModel): void {
  if (!model.parts.includes('Neck'))
    throw new CremaError(`pose: OpenPose's face detector places the face from the body's Neck, which ${model.name} does not have (OpenPose stops: "String(s) could not be found."); its net finds the face itself`);
}

/** Refuses a net whose output is not 1 x (parts + 1) x H x W, in one line. */
export function checkPartNet(net: Net, kind: 'hand' | 'face', dims = net.blobs.get(outputOf(net))?.dims): void {
  if (partKindOf(dims) !== kind) throw new CremaError(partNetMismatch('pose', [kind], outputOf(net), dims));
}

/**
 * One hand's or face's keypoints: [0, 0, 0] each when forwardPass skips the rectangle (too small), else the net on
 * the crop. netSide: hand/face_net_resolution's side. Hands at several scales (handScales: --hand_scale_number and
 * --hand_scale_range): the net on each scale's rectangle, the first estimate kept unless a later one's average score
 * is strictly higher (handExtractorCaffe.cpp:408-411); the size check is the hand's own rectangle's.
 */
export async function partInImage(net: Net, bgr: ByteImage, kind: PartKind, rect: PartRectangle, netSide: number, run: Forward, handScales: readonly [number, number] = [1, 0.4]): Promise<[number, number, number][]> {
  const parts = kind === 'face' ? FACE_PARTS : HAND_PARTS;
  if (!partAffine(kind, rect, netSide).run) return Array.from({ length: parts }, () => [0, 0, 0]);
  let best: [number, number, number][] = [];
  for (const [i, r] of (kind === 'face' ? [rect] : handScaleRectangles(rect, ...handScales)).entries()) {
    const { affine } = partAffine(kind, r, netSide);
    const [out] = await run(net, partInput(bgr, affine, netSide), [outputOf(net)]);
    checkPartNet(net, kind === 'face' ? 'face' : 'hand', out.dims);
    const found = partKeypoints(out, affine);
    if (i === 0 || averageScore(found) > averageScore(best)) best = found;
  }
  return best;
}

/**
 * Each person's face and hands (OpenPose's face extractor runs before the hands'): their rectangles from the body
 * keypoints, then the nets on the crops of the image as OpenCV holds it (BGR bytes).
 */
async function addParts(people: Person[], model: PoseModel, image: FloatImage, options: PosePartOptions<Net>, run: Forward): Promise<void> {
  const { hand, face, handNetResolution = 368, faceNetResolution = 368, handScaleNumber = 1, handScaleRange = 0.4 } = options;
  const scales = [handScaleNumber, handScaleRange] as const;
  const bgr: ByteImage = { width: image.width, height: image.height, channels: 3, data: imageBytes(image, 'bgr') };
  for (const p of people) {
    if (face) p.face = await partInImage(face, bgr, 'face', faceRectangle(model, p.keypoints), faceNetResolution, run);
    if (!hand) continue;
    const [left, right] = handRectangles(model, p.keypoints);
    p.handLeft = await partInImage(hand, bgr, 'hand-left', left, handNetResolution, run, scales);
    p.handRight = await partInImage(hand, bgr, 'hand-right', right, handNetResolution, run, scales);
  }
}
