#!/usr/bin/env node
// DeformablePSROIPooling natively (the fork's kernel restated: sample_per_part^2 bilinear points a bin, float32) against
// its ONNX form (one GatherElements of every point's four corners) in ONNX Runtime, on Deformable R-FCN's sizes
// (makefile/frcnn rfcn-dcn): 300 ROIs on a 38 x 50 map, 7 x 7 bins and parts, 4 x 4 samples, trans_std 0.1;
// psroipooled_cls_rois (6 x 49 channels, offsets of 6 classes) and psroipooled_loc_rois (24 x 49, one class). Both at
// one thread, one session made beforehand, runs interleaved in one process, medians; and the largest difference
// over the largest output.
//   node scripts/bench-dpsroi.mjs [--runs N]        (needs `npm run build` first)
import { Net, OnnxRunner, Tensor, generator, nativeAndOnnx, parsePrototxt, relativeWorst, runsOption, upgradeNet } from './bench-layer.mjs';

const runs = runsOption(9);
const random = generator(5);
const uniform = (n) => Float32Array.from({ length: n }, () => random() * 2 - 1);

for (const [outputDim, classes, what] of [[6, 6, 'psroipooled_cls_rois'], [24, 1, 'psroipooled_loc_rois']]) {
  const group = 7, part = 7, R = 300, dims = [1, outputDim * group * group, 38, 50], transDims = [R, 2 * classes, part, part];
  const rois = new Float32Array(R * 5);
  for (let r = 0; r < R; r++) {
    const [x1, y1] = [random() * 700, random() * 500];
    rois.set([0, x1, y1, x1 + random() * 300, y1 + random() * 250], r * 5);
  }
  const feeds = { x: new Tensor(dims, uniform(dims.reduce((a, b) => a * b))), r: new Tensor([R, 5], rois), t: new Tensor(transDims, uniform(transDims.reduce((a, b) => a * b))) };
  const shape = (d) => `input_shape { ${d.map((v) => `dim: ${v}`).join(' ')} }`;
  const text = `input: "x" ${shape(dims)} input: "r" ${shape([R, 5])} input: "t" ${shape(transDims)}
    layer { name: "dp" type: "DeformablePSROIPooling" bottom: "x" bottom: "r" bottom: "t" top: "dp" deformable_psroi_pooling_param {
      spatial_scale: 0.0625 output_dim: ${outputDim} group_size: ${group} pooled_size: ${group} part_size: ${part} sample_per_part: 4 trans_std: 0.1 } }`;
  const net = Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'dpsroi.prototxt'), 'dpsroi.prototxt'), new Map(), [], { threads: 1 });
  const runner = await OnnxRunner.create(net.graph, { threads: 1 });
  const native = net.forward(feeds).dp.data.slice(), onnx = (await runner.run(feeds)).get('dp').data;
  const [n, o] = await nativeAndOnnx(net, runner, feeds, runs);
  console.log(`${what} (${R} ROIs, ${outputDim} x ${group}^2 channels, 38 x 50, 4 x 4 samples): native ${n.toFixed(1)} ms, ONNX Runtime ${o.toFixed(1)} ms (${(o / n).toFixed(2)}x); max |a - b| / max |a| ${relativeWorst(native, onnx).toExponential(2)}`);
  await runner.release();
  await net.dispose();
}
