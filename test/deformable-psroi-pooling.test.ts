// DeformablePSROIPooling (src/layers/deformable_psroi_pooling.ts; Deformable R-FCN's caffe port) against the fork's own
// CPU kernel: makefile/frcnn's deformable_psroi_pooling_layer.cpp compiled and run by test/fixtures/dpsroi/make-fixtures.sh
// on 2 images of 4 x 3^2 score maps and 7 ROIs (inside, partly off the map on either side, halves, one pixel, wholly off,
// x2 < x1), with seeded offsets of 2 classes on 3 x 3 parts, of 4 classes on 4 x 4 parts, and without offsets. Natively
// to the bit (the kernel's float32 steps kept); through ONNX Runtime within 1e-6 of the largest output (its sums in
// another order). Then the refusals, one line each.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { MAX_OPSET, MIN_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/dpsroi');
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as Record<string, Record<string, number | boolean>>;
const npy = (name: string) => readNpy(path.join(fixture, `${name}.npy`));

const shapeOf = (dims: readonly number[]) => `input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} }`;
const paramText = (p: Record<string, number | boolean>) => Object.entries(p).map(([k, v]) => `${k}: ${v}`).join(' ');

/** A net of inputs x, r (and t) and one DeformablePSROIPooling layer "dp". */
function netOf(x: readonly number[], r: readonly number[], t: readonly number[] | undefined, param: string): Net {
  const text = `input: "x" ${shapeOf(x)} input: "r" ${shapeOf(r)} ${t ? `input: "t" ${shapeOf(t)}` : ''}
    layer { name: "dp" type: "DeformablePSROIPooling" bottom: "x" bottom: "r" ${t ? 'bottom: "t"' : ''} top: "dp" deformable_psroi_pooling_param { ${param} } }`;
  return Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });
}

describe('DeformablePSROIPooling against the fork\'s kernel (makefile/frcnn, compiled)', () => {
  const x = npy('maps'), r = npy('rois');
  for (const [name, p] of Object.entries(cases)) {
    const t = p.no_trans ? undefined : npy(`trans_${name}`);
    const feeds = { x, r, ...(t ? { t } : {}) };
    const net = () => netOf(x.dims, r.dims, t?.dims, paramText(p));

    it(`${name}: natively, to the bit; the case has bins with no sample inside, some, and all`, () => {
      const want = npy(`top_${name}`), count = npy(`count_${name}`).data, samples = Number(p.sample_per_part) ** 2;
      expect(count.some((n) => n === 0) && count.some((n) => n > 0 && n < samples) && count.some((n) => n === samples)).toBe(true);
      const out = net().forward(feeds).dp;
      expect(out.dims).toEqual(want.dims);
      expect(Array.from(out.data)).toEqual(Array.from(want.data));
    });

    it(`${name}: through ONNX Runtime at opsets ${MIN_OPSET} and ${MAX_OPSET}, within 1e-6`, async () => {
      const want = npy(`top_${name}`), n = net();
      for (const opset of [MIN_OPSET, MAX_OPSET]) {
        const onnx = (await runOnnx(n.graph, feeds, { threads: 1, opset })).get('dp')!;
        expect(relativeError(onnx, want), `opset ${opset}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('converted size-free (anySize: the maps\' height and width read at run time) through ONNX Runtime, the case without offsets', async () => {
    const n = netOf(x.dims, r.dims, undefined, paramText(cases.no_trans)); // offsets as an input would be resized too
    const onnx = (await runOnnx(n.graph, { x, r }, { threads: 1, anySize: true })).get('dp')!;
    expect(relativeError(onnx, npy('top_no_trans'))).toBeLessThanOrEqual(1e-6);
  });
});

describe('DeformablePSROIPooling: the refusals, one line naming the layer', () => {
  const base = 'spatial_scale: 0.25 output_dim: 4 group_size: 3 part_size: 3 sample_per_part: 2 trans_std: 0.1';
  const refuse = (x: number[], r: number[], t: number[] | undefined, param = base) => () => netOf(x, r, t, param);
  it('the score maps\' channels not output_dim x group_size^2', () => {
    expect(refuse([1, 35, 9, 11], [7, 5], [7, 4, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): has 35 input channels but output_dim x group_size^2 is 36");
  });
  it('ROIs not 5 wide', () => {
    expect(refuse([1, 36, 9, 11], [7, 4], [7, 4, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): the ROIs (bottom 1) must be (R, 5): [batch index, x1, y1, x2, y2] per row, got [7, 4]");
  });
  it('offsets of an odd channel count, of the wrong parts or ROI count, of classes not dividing output_dim; none at all', () => {
    const want = (got: string) => `layer 'dp' (DeformablePSROIPooling): the offsets (bottom 2) must be (7, 2 x classes, 3, 3): one row per ROI, part_size^2 (x, y) pairs per class, got ${got}`;
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 5, 3, 3])).toThrow(want('[7, 5, 3, 3]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 4, 4, 4])).toThrow(want('[7, 4, 4, 4]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [1, 4, 3, 3])).toThrow(want('[1, 4, 3, 3]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 6, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): output_dim 4 is not a multiple of the offsets' 3 classes (their 6 channels / 2)");
    expect(refuse([1, 36, 9, 11], [7, 5], undefined)).toThrow("layer 'dp' (DeformablePSROIPooling): no_trans is false but there is no offsets bottom (bottom 2)");
  });
  it('parameters: the required three, positive sizes, part_size with offsets', () => {
    const at = (param: string) => refuse([1, 36, 9, 11], [7, 5], [7, 4, 3, 3], param);
    expect(at('spatial_scale: 0.25 output_dim: 4')).toThrow("layer 'dp' (DeformablePSROIPooling): deformable_psroi_pooling_param needs spatial_scale, output_dim and group_size");
    expect(at('spatial_scale: 0.25 output_dim: 0 group_size: 3')).toThrow("layer 'dp' (DeformablePSROIPooling): output_dim and group_size must be positive, got 0 and 3");
    expect(at("spatial_scale: 0.25 output_dim: 4 group_size: 3 part_size: 3 sample_per_part: 0")).toThrow("layer 'dp' (DeformablePSROIPooling): sample_per_part must be positive, got 0");
    expect(at('spatial_scale: 0.25 output_dim: 4 group_size: 3')).toThrow("layer 'dp' (DeformablePSROIPooling): part_size must be positive when the offsets are used (no_trans false), got 0");
  });
  it('a ROI naming an image the maps lack', () => {
    const n = netOf([1, 36, 9, 11], [1, 5], undefined, `${base} no_trans: true`);
    expect(() => n.forward({ x: Tensor.zeros([1, 36, 9, 11]), r: new Tensor([1, 5], Float32Array.of(1, 0, 0, 8, 8)) }))
      .toThrow("layer 'dp' (DeformablePSROIPooling): ROI 0 names batch index 1, but the features have 1 image(s)");
  });
});
