import type { Net } from '../runtime/net.js';
import type { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { Detection } from './options.js';
import { pyCpuNms } from '../layers/proposal.js';

// SSH's face detection after the net (mahyarnajibi/SSH 9389c2b, SSH/test.py's detect without the pyramid, as
// SSH/configs/wider.yml runs it): the image as py-faster-rcnn's _get_image_blob prepares it (lib/utils/test_utils.py,
// shorter side TEST.SCALES 1200, longer at most TEST.MAX_SIZE 1600), then forward_net's boxes = ssh_boxes[:, 1:5] /
// im_scale and probs = ssh_cls_prob (the three modules' proposal tops, concatenated by the net), the rows with
// probs[:, 0] > thresh, and nms(dets, TEST.NMS_THRESH 0.3) of them all together: one class, the face.

/** SSH's TEST.SCALES[0], TEST.MAX_SIZE (wider.yml, default_config.yml) and TEST.NMS_THRESH. */
export const SSH_DEFAULTS = { scale: 1200, maxSize: 1600, nms: 0.3 };

/** The blobs SSH/test.py's forward_net reads (its single-scale path): the concatenated boxes and face scores. */
export const SSH_BLOBS = { boxes: 'ssh_boxes', probs: 'ssh_cls_prob' } as const;

/** Whether the net is SSH's test net: blobs ssh_boxes and ssh_cls_prob (test_ssh.prototxt's Concats). */
export function isSsh(net: Net): boolean {
  return net.shapes.has(SSH_BLOBS.boxes) && net.shapes.has(SSH_BLOBS.probs);
}

/**
 * test.py's detections from ssh_boxes (R x 5: image, x1, y1, x2, y2 in the scaled image) and ssh_cls_prob (R x 1):
 * the boxes divided by `scale` in float32 (as numpy divides a float32 array by a float), the rows whose score is above
 * `threshold` (strictly, compared in float32), then py_cpu_nms at `nms` over those rows. Label 1, the face (its imdb's
 * class 1); boxes are not clipped again (the proposal layers clipped them to the scaled image).
 */
export function sshDetections(boxes: Tensor, probs: Tensor, scale: number, threshold: number, labels?: readonly string[], nms = SSH_DEFAULTS.nms): Detection[] {
  const R = boxes.dims[0];
  if (boxes.data.length !== R * 5 || probs.dims[0] !== R || probs.data.length < R)
    throw new CremaError(`SSH: ssh_boxes ${boxes.dims.join(' x ')} and ssh_cls_prob ${probs.dims.join(' x ')} do not go together (R x 5, R x 1)`);
  const K = probs.data.length / R, s = Math.fround(scale), limit = Math.fround(threshold);
  const unscaled = new Float32Array(4 * R), scores = new Float32Array(R), rows: number[] = [];
  for (let i = 0; i < R; i++) {
    for (let k = 0; k < 4; k++) unscaled[4 * i + k] = boxes.data[5 * i + 1 + k] / s;
    scores[i] = probs.data[i * K];
    if (scores[i] > limit) rows.push(i);
  }
  return pyCpuNms(unscaled, scores, rows, nms).map((i) => ({
    label: 1, name: labels?.[1] ?? null, score: scores[i],
    xmin: unscaled[4 * i], ymin: unscaled[4 * i + 1], xmax: unscaled[4 * i + 2], ymax: unscaled[4 * i + 3],
  }));
}
