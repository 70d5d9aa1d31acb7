#!/usr/bin/env node
// SpatialTransformer natively (the fork's kernel restated, float32) against its ONNX form (GridSample on theta times a
// constant grid) in ONNX Runtime, at CUB_googLeNet_ST's settings (daerduoCarey/SpatialTransformerLayer): 4 images of
// 3 x 448 x 448 to 224 x 224, theta_1_1 = theta_2_2 = 0.5 and no shear fixed, the shift from the bottom. Both at one
// thread, one session made beforehand, runs interleaved in one process, medians; and the largest difference over the
// largest output.
//   node scripts/bench-stn.mjs [--runs N]        (needs `npm run build` first)
import { Net, OnnxRunner, Tensor, generator, nativeAndOnnx, parsePrototxt, relativeWorst, runsOption, upgradeNet } from './bench-layer.mjs';

const runs = runsOption(9);
const random = generator(5);
const dims = [4, 3, 448, 448];
const feeds = {
  u: new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => random() * 2 - 1)),
  theta: new Tensor([4, 2], Float32Array.from({ length: 8 }, () => random() - 0.5)),
};
const text = `input: "u" input_shape { ${dims.map((v) => `dim: ${v}`).join(' ')} } input: "theta" input_shape { dim: 4 dim: 2 }
  layer { name: "st" type: "SpatialTransformer" bottom: "u" bottom: "theta" top: "st"
    st_param { output_H: 224 output_W: 224 theta_1_1: 0.5 theta_1_2: 0 theta_2_1: 0 theta_2_2: 0.5 } }`;
const net = Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'stn.prototxt'), 'stn.prototxt'), new Map(), [], { threads: 1 });
const runner = await OnnxRunner.create(net.graph, { threads: 1 });
const native = net.forward(feeds).st.data.slice(), onnx = (await runner.run(feeds)).get('st').data;
const [n, o] = await nativeAndOnnx(net, runner, feeds, runs);
console.log(`SpatialTransformer (4 x 3 x 448^2 to 224^2, CUB's fixed scale): native ${n.toFixed(1)} ms, ONNX Runtime ${o.toFixed(1)} ms (${(o / n).toFixed(2)}x); max |a - b| / max |a| ${relativeWorst(native, onnx).toExponential(2)}`);
await runner.release();
await net.dispose();
