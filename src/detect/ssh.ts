import type { Net } from '../runtime/net.js';
import type { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { Detection } from './options.js';
import { pyCpuNms } from '../layers/proposal.js';
import { fasterRcnnScale } from './faster-rcnn.js';

// SSH's face detection after the net (mahyarnajibi/SSH 9389c2b, SSH/test.py's detect). Its images are prepared as
// py-faster-rcnn's _get_image_blob prepares them (lib/utils/test_utils.py): mean-subtracted, scaled by cv2.resize —
// there in float64 (PIXEL_MEANS is a float64 array), cast to float32 at the end; crema's steps are float32 (the
// corners then differ by ~1e-5 pixels: test/ssh-pyramid.test.ts).
// - One scale (SSH/configs/wider.yml, test.py's detect(pyramid=False)): the shorter side TEST.SCALES 1200, the
//   longer at most TEST.MAX_SIZE 1600; forward_net's boxes = ssh_boxes[:, 1:5] / im_scale and probs = ssh_cls_prob
//   (the three modules' proposal tops, concatenated by the net).
// - The pyramid (SSH/configs/wider_pyramid.yml, demo.py's default config; test.py when TEST.SCALES has more than
//   one size): base_scale = _compute_scaling_factor(im, PYRAMID_BASE_SIZE 800, 1200) (the shorter side to 800 unless
//   the longer would round to more than 1200), then one forward per size s of TEST.SCALES [500, 800, 1200, 1600] at
//   s / 800 * base_scale (no MAX_SIZE cap), reading each module's m{1,2,3}@ssh_boxes / @ssh_cls_prob on its own;
//   every module's rows are kept but M3's at the last scale ("Do not apply M3 to the largest scale").
// Either way: the rows with probs[:, 0] > thresh, then nms(dets, TEST.NMS_THRESH 0.3) of them all together: one
// class, the face.

/** SSH's TEST.SCALES[0], TEST.MAX_SIZE (wider.yml, default_config.yml) and TEST.NMS_THRESH. */
export const SSH_DEFAULTS = { scale: 1200, maxSize: 1600, nms: 0.3 };

/** wider_pyramid.yml's TEST.SCALES and TEST.PYRAMID_BASE_SIZE [scale, maxSize]: demo.py's default config. */
export const SSH_PYRAMID = { sizes: [500, 800, 1200, 1600], scale: 800, maxSize: 1200 } as const;

/** The blobs SSH/test.py's forward_net reads (its single-scale path): the concatenated boxes and face scores. */
export const SSH_BLOBS = { boxes: 'ssh_boxes', probs: 'ssh_cls_prob' } as const;

/** The blobs forward_net reads in the pyramid: each of the three modules' proposal tops, M1 to M3. */
export const SSH_MODULES = [1, 2, 3].map((m) => ({ boxes: `m${m}@ssh_boxes`, probs: `m${m}@ssh_cls_prob` }));

/** Whether the net is SSH's test net: blobs ssh_boxes and ssh_cls_prob (test_ssh.prototxt's Concats). */
export function isSsh(net: Net): boolean {
  return net.shapes.has(SSH_BLOBS.boxes) && net.shapes.has(SSH_BLOBS.probs);
}

/** The blobs the pyramid reads (SSH_MODULES'), the net lacking one refused by name. */
export function sshModuleBlobs(net: Net): string[] {
  const blobs = SSH_MODULES.flatMap((m) => [m.boxes, m.probs]), missing = blobs.find((b) => !net.shapes.has(b));
  if (missing !== undefined)
    throw new CremaError(`net '${net.name || 'net'}' has no blob '${missing}': SSH's pyramid reads each of its three modules' proposal tops (${blobs.join(', ')}), as test_ssh.prototxt names them; run it at one scale (pyramid false)`);
  return blobs;
}

/** test.py's pyramid_scales: each size / scale * base_scale, base_scale fitting the image to scale (maxSize at most). */
export function sshPyramidScales(height: number, width: number, sizes: readonly number[], scale: number, maxSize: number): number[] {
  const base = fasterRcnnScale(height, width, scale, maxSize);
  return sizes.map((s) => (s / scale) * base);
}

/** One forward's boxes (R x 5: image, x1, y1, x2, y2 in the scaled image) and face scores (R x K, column 0 read), and its im_scale. */
export interface SshRows {
  boxes: Tensor;
  probs: Tensor;
  scale: number;
}

/** The pyramid's rows: each scale's (got[i], at scales[i]) M1, M2 and M3 tops, but M3's at the last scale. */
export function sshPyramidRows(got: readonly ((blob: string) => Tensor)[], scales: readonly number[]): SshRows[] {
  return scales.flatMap((scale, i) => SSH_MODULES
    .filter((_, m) => i < scales.length - 1 || m < SSH_MODULES.length - 1)
    .map((m) => ({ boxes: got[i](m.boxes), probs: got[i](m.probs), scale })));
}

/**
 * test.py's detections from its rows, in their order: the boxes divided by their scale in float32 (as numpy divides
 * a float32 array by a float), the rows whose score is above `threshold` (strictly, compared in float32), then
 * py_cpu_nms at `nms` over those rows. Label 1, the face (its imdb's class 1); boxes are not clipped again (the
 * proposal layers clipped them to the scaled image).
 */
export function sshDetections(parts: readonly SshRows[], threshold: number, labels?: readonly string[], nms = SSH_DEFAULTS.nms): Detection[] {
  const R = parts.reduce((n, p) => n + p.boxes.dims[0], 0), limit = Math.fround(threshold);
  const unscaled = new Float32Array(4 * R), scores = new Float32Array(R), rows: number[] = [];
  let at = 0;
  for (const { boxes, probs, scale } of parts) {
    const n = boxes.dims[0], s = Math.fround(scale);
    if (boxes.data.length !== n * 5 || probs.dims[0] !== n || probs.data.length < n)
      throw new CremaError(`SSH: boxes ${boxes.dims.join(' x ')} and scores ${probs.dims.join(' x ')} do not go together (R x 5, R x 1)`);
    const K = probs.data.length / n;
    for (let i = 0; i < n; i++, at++) {
      for (let k = 0; k < 4; k++) unscaled[4 * at + k] = boxes.data[5 * i + 1 + k] / s;
      scores[at] = probs.data[i * K];
      if (scores[at] > limit) rows.push(at);
    }
  }
  return pyCpuNms(unscaled, scores, rows, nms).map((i) => ({
    label: 1, name: labels?.[1] ?? null, score: scores[i],
    xmin: unscaled[4 * i], ymin: unscaled[4 * i + 1], xmax: unscaled[4 * i + 2], ymax: unscaled[4 * i + 3],
  }));
}
