// OpenPose's hand and face keypoints given their rectangles (pose-parts.ts): HandExtractorCaffe::forwardPass and
// FaceExtractorCaffe::forwardPass on the CPU with the default flags (hand/face_net_resolution 368x368, hand
// scale_number 1): each rectangle cropped into the net's square input by cv::warpAffine (an inverse map, bilinear,
// black outside; a left hand mirrored so that the net sees a right one), x / 256 - 0.5 planes, the net, its maps
// resized x 8 (resizeAndMergeCpu: cubic), and each part's first maximum (maximumCpu: cv::minMaxLoc) mapped back
// through the crop's matrix in double, then made a float. Platform-neutral: the nets run through a Forward.
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { type ByteImage, cvWarpAffineInverse } from '../image/cv-warp.js';
import { CremaError } from '../util/errors.js';
import { resizeMaps, toNetPlanes } from './openpose.js';
import { FACE_PARTS, HAND_PARTS, type PartRectangle } from './pose-parts.js';
import type { Forward } from './forward.js';

const f = Math.fround;

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

/** The hand or face net's output blob (OpenPose's prototxts name it net_output). */
function partOutput(net: Net): string {
  return net.outputs.length === 1 ? net.outputs[0] : 'net_output';
}

/** Refuses a net whose output is not 1 x (parts + 1) x H x W, in one line. */
export function checkPartNet(net: Net, kind: 'hand' | 'face', dims = net.blobs.get(partOutput(net))?.dims): void {
  const parts = kind === 'hand' ? HAND_PARTS : FACE_PARTS;
  if (!(dims?.length === 4 && dims[0] === 1 && dims[1] === parts + 1))
    throw new CremaError(`pose: the ${kind} net's output '${partOutput(net)}' is ${dims?.join(' x ') ?? 'missing'}; OpenPose's ${kind} net gives 1 x ${parts + 1} x H x W (${parts} keypoint heatmaps and the background)`);
}

/**
 * One hand's or face's keypoints: [0, 0, 0] each when forwardPass skips the rectangle (too small), else the net on
 * the crop. netSide: hand/face_net_resolution's side.
 */
export async function partInImage(net: Net, bgr: ByteImage, kind: PartKind, rect: PartRectangle, netSide: number, run: Forward): Promise<[number, number, number][]> {
  const parts = kind === 'face' ? FACE_PARTS : HAND_PARTS;
  const { affine, run: runs } = partAffine(kind, rect, netSide);
  if (!runs) return Array.from({ length: parts }, () => [0, 0, 0]);
  const [out] = await run(net, partInput(bgr, affine, netSide), [partOutput(net)]);
  checkPartNet(net, kind === 'face' ? 'face' : 'hand', out.dims);
  return partKeypoints(out, affine);
}
