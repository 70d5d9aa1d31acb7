// Winograd's float32 error on the zoo nets' 3x3 shapes: im2col, F(2x2) and F(4x4) against a float64 sum over 3000
// sampled outputs, as max |ours - ref| / max(1, max |ref|); He-scaled weights, ReLU-like inputs. After `npm run build`.
// Usage: node scripts/winograd-accuracy.mjs [threads, default 1]; CASES=vgg,res picks shapes by name.
import '../dist/platform/node.js';
import { setThreads } from '../dist/kernels/wasm.js';
import { convolutionLayer } from '../dist/layers/convolution.js';
import { Tensor } from '../dist/tensor.js';
await setThreads(Number(process.argv[2] ?? 1));
const all = [['alex conv3', 256, 384, 13, 1], ['alex conv4', 192, 192, 13, 2], ['vgg conv1_2', 64, 64, 224, 1], ['vgg conv4_2', 512, 512, 28, 1], ['vgg conv5_2', 512, 512, 14, 1], ['res 3x3 s2', 64, 64, 56, 1], ['res 3x3 s5', 512, 512, 7, 1], ['goog 3x3 b', 32, 64, 28, 1], ['odd', 40, 37, 17, 1]];
const f = process.env.CASES; const pick = f ? all.filter((c) => f.split(',').some((n) => c[0].includes(n))) : all;
const rand = (dims, s) => { const t = Tensor.zeros(dims); for (let i = 0; i < t.data.length; i++) t.data[i] = (Math.random() - 0.5) * s; return t; };
for (const [name, cin, cout, hw, group] of pick) {
  const def = { name, type: 'Convolution', bottom: ['x'], top: ['y'], convolution_param: { num_output: cout, kernel_size: [3], pad: [1], group } };
  // weights of a trained net's scale (He init: std sqrt(2 / fan_in)), inputs of a ReLU net's (0..~10)
  const w = [rand([cout, cin / group, 3, 3], 2 * Math.sqrt(6 / (9 * cin / group))), rand([cout], 0.2)];
  const x = rand([1, cin, hw, hw], 1); for (let i = 0; i < x.data.length; i++) x.data[i] = Math.max(0, x.data[i] * 10);
  const out = {};
  for (const mode of ['0', '2', '4']) {
    process.env.CREMA_WINOGRAD = mode;
    const l = convolutionLayer.create(def, w); const [top] = l.reshape([[1, cin, hw, hw]]); const y = Tensor.zeros(top); l.forward([x], [y]); out[mode] = y.data;
  }
  // float64 reference on a sample of outputs
  const cg = cin / group, mg = cout / group; let e0 = 0, e2 = 0, e4 = 0, mx = 0;
  for (let s = 0; s < 3000; s++) {
    const o = Math.floor(Math.random() * cout), oy = Math.floor(Math.random() * hw), ox = Math.floor(Math.random() * hw);
    const gi = Math.floor(o / mg); let acc = w[1].data[o];
    for (let c = 0; c < cg; c++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) { const iy = oy + ky - 1, ix = ox + kx - 1; if (iy < 0 || ix < 0 || iy >= hw || ix >= hw) continue; acc += w[0].data[((o * cg + c) * 3 + ky) * 3 + kx] * x.data[((gi * cg + c) * hw + iy) * hw + ix]; }
    const i = (o * hw + oy) * hw + ox; mx = Math.max(mx, Math.abs(acc));
    e0 = Math.max(e0, Math.abs(out['0'][i] - acc)); e2 = Math.max(e2, Math.abs(out['2'][i] - acc)); e4 = Math.max(e4, Math.abs(out['4'][i] - acc));
  }
  const r = (e) => (e / Math.max(1, mx)).toExponential(1);
  console.log(`${name.padEnd(12)} max|ref| ${mx.toFixed(1).padStart(6)}  error / max(1,max|ref|): im2col ${r(e0)}  F(2x2) ${r(e2)}  F(4x4) ${r(e4)}`);
}
