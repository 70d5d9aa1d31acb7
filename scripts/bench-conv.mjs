// Times crema's Convolution / InnerProduct layers on AlexNet's shapes (batch 1), after `npm run build`.
// Usage: node scripts/bench-conv.mjs [milliseconds per layer, default 1500] [threads, default 1]
// Kernels: wasm when built, CREMA_KERNELS=js for the plain TypeScript ones.
import '../dist/platform/node.js';
import { kernelsInUse, setThreads } from '../dist/kernels/wasm.js';
import { convolutionLayer } from '../dist/layers/convolution.js';
import { innerProductLayer } from '../dist/layers/inner_product.js';
import { Tensor } from '../dist/tensor.js';

const budget = Number(process.argv[2] ?? 1500);
const threads = Number(process.argv[3] ?? 1);
await setThreads(threads);
console.log(`kernels: ${kernelsInUse()}, threads: ${threads}`);

// name, input dims, params, weight dims
const cases = [
  ['conv1', [1, 3, 227, 227], { convolution_param: { num_output: 96, kernel_size: [11], stride: [4] } }, [96, 3, 11, 11]],
  ['conv2', [1, 96, 27, 27], { convolution_param: { num_output: 256, kernel_size: [5], pad: [2], group: 2 } }, [256, 48, 5, 5]],
  ['conv3', [1, 256, 13, 13], { convolution_param: { num_output: 384, kernel_size: [3], pad: [1] } }, [384, 256, 3, 3]],
  ['conv4', [1, 384, 13, 13], { convolution_param: { num_output: 384, kernel_size: [3], pad: [1], group: 2 } }, [384, 192, 3, 3]],
  ['conv5', [1, 384, 13, 13], { convolution_param: { num_output: 256, kernel_size: [3], pad: [1], group: 2 } }, [256, 192, 3, 3]],
  ['fc6', [1, 256, 6, 6], { inner_product_param: { num_output: 4096 } }, [4096, 9216]],
  ['fc7', [1, 4096], { inner_product_param: { num_output: 4096 } }, [4096, 4096]],
];

function random(dims) {
  const t = Tensor.zeros(dims);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.random() - 0.5;
  return t;
}

let total = 0;
for (const [name, inDims, params, wDims] of cases) {
  const type = name.startsWith('fc') ? innerProductLayer : convolutionLayer;
  const def = { name, type: type.type, bottom: ['x'], top: ['y'], ...params };
  const layer = type.create(def, [random(wDims), random([wDims[0]])]);
  const [topDims] = layer.reshape([inDims]);
  const x = random(inDims), y = Tensor.zeros(topDims);
  layer.forward([x], [y]); // warm-up (JIT, buffers)
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budget || runs < 3) {
    layer.forward([x], [y]);
    runs++;
  }
  const ms = (performance.now() - t0) / runs;
  const macs = layer.macs([inDims], [topDims]);
  total += ms;
  console.log(`${name.padEnd(6)} ${ms.toFixed(2).padStart(8)} ms  ${(macs / 1e6).toFixed(0).padStart(5)} MMAC  ${((2 * macs) / ms / 1e6).toFixed(2)} GFLOP/s  -> [${topDims.join(', ')}]`);
}
console.log(`total  ${total.toFixed(2).padStart(8)} ms`);
