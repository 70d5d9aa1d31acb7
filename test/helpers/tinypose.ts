// A stand-in for OpenPose's COCO net, small and with weights, for the tests of crema pose in Node and the browser:
// its input 'image', its output 'net_output' of 57 channels at an eighth of the input (the 8 x 8 means of B, G, R
// mixed per channel). Its maps are noise: many people, some of them near ties on a photo.
import fs from 'node:fs';
import path from 'node:path';
import { encodeCaffemodel } from '../../src/caffe/caffemodel.js';

/** Writes pose.prototxt and pose.caffemodel into `dir`. */
export function writeTinyPose(dir: string): { prototxt: string; weights: string } {
  const prototxt = path.join(dir, 'pose.prototxt'), weights = path.join(dir, 'pose.caffemodel');
  fs.writeFileSync(prototxt, `name: "tinypose"
    input: "image" input_dim: 1 input_dim: 3 input_dim: 16 input_dim: 16
    layer { name: "pool" type: "Pooling" bottom: "image" top: "pool" pooling_param { pool: AVE kernel_size: 8 stride: 8 } }
    layer { name: "net_output" type: "Convolution" bottom: "pool" top: "net_output" convolution_param { num_output: 57 kernel_size: 1 } }`);
  const filled = (n: number, fn: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => fn(i));
  fs.writeFileSync(weights, encodeCaffemodel({ name: 'tinypose', layer: [{ name: 'net_output', type: 'Convolution', blobs: [
    { shape: { dim: [57, 3, 1, 1] }, data: filled(57 * 3, (i) => Math.sin(i * 1.7) * 2) },
    { shape: { dim: [57] }, data: filled(57, (i) => Math.cos(i * 0.3) * 0.5) },
  ] }] }));
  return { prototxt, weights };
}
