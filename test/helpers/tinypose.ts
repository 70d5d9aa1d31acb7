// A stand-in for OpenPose's COCO net, small and with weights, for the tests of crema pose in Node and the browser:
// its input 'image', its output 'net_output' of 57 channels at an eighth of the input (the 8 x 8 means of B, G, R
// mixed per channel). Its maps are noise: many people, some of them near ties on a photo.
import fs from 'node:fs';
import path from 'node:path';
import { encodeCaffemodel } from '../../src/caffe/caffemodel.js';

/** Writes pose.prototxt and pose.caffemodel into `dir` (other channel counts, other models: pose<channels>.*). */
export function writeTinyPose(dir: string, channels = 57): { prototxt: string; weights: string } {
  const name = channels === 57 ? 'pose' : `pose${channels}`;
  const prototxt = path.join(dir, `${name}.prototxt`), weights = path.join(dir, `${name}.caffemodel`);
  fs.writeFileSync(prototxt, `name: "tinypose"
    input: "image" input_dim: 1 input_dim: 3 input_dim: 16 input_dim: 16
    layer { name: "pool" type: "Pooling" bottom: "image" top: "pool" pooling_param { pool: AVE kernel_size: 8 stride: 8 } }
    layer { name: "net_output" type: "Convolution" bottom: "pool" top: "net_output" convolution_param { num_output: ${channels} kernel_size: 1 } }`);
  const filled = (n: number, fn: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => fn(i));
  fs.writeFileSync(weights, encodeCaffemodel({ name: 'tinypose', layer: [{ name: 'net_output', type: 'Convolution', blobs: [
    { shape: { dim: [channels, 3, 1, 1] }, data: filled(channels * 3, (i) => Math.sin(i * 1.7) * 2) },
    { shape: { dim: [channels] }, data: filled(channels, (i) => Math.cos(i * 0.3) * 0.5) },
  ] }] }));
  return { prototxt, weights };
}
