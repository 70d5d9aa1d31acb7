// Loads (built dist) a net whose fused chain hides a 32 MiB blob, runs a whole forward, then reads the hidden blob,
// and prints {"grew": VmRSS bytes the read added, "bytes": the blob's}: the hidden blob is resident only once read.
// A process of its own: in a test runner's process the kernels' heap reuses blocks other tests freed (written).
import fs from 'node:fs';
import { TextEncoder } from 'node:util';
import { Net, Tensor } from '../../dist/index.js';
import { encodeCaffemodel } from '../../dist/caffe/caffemodel.js';

const side = 1024, C = 8;
const prototxt = `
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: ${C} dim: ${side} dim: ${side} } } }
  layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: ${C} kernel_size: 1 } }
  layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c_bn" }
  layer { name: "scale" type: "Scale" bottom: "c_bn" top: "c_bn" scale_param { bias_term: true } }
  layer { name: "relu" type: "ReLU" bottom: "c_bn" top: "c_bn" }`;
const blob = (dim, v) => ({ shape: { dim }, data: new Float32Array(dim.reduce((a, b) => a * b, 1)).fill(v) });
const weights = encodeCaffemodel({ name: 'hidden', layer: [
  { name: 'c', type: 'Convolution', blobs: [blob([C, C, 1, 1], 0.1), blob([C], 0.2)] },
  { name: 'bn', type: 'BatchNorm', blobs: [blob([C], 0.1), blob([C], 1), { shape: { dim: [1] }, data: Float32Array.of(1) }] },
  { name: 'scale', type: 'Scale', blobs: [blob([C], 1), blob([C], 0.3)] },
] });
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const net = await Net.load(new TextEncoder().encode(prototxt), weights, { threads: 1 });
net.forward({ data: new Tensor([1, C, side, side], new Float32Array(C * side * side).fill(1)) });
const before = rss();
const c = net.blobs.get('c').data;
console.log(JSON.stringify({ grew: rss() - before, bytes: c.length * 4, value: c[0] }));
process.exit(0);
