#!/usr/bin/env node
// PSROIPooling natively (the fork's kernel restated: float32 running sums over each bin) against its ONNX form
// (a float64 summed-area table, four corners gathered per bin) in ONNX Runtime, on R-FCN's sizes: 300 ROIs on a
// 38 x 50 map (a 600 x 800 image at stride 16), 7 x 7 bins, rfcn_cls (21 x 49 channels) and rfcn_bbox (8 x 49),
// and a 3 x 3 grid. Both at one thread, one session made beforehand, runs interleaved in one process, medians;
// also the largest difference of the two and how many outputs agree bit for bit.
//   node scripts/bench-psroi.mjs [--runs N]        (needs `npm run build` first)
import { Net, OnnxRunner, Tensor, generator, nativeAndOnnx, parsePrototxt, runsOption, upgradeNet } from './bench-layer.mjs';

const runs = runsOption(15);
const random = generator(5);

for (const [outputDim, group, R, what] of [[21, 7, 300, 'rfcn_cls'], [8, 7, 300, 'rfcn_bbox'], [21, 3, 300, '3 x 3 bins']]) {
  const dims = [1, outputDim * group * group, 38, 50];
  const x = new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => random() * 2 - 1));
  const rois = new Float32Array(R * 5);
  for (let r = 0; r < R; r++) {
    const [x1, y1] = [random() * 700, random() * 500];
    rois.set([0, x1, y1, x1 + random() * 300, y1 + random() * 250], r * 5);
  }
  const feeds = { x, r: new Tensor([R, 5], rois) };
  const text = `input: "x" input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } input: "r" input_shape { dim: ${R} dim: 5 }
    layer { name: "ps" type: "PSROIPooling" bottom: "x" bottom: "r" top: "ps" psroi_pooling_param { spatial_scale: 0.0625 output_dim: ${outputDim} group_size: ${group} } }`;
  const net = Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'psroi.prototxt'), 'psroi.prototxt'), new Map(), [], { threads: 1 });
  const runner = await OnnxRunner.create(net.graph, { threads: 1 });
  const native = net.forward(feeds).ps.data.slice(), onnx = (await runner.run(feeds)).get('ps').data;
  let worst = 0, same = 0;
  for (let i = 0; i < native.length; i++) {
    worst = Math.max(worst, Math.abs(native[i] - onnx[i]));
    if (native[i] === onnx[i]) same++;
  }
  const [n, o] = await nativeAndOnnx(net, runner, feeds, runs);
  console.log(`${what} (${R} ROIs, ${outputDim} x ${group}^2 channels, 38 x 50): native ${n.toFixed(1)} ms, ONNX Runtime ${o.toFixed(1)} ms (${(o / n).toFixed(2)}x); max |a - b| ${worst.toExponential(2)}, ${same} of ${native.length} equal`);
  await runner.release();
  await net.dispose();
}
