// SpatialTransformer (src/layers/spatial_transformer.ts; daerduoCarey/SpatialTransformerLayer, st_param) against the
// fork's own forward: st_layer.cu's kernels compiled for the host and run by test/fixtures/stn/make-fixtures.sh on 3
// cases (all six theta entries from the bottom: a turn, scale and shift, and identity; CUB_googLeNet_ST's fixed
// scale 0.5 with the shift from the bottom, another output size; fixed entries between free ones), each sampling off
// the image in part. Natively to the bit (the kernel's float32 steps kept); through ONNX Runtime's GridSample within
// 1e-6 of the largest output (its pixel coordinates computed another way). Then the refusals, one line each; and the
// fork's MNIST ST_CNN (cut to an input), natively = ONNX with hashweights.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { declaredWeights } from '../src/layers/layer.js';
import { MAX_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { TOLERANCE, relativeDifference, relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/stn');
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as Record<string, { param: Record<string, number> }>;
const npy = (name: string) => readNpy(path.join(fixture, `${name}.npy`));
/** loc_reg's hashweights scaled so that theta moves 0.05-0.5 off identity, as a trained localisation net's do. */
const LOC_SCALE = 0.05;

const shapeOf = (dims: readonly number[]) => `input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} }`;
const paramText = (p: Record<string, number | string>) => Object.entries(p).map(([k, v]) => `${k}: ${typeof v === 'string' ? `"${v}"` : v}`).join(' ');

/** A net of inputs u, theta and one SpatialTransformer layer "st". */
function netOf(u: readonly number[], theta: readonly number[], param: string): Net {
  const text = `input: "u" ${shapeOf(u)} input: "theta" ${shapeOf(theta)}
    layer { name: "st" type: "SpatialTransformer" bottom: "u" bottom: "theta" top: "st" st_param { ${param} } }`;
  return Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });
}

describe("SpatialTransformer against the fork's kernels (daerduoCarey/SpatialTransformerLayer, compiled)", () => {
  for (const [name, { param }] of Object.entries(cases)) {
    const u = npy(`u_${name}`), theta = npy(`theta_${name}`), want = npy(`v_${name}`);
    const net = () => netOf(u.dims, theta.dims, paramText(param));

    it(`${name}: natively, to the bit; some outputs sample off the image (0), most inside`, () => {
      const zeros = want.data.filter((v) => v === 0).length;
      expect(zeros > 0 && zeros < want.data.length / 2).toBe(true);
      const out = net().forward({ u, theta }).st;
      expect(out.dims).toEqual(want.dims);
      expect(Array.from(out.data)).toEqual(Array.from(want.data));
    });

    it(`${name}: through ONNX Runtime at opsets 16 and ${MAX_OPSET}, within 1e-6`, async () => {
      const n = net();
      for (const opset of [16, MAX_OPSET]) {
        const onnx = (await runOnnx(n.graph, { u, theta }, { threads: 1, opset })).get('st')!;
        expect(relativeError(onnx, want), `opset ${opset}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('identity theta reads the image itself (the grid at s / H * 2 - 1, the input row (p + 1) / 2 * H), within 4 ulp of the largest value (px + 1, then / 2 x H, rounded in float)', () => {
    const u = npy('u_free'), out = npy('v_free');
    const plane = u.data.length / 2;
    expect(relativeDifference(out.data.subarray(plane), u.data.subarray(plane))).toBeLessThanOrEqual(2 ** -21);
  });
});

it("CUB_googLeNet_ST's st_param (to_compute_dU read and unused, the output size its own) shapes the top (N, C, output_H, output_W)", () => {
  const net = netOf([2, 3, 7, 9], [2, 2], 'to_compute_dU: false output_H: 4 output_W: 5 theta_1_1: 0.5 theta_1_2: 0 theta_2_1: 0 theta_2_2: 0.5');
  expect(net.graph.layers.find((l) => l.name === 'st')!.topShapes[0]).toEqual([2, 3, 4, 5]);
});

describe('SpatialTransformer: the refusals, one line naming the layer', () => {
  const refuse = (theta: number[], param: string) => () => netOf([2, 3, 7, 9], theta, param);
  it("theta's entries not 6 less the fixed ones", () => {
    expect(refuse([2, 6], 'theta_1_1: 0.5')).toThrow("layer 'st' (SpatialTransformer): theta (bottom 1) must give the 5 entries st_param does not fix (6 - 1) per image, got 6 ([2, 6])");
    expect(refuse([2, 2, 1, 1], '')).toThrow("layer 'st' (SpatialTransformer): theta (bottom 1) must give the 6 entries st_param does not fix (6 - 0) per image, got 2 ([2, 2, 1, 1])");
  });
  it("theta's num not the image's", () => {
    expect(refuse([3, 6], '')).toThrow("layer 'st' (SpatialTransformer): theta's num 3 is not the image's 2");
  });
  it('a transform_type or sampler_type the fork lacks; an output size not positive', () => {
    expect(refuse([2, 6], 'transform_type: "projective"')).toThrow(`layer 'st' (SpatialTransformer): transform_type "projective" is not one the fork has: only "affine"`);
    expect(refuse([2, 6], 'sampler_type: "nearest"')).toThrow(`layer 'st' (SpatialTransformer): sampler_type "nearest" is not one the fork has: only "bilinear"`);
    expect(refuse([2, 6], 'output_H: 0')).toThrow("layer 'st' (SpatialTransformer): output_H must be positive, got 0");
  });
  it('ONNX below opset 16 (no GridSample)', async () => {
    await expect(runOnnx(netOf([2, 3, 7, 9], [2, 6], '').graph, { u: Tensor.zeros([2, 3, 7, 9]), theta: Tensor.zeros([2, 6]) }, { threads: 1, opset: 15 }))
      .rejects.toThrow("layer 'st' (SpatialTransformer): SpatialTransformer needs GridSample (opset 16), converting at opset 15");
  });
});

describe("the fork's MNIST ST_CNN (examples/mnist_tests/ST_CNN, cut to an input of 2 images)", () => {
  it('natively as in ONNX Runtime: the transformed images and the class scores (hashweights; loc_reg near the fork\'s identity bias_init)', async () => {
    const parsed = (await loadNet(path.join(fixture, 'st-cnn.prototxt'))).net, shaped = Net.fromNetParameter(parsed);
    const layers = shaped.graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length);
    const spec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stn-')), 'spec.json');
    fs.writeFileSync(spec, JSON.stringify({ name: 'st-cnn', layers }));
    const weights = new Map(hashWeightBlobs(spec, 'stn').map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
    // loc_reg as the fork trains it from: its bias bias_init.txt's identity (1 0 0 0 1 0), its weights (zero there)
    // small, so that each image's theta turns, scales and shifts a little
    const [w] = weights.get('loc_reg')!;
    weights.set('loc_reg', [new Tensor(w.dims, w.data.map((v) => v * LOC_SCALE)), new Tensor([6], Float32Array.of(1, 0, 0, 0, 1, 0))]);
    const net = Net.fromNetParameter(parsed, weights);
    const data = new Tensor([2, 1, 28, 28], hashInputData(48, 1, [2, 1, 28, 28]).map(Math.abs));
    net.forward({ data });
    const theta = net.blobs.get('theta')!.data, identity = [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0];
    const moved = Math.max(...theta.map((v, i) => Math.abs(v - identity[i])));
    expect(moved, 'theta off identity').toBeGreaterThan(0.05);
    expect(moved).toBeLessThan(0.5);
    const outputs = ['theta', 'st_output', 'class'];
    const onnx = await runOnnx(net.graph, { data }, { threads: 1, outputs });
    for (const blob of outputs)
      expect(relativeDifference(onnx.get(blob)!.data, net.blobs.get(blob)!.data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  });
});
