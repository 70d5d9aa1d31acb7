// `crema verify`: native vs ONNX Runtime vs a reference dump; the table, --json, exit codes, the failing blob named.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { comparePair } from '../src/verify/compare.js';
import { verifyNet } from '../src/verify/verify.js';
import { compareBlobs } from '../src/verify/blobs.js';
import { Net } from '../src/runtime/net.js';
import { compareIndices } from '../src/verify/indices.js';
import { compareDetections } from '../src/verify/detections.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';
import { cli } from './helpers/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-verify-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


const lastLine = (s: string) => s.trimEnd().split('\n').at(-1);

describe('comparePair', () => {
  const t = (...v: number[]) => new Tensor([v.length], Float32Array.from(v));
  it('measures max |a - b| against max(1, max |ref|)', () => {
    expect(comparePair(t(1, 2, 3), t(1, 2, 3), 1e-4)).toEqual({ abs: 0, rel: 0, pass: true });
    const r = comparePair(t(10, 20.5), t(10, 20), 1e-4);
    expect(r.abs).toBe(0.5);
    expect(r.rel).toBeCloseTo(0.5 / 20, 12);
    expect(r.pass).toBe(false);
    expect(comparePair(t(0.00005), t(0), 1e-4).pass).toBe(true); // small values: scale 1
  });
  it('fails on NaN and on a shape mismatch', () => {
    expect(comparePair(t(1, NaN), t(1, 2), 1e-4)).toMatchObject({ abs: Infinity, pass: false });
    expect(comparePair(t(1, 2), t(1, NaN), 1e-4).pass).toBe(false);
    expect(comparePair(t(1, 2), new Tensor([1, 2], Float32Array.of(1, 2)), 1e-4)).toMatchObject({ pass: false, mismatch: 'shape [2] vs [1, 2]' });
  });
});

describe('compareDetections', () => {
  const rows = (...r: number[][]) => new Tensor([1, 1, r.length, 7], Float32Array.from(r.flat()));
  it('a row with infinite corners (boxes decoded from huge offsets) matches the same row; another infinity or a finite corner does not', () => {
    const inf = [0, 1, 1, -182.5, -Infinity, -182.5, Infinity];
    expect(compareDetections(rows(inf, [0, 2, 0.5, 0.1, 0.1, 0.2, 0.2]), rows([0, 2, 0.5, 0.1, 0.1, 0.2, 0.2], inf), 1e-4)).toEqual({ abs: 0, rel: 0, pass: true });
    expect(compareDetections(rows([0, 1, 1, -182.5, Infinity, -182.5, Infinity]), rows(inf), 1e-4).pass).toBe(false);
    expect(compareDetections(rows([0, 1, 1, -182.5, -1e30, -182.5, Infinity]), rows(inf), 1e-4).pass).toBe(false);
  });
  it("far outside the image (MobileNet-SSD's synthetic boxes, no area, no IoU), corners within 1e-4 relative: float32's rounding there", () => {
    // ONNX Runtime's and crema's decodings of offsets ~1e8 (within 1.2e-6 relative): 4.4e-7 relative apart.
    const ours = [0, 1, 1, 3393.7915, -468.0903, 3393.7915, -468.0903], theirs = [0, 1, 1, 3393.793, -468.0929, 3393.793, -468.0929];
    expect(compareDetections(rows(ours), rows(theirs), 1e-4).pass).toBe(true);
    expect(compareDetections(rows([0, 1, 1, 3394.2, -468.0903, 3394.2, -468.0903]), rows(theirs), 1e-4).pass).toBe(false); // 1.2e-4 relative
    expect(compareDetections(rows([0, 1, 1, 0.3, 0.5, 0.3, 0.5]), rows([0, 1, 1, 0.3002, 0.5, 0.3002, 0.5]), 1e-4).pass).toBe(false); // 2e-4 inside the image
  });
});

describe('crema verify on LeNet (shipped with crema)', () => {
  const net = path.join(repo, 'models/lenet/deploy.prototxt'), weights = path.join(repo, 'models/lenet/weights.caffemodel');
  const input = path.join(repo, 'models/lenet/example-input.npy');

  it('passes native vs ONNX Runtime on a seeded random input, one table row per blob', async () => {
    const r = await cli('verify', net, weights);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^input: data random \(seed 1\)/);
    for (const blob of ['data', 'conv1', 'pool1', 'conv2', 'pool2', 'ip1', 'ip2', 'prob']) expect(r.stdout).toMatch(new RegExp(`│ ${blob} +│`));
    expect(lastLine(r.stdout)).toBe('verify: PASS: all 8 blobs within tolerance 0.0001 (native vs onnx)');
  });

  it('against a dump: passes, then fails naming the blob when one reference value is wrong (exit 1), also as JSON', async () => {
    const dump = path.join(tmp, 'lenet-dump');
    expect((await cli('run', net, weights, '--input', input, '--dump', dump)).code).toBe(0);
    const ok = await cli('verify', net, weights, '--input', input, '--reference', dump);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lastLine(ok.stdout)).toBe('verify: PASS: all 8 blobs within tolerance 0.0001 (native vs onnx, native vs reference, onnx vs reference)');
    expect(ok.stdout.split('\n')[0]).toBe(`input: data from --input; reference: ${dump}`); // the CLI's flag, not the library's options.inputs
    const ip1 = readNpy(path.join(dump, 'ip1.npy'));
    ip1.data[7] += 0.01 * Math.max(1, ...ip1.data.map(Math.abs));
    writeNpy(path.join(dump, 'ip1.npy'), ip1);
    const bad = await cli('verify', net, weights, '--input', input, '--reference', dump);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/│ ip1 .*FAIL \(native vs reference, onnx vs reference\)/);
    expect(lastLine(bad.stdout)).toBe('verify: FAIL: 1 of 8 blobs out of tolerance 0.0001: ip1');
    const json = await cli('verify', net, weights, '--input', input, '--reference', dump, '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ pass: false, failed: ['ip1'], tolerance: 1e-4, input: 'data from --input' });
    expect(report.blobs.find((b: { blob: string }) => b.blob === 'ip1').pairs.native_onnx.pass).toBe(true);
    // A looser tolerance lets it through.
    expect((await cli('verify', net, weights, '--input', input, '--reference', dump, '--tolerance', '0.05')).code).toBe(0);
  });

  it('bad input: exit 2 with one line', async () => {
    const r = await cli('verify', net, weights, '--tolerance', '-1');
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe('crema: --tolerance must be a positive number, got -1');
    fs.mkdirSync(path.join(tmp, 'empty'), { recursive: true });
    const e = await cli('verify', net, weights, '--reference', path.join(tmp, 'empty'));
    expect(e.code).toBe(2);
    expect(lastLine(e.stderr)).toMatch(/^crema: --reference .*empty: no <blob>\.npy file for any blob of the net/);
  });
});

describe.skipIf(sharedMissing())('crema verify on the trained cifar10_full against real Caffe\'s dump', () => {
  const model = () => path.join(sharedDir!, 'models/trained/cifar10_full');
  const reference = () => path.join(sharedDir!, 'reference/zoo/cifar10_full');

  it('passes, with the reference\'s own input', async () => {
    const r = await cli('verify', path.join(model(), 'deploy.prototxt'), path.join(model(), 'weights.caffemodel'), '--reference', reference());
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^input: data from the reference/);
    expect(lastLine(r.stdout)).toMatch(/^verify: PASS: all 11 blobs within tolerance 0.0001 \(native vs onnx, native vs reference, onnx vs reference\)$/);
  });

  it('fails and names the blob when a reference blob is deliberately wrong', async () => {
    const bad = path.join(tmp, 'cifar10_full-bad');
    fs.cpSync(reference(), bad, { recursive: true });
    const norm2 = readNpy(path.join(bad, 'blobs/norm2.npy'));
    norm2.data[100] = -norm2.data[100] + 1;
    writeNpy(path.join(bad, 'blobs/norm2.npy'), norm2);
    const r = await cli('verify', path.join(model(), 'deploy.prototxt'), path.join(model(), 'weights.caffemodel'), '--reference', bad);
    expect(r.code).toBe(1);
    expect(lastLine(r.stdout)).toBe('verify: FAIL: 1 of 11 blobs out of tolerance 0.0001: norm2');
  });
});

// A Pooling's second top (SegNet's pool*_mask) holds argmax indices: a near-tie flips one by any amount, so verify
// counts the differing indices and passes one only where both point at equal values (within the tolerance) in the
// pooled blob. Referee: BVLC Caffe's max pooling restated (pooling_layer.cpp: the first maximum in raster order
// wins, the mask h * width + w in the channel's plane), on an input of small integers full of exact ties.
describe('crema verify on a SegNet-like net: pooling masks compared as indices', () => {
  const dir = path.join(tmp, 'segnet'), ref = path.join(dir, 'ref'), H = 4, W = 6, C = 2;
  const data = Float32Array.from({ length: C * H * W }, (_, i) => (i * 7) % 3);
  const pool = new Float32Array(C * 6), mask = new Float32Array(C * 6);
  for (let c = 0; c < C; c++)
    for (let ph = 0; ph < 2; ph++)
      for (let pw = 0; pw < 3; pw++) {
        let best = -Infinity, at = -1;
        for (let h = 2 * ph; h < 2 * ph + 2; h++)
          for (let w = 2 * pw; w < 2 * pw + 2; w++) if (data[c * H * W + h * W + w] > best) [best, at] = [data[c * H * W + h * W + w], h * W + w];
        [pool[c * 6 + ph * 3 + pw], mask[c * 6 + ph * 3 + pw]] = [best, at];
      }
  // The first window's tied maximum other than Caffe's, and one of its values below the maximum.
  const window0 = [0, 1, W, W + 1], tied = window0.find((k) => k !== mask[0] && data[k] === pool[0])!, lower = window0.find((k) => data[k] < pool[0])!;
  const run = async (entry0: number, ...flags: string[]) => {
    writeNpy(path.join(ref, 'pool1_mask.npy'), new Tensor([1, C, 2, 3], Float32Array.from(mask, (v, i) => (i === 0 ? entry0 : v))));
    return cli('verify', path.join(dir, 'net.prototxt'), '--reference', ref, ...flags);
  };
  fs.mkdirSync(ref, { recursive: true });
  fs.writeFileSync(path.join(dir, 'net.prototxt'), `name: "segnet-like"
input: "data" input_shape { dim: 1 dim: ${C} dim: ${H} dim: ${W} }
layer { name: "pool1" type: "Pooling" bottom: "data" top: "pool1" top: "pool1_mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "up1" type: "Upsample" bottom: "pool1" bottom: "pool1_mask" top: "up1" upsample_param { scale: 2 } }`);
  writeNpy(path.join(ref, 'data.npy'), new Tensor([1, C, H, W], data));
  writeNpy(path.join(ref, 'pool1.npy'), new Tensor([1, C, 2, 3], pool));

  it("passes Caffe's own indices, and an index at the other of two tied maxima (counted), in the table and as JSON", async () => {
    expect(tied, 'the input ties in the first window').toBeDefined();
    const same = await run(mask[0]);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/│ pool1_mask +│ \[1, 2, 2, 3\] +│ +indices equal +│ +indices equal +│ +indices equal +│ +ok │/);
    expect(same.stdout).toContain('note: pooling masks (pool1_mask) compared as indices: a differing index agrees when the values both point at in the pooled blob are within the tolerance');
    const swapped = await run(tied);
    expect(lastLine(swapped.stdout)).toBe('verify: PASS: all 4 blobs within tolerance 0.0001 (native vs onnx, native vs reference, onnx vs reference)');
    expect(swapped.stdout).toMatch(/│ pool1_mask +│ \[1, 2, 2, 3\] +│ +indices equal +│ 1 of 12 indices differ, values 0\.0e\+0 \/ 0\.0e\+0 │ 1 of 12 indices differ, values 0\.0e\+0 \/ 0\.0e\+0 │ +ok │/);
    const json = JSON.parse((await run(tied, '--json')).stdout);
    expect(json.blobs.find((b: { blob: string }) => b.blob === 'pool1_mask').pairs.native_reference).toEqual({ abs: 0, rel: 0, pass: true, indices: { differing: 1, of: 12 } });
  });

  it('fails an index at a smaller value, saying how many differ and by how much the values do', async () => {
    const bad = await run(lower);
    expect(bad.code).toBe(1);
    const gap = pool[0] - data[lower];
    expect(bad.stdout).toMatch(new RegExp(`│ pool1_mask .*1 of 12 indices differ, values ${gap.toExponential(1).replace('+', '\\+')} / ${(gap / 2).toExponential(1).replace('+', '\\+')} .*FAIL \\(native vs reference, onnx vs reference\\)`));
    expect(lastLine(bad.stdout)).toBe('verify: FAIL: 1 of 4 blobs out of tolerance 0.0001: pool1_mask');
  });
});

describe('compareIndices', () => {
  const t = (values: number[]) => new Tensor([1, 1, 1, values.length], Float32Array.from(values));
  it('two indices at equal infinities are a tie; at unequal or NaN values, or outside the plane, they fail by their cause', () => {
    const bottom = t([Infinity, Infinity, -Infinity, NaN]);
    expect(compareIndices(t([0]), t([1]), bottom, 1e-4)).toMatchObject({ pass: true, abs: 0, indices: { differing: 1, of: 1 } });
    expect(compareIndices(t([0]), t([2]), bottom, 1e-4)).toMatchObject({ pass: false, mismatch: '1 of 1 indices differ, some at values not finite and unequal' });
    expect(compareIndices(t([3]), t([1]), bottom, 1e-4)).toMatchObject({ pass: false, mismatch: '1 of 1 indices differ, some at values not finite and unequal' });
    expect(compareIndices(t([0, 9]), t([1, 1]), t([1, 1, 2, 3]), 1e-4)).toMatchObject({ pass: false, mismatch: "2 of 2 indices differ, some outside the bottom's plane" });
  });
});

/** A folder under tmp holding `prototxt` as net.prototxt (and a reference's .npy files, written by the test). */
function netDir(name: string, prototxt: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'net.prototxt'), prototxt);
  return dir;
}

describe('crema verify: a failing blob whose input is too large for float32 to hold the tolerance says so (a reference written here)', () => {
  const dir = netDir('saturated', `name: "head"
input: "data" input_shape { dim: 1 dim: 4 }
layer { name: "logits" type: "Power" bottom: "data" top: "logits" power_param { scale: 1 } }
layer { name: "prob" type: "Softmax" bottom: "logits" top: "prob" }`);
  const softmax = (x: number[]) => {
    const m = Math.max(...x), e = x.map((v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b);
    return e.map((v) => v / s);
  };
  /** A reference whose logits are the input plus `offset` and whose prob is `prob` of them. */
  const verify = async (name: string, data: number[], offset: number[], prob: (logits: number[]) => number[]) => {
    const ref = path.join(dir, name), logits = data.map((v, i) => v + offset[i]);
    fs.mkdirSync(ref, { recursive: true });
    writeNpy(path.join(ref, 'data.npy'), new Tensor([1, 4], Float32Array.from(data)));
    writeNpy(path.join(ref, 'logits.npy'), new Tensor([1, 4], Float32Array.from(logits)));
    writeNpy(path.join(ref, 'prob.npy'), new Tensor([1, 4], Float32Array.from(prob(logits))));
    return cli('verify', path.join(dir, 'net.prototxt'), '--reference', ref, '--json');
  };

  it('logits of 1.2e7 that agree to 3.3e-7 relative (4 absolute): the note names the input, its magnitude, the gain and the Softmax\'s rerun on the reference\'s logits', async () => {
    const r = await verify('huge', [1.2e7, 1.2e7 + 2, 1e7, 0], [0, 4, 0, 0], softmax);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['prob']);
    expect(json.notes).toEqual(["'prob': its input 'logits' (3.3e-7 relative, 4.0e+0 absolute at values up to 1.2e+7) is within tolerance, amplified 3.5e+5x by Softmax; its layer 'prob' (Softmax), run by crema on ONNX Runtime's and the reference's own input, gives their values within 6.0e-8 relative: float32's rounding, not the layer"]);
    expect(json.blobs[2].explained).toMatchObject({ layer: 'prob', type: 'Softmax', follows: [] });
    expect(json.blobs[2].explained.rerun).toBeLessThan(1e-6);
    expect(json.blobs[2].explained.gain).toBeGreaterThan(1e5);
  });

  it('a real mismatch on inputs of normal size: no such note', async () => {
    const r = await verify('real', [1, 3, 0, 0], [0, 1e-5, 0, 0], (x) => softmax(x).map((v, i) => (i === 0 ? v + 0.01 : v)));
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['prob']);
    expect(json.notes.join('\n')).not.toContain('float32');
  });

  it('the same huge logits with a wrong softmax (one probability off by 0.01): no note excuses it, it is unexplained', async () => {
    const r = await verify('huge-wrong', [1.2e7, 1.2e7 + 2, 1e7, 0], [0, 4, 0, 0], (x) => softmax(x).map((v, i) => (i === 0 ? v + 0.01 : v)));
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.unexplained).toEqual(['prob']);
    expect(json.notes).toEqual([]);
  });
});

describe('crema verify: a blob rewritten in place right after its layer is rerun with those layers (a reference written here)', () => {
  // An SE block's gate: a layer whose top a Sigmoid rewrites in place. Here 'z' (Power, shift -1.2e7) of 'h' near
  // 1.2e7, then 's' in place: h 4 apart of 1.2e7 (3.3e-7 relative) puts the sigmoid 0.12 apart.
  const dir = netDir('inplace', `name: "gate"
input: "data" input_shape { dim: 1 dim: 4 }
layer { name: "h" type: "Power" bottom: "data" top: "h" power_param { scale: 1 } }
layer { name: "z" type: "Power" bottom: "h" top: "z" power_param { shift: -12000000 } }
layer { name: "s" type: "Sigmoid" bottom: "z" top: "z" }`);
  const data = [1.2e7, 1.2e7 + 2, 1e7, 0], h = [1.2e7, 1.2e7 + 6, 1e7, 0];
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  /** A reference whose h is 4 off at one value and whose z is the gate of that h, moved by `off` at its value 1. */
  const verify = async (name: string, off: number) => {
    const ref = path.join(dir, name);
    fs.mkdirSync(ref, { recursive: true });
    writeNpy(path.join(ref, 'data.npy'), new Tensor([1, 4], Float32Array.from(data)));
    writeNpy(path.join(ref, 'h.npy'), new Tensor([1, 4], Float32Array.from(h)));
    writeNpy(path.join(ref, 'z.npy'), new Tensor([1, 4], Float32Array.from(h.map((v, i) => sigmoid(v - 1.2e7) + (i === 1 ? off : 0)))));
    const r = await cli('verify', path.join(dir, 'net.prototxt'), '--reference', ref, '--json');
    expect(r.code).toBe(1);
    return JSON.parse(r.stdout);
  };

  it("explained through the in-place Sigmoid: the note names both layers, the input's difference and the gain", async () => {
    const json = await verify('right', 0);
    expect(json.failed).toEqual(['z']);
    expect(json.unexplained).toEqual([]);
    const z = json.blobs[2];
    expect(z.pairs.native_onnx.pass).toBe(true);
    expect(z.pairs.native_reference.abs).toBeGreaterThan(0.1);
    expect(z.explained).toMatchObject({ layer: 'z', type: 'Power', follows: [], through: ['s'] });
    expect(z.explained.rerun).toBeLessThan(1e-6);
    expect(z.explained.gain).toBeGreaterThan(1e5);
    expect(json.notes).toEqual([
      `'z': its input 'h' (3.3e-7 relative, 4.0e+0 absolute at values up to 1.2e+7) is within tolerance, amplified ${z.explained.gain.toExponential(1)}x by Power + Sigmoid; its layers 'z' (Power) and in place 's' (Sigmoid), run by crema on ONNX Runtime's and the reference's own input, give their values within ${z.explained.rerun.toExponential(1)} relative: float32's rounding, not the layers`,
    ]);
  });

  it('the same with the gate wrong by 1e-3 at one value: unexplained, no note excuses it', async () => {
    const json = await verify('wrong', 1e-3);
    expect(json.unexplained).toEqual(['z']);
    expect(json.blobs[2].explained).toBeUndefined();
    expect(json.notes.filter((n: string) => n.startsWith("'z'") && n.includes('amplified'))).toEqual([]);
  });
});

describe("crema verify: a blob out of tolerance only by its inputs says so, and by how much its layer amplifies them (real Caffe's blobs)", () => {
  // test/fixtures/amplify: logits of ~1800 within 3e-6 of Caffe's (Winograd F(4x4)), a Softmax at a near tie that
  // turns that into ~8e-4, a Flatten of it. The Winograd tile is pinned: the fixture is about its rounding.
  const fixture = path.join(repo, 'test/fixtures/amplify');
  const net = path.join(fixture, 'net.prototxt'), weights = path.join(fixture, 'weights.caffemodel');
  const verify = async (winograd: string, reference: string, ...flags: string[]) => {
    process.env.CREMA_WINOGRAD = winograd;
    try {
      return await cli('verify', net, weights, '--reference', reference, ...flags);
    } finally {
      delete process.env.CREMA_WINOGRAD;
    }
  };
  const num = '\\d\\.\\de[+-]\\d+', sides = "(ONNX Runtime's and )?the reference's";
  type Verdict = { blob: string; pairs: Record<string, { pass: boolean }>; explained?: { rerun: number; gain?: number } };
  const blobOf = (json: { blobs: Verdict[] }, name: string) => json.blobs.find((b) => b.blob === name)!;

  it('the Softmax fails against Caffe, explained: its input within tolerance, the gain, its rerun on Caffe\'s logits; the Flatten follows from it', async () => {
    const r = await verify('4', path.join(fixture, 'blobs'), '--json');
    expect(r.code).toBe(1); // the values do differ by more than the tolerance
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['prob', 'flat']);
    expect(json.unexplained).toEqual([]);
    const prob = blobOf(json, 'prob');
    expect(prob.pairs.native_reference.pass).toBe(false);
    expect(prob.explained).toMatchObject({ layer: 'prob', type: 'Softmax', follows: [] });
    expect(prob.explained!.rerun).toBeLessThan(1e-6); // crema's Softmax on Caffe's own logits
    expect(prob.explained!.gain).toBeGreaterThan(30);
    expect(blobOf(json, 'flat').explained).toEqual({ layer: 'flat', type: 'Flatten', rerun: 0, follows: ['prob'] });
    expect(json.notes).toHaveLength(2);
    expect(json.notes[0]).toMatch(new RegExp(`^'prob': its input 'logits' \\(${num} relative, ${num} absolute at values up to 1\\.8e\\+3\\) is within tolerance, amplified \\d+x by Softmax; its layer 'prob' \\(Softmax\\), run by crema on ${sides} own input, gives (their values|its value) within ${num} relative: float32's rounding, not the layer$`));
    expect(json.notes[1]).toMatch(new RegExp(`^'flat' follows from 'prob' \\(out of tolerance\\): its layer 'flat' \\(Flatten\\), run by crema on ${sides} own input, gives (their values|its value) within 0\\.0e\\+0 relative$`));
  });

  it('the table names the cause in the verdict and the summary says no layer of crema\'s differs; with im2col (CREMA_WINOGRAD=0) it passes', async () => {
    const r = await verify('4', path.join(fixture, 'blobs'));
    expect(r.stdout).toMatch(/│ prob .*FAIL \(.*native vs reference\): its input, amplified │/);
    expect(r.stdout).toMatch(/│ flat .*FAIL \(.*native vs reference\): follows prob │/);
    expect(lastLine(r.stdout)).toBe("verify: FAIL: 2 of 4 blobs out of tolerance 0.0001: prob, flat; none by crema's layers: each, run on the same inputs, agrees (see the notes)");
    const im2col = await verify('0', path.join(fixture, 'blobs'));
    expect(lastLine(im2col.stdout)).toBe('verify: PASS: all 4 blobs within tolerance 0.0001 (native vs onnx, native vs reference, onnx vs reference)');
  });

  it('a Softmax blob that is wrong (one value of Caffe\'s off by 1e-3, and its Flatten alike) fails with no excuse; the Flatten still follows from it', async () => {
    const bad = path.join(tmp, 'amplify-bad');
    fs.cpSync(path.join(fixture, 'blobs'), bad, { recursive: true });
    for (const blob of ['prob', 'flat']) {
      const t = readNpy(path.join(bad, `${blob}.npy`));
      t.data[100] += 1e-3;
      writeNpy(path.join(bad, `${blob}.npy`), t);
    }
    const r = await verify('4', bad, '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['prob', 'flat']);
    expect(json.unexplained).toEqual(['prob']);
    expect(blobOf(json, 'prob').explained).toBeUndefined();
    expect(json.notes.filter((n: string) => n.startsWith("'prob'"))).toEqual([]);
    expect(blobOf(json, 'flat').explained).toEqual({ layer: 'flat', type: 'Flatten', rerun: 0, follows: ['prob'] });
    const text = await verify('4', bad);
    expect(lastLine(text.stdout)).toBe('verify: FAIL: 2 of 4 blobs out of tolerance 0.0001: prob, flat; flat only by its inputs (see the notes)');
  });

  it("a blob crema's forward wrote otherwise than its layer computes on crema's own inputs (a fused chain's path) is not excused by the rerun's agreement with the reference", async () => {
    // im2col (CREMA_WINOGRAD=0): every blob within 6e-8 of Caffe's; then crema's prob is put off by 1e-3 at one
    // value, as a fused path that computed it wrongly would leave it. Softmax rerun on Caffe's logits still gives
    // Caffe's prob, but on crema's own logits it does not give crema's prob: that rerun does not stand for the forward.
    process.env.CREMA_WINOGRAD = '0';
    try {
      const loaded = await Net.load(net, weights);
      loaded.forward({ data: readNpy(path.join(fixture, 'blobs/data.npy')) });
      loaded.blobs.get('prob')!.data[100] += 1e-3;
      const tampered = loaded.blobs.get('prob')!.data.slice();
      const reference = new Map(['data', 'logits', 'prob', 'flat'].map((b) => [b, readNpy(path.join(fixture, 'blobs', `${b}.npy`))]));
      const compared = compareBlobs(loaded, reference, reference, 1e-4);
      expect(compared.failed).toEqual(['prob']);
      expect(compared.unexplained).toEqual(['prob']);
      expect(compared.blobs.find((b) => b.blob === 'prob')!.explained).toBeUndefined();
      expect(compared.notes.filter((n) => n.startsWith("'prob'"))).toEqual([]);
      expect(loaded.blobs.get('prob')!.data).toEqual(tampered); // the reruns put it back as it was
    } finally {
      delete process.env.CREMA_WINOGRAD;
    }
  });

  it("the reruns leave the net's blobs as its forward left them", async () => {
    process.env.CREMA_WINOGRAD = '4';
    try {
      const loaded = await Net.load(net, weights);
      const report = await verifyNet(loaded, { reference: path.join(fixture, 'blobs') });
      expect(report.failed).toEqual(['prob', 'flat']); // both layers were rerun on both other sides' inputs
      const fresh = await Net.load(net, weights);
      fresh.forward({ data: readNpy(path.join(fixture, 'blobs/data.npy')) });
      for (const [name, t] of fresh.blobs) expect(loaded.blobs.get(name)!.data, name).toEqual(t.data);
    } finally {
      delete process.env.CREMA_WINOGRAD;
    }
  });
});

describe('crema verify on recurrent layers that carry their state from forward to forward (test/fixtures/layers/recurrent)', () => {
  // LSTM and RNN without expose_hidden start each forward from the state the last one ended in (Caffe's, which the
  // fixture's again/ checks): a rerun of one starts from another state than the forward did, so it cannot stand for
  // it, and it moves the state the net's next forward starts from. verify leaves such a layer unexplained and unrun,
  // and runs its own forward from a fresh net's state (ONNX Runtime's), putting the net's back after (fromFreshState).
  // The continuation markers all 1 here (the fixture's reset streams, forgetting the state, would hide a moved one).
  const fixture = path.join(repo, 'test/fixtures/layers/recurrent');
  const load = () => Net.load(path.join(fixture, 'net.prototxt'), path.join(fixture, 'weights.caffemodel'));
  it("a wrong 'lstm' blob stays unexplained, and the net's next forwards are its first and second, as a net never verified", async () => {
    const data = readNpy(path.join(fixture, 'input.npy'));
    data.data.fill(1, 54); // cont_f
    const fresh = await load();
    const firsts = Object.entries(fresh.forward({ data })).map(([b, t]) => [b, t.data.slice()] as const);
    const first = new Tensor([...fresh.blobs.get('lstm')!.dims], fresh.blobs.get('lstm')!.data.slice());
    const ref = path.join(tmp, 'recurrent-ref');
    fs.mkdirSync(ref, { recursive: true });
    for (const blob of ['data', 'x', 'cont', 'lstm']) {
      const t = new Tensor([...fresh.blobs.get(blob)!.dims], fresh.blobs.get(blob)!.data.slice());
      if (blob === 'lstm') t.data[3] += 1e-2;
      writeNpy(path.join(ref, `${blob}.npy`), t);
    }
    const net = await load();
    const report = await verifyNet(net, { inputs: { data }, reference: ref });
    expect(report.failed).toEqual(['lstm']);
    expect(report.unexplained).toEqual(['lstm']);
    const again = net.forward({ data });
    for (const [blob, values] of firsts) expect(again[blob].data, blob).toEqual(values);
    const second = fresh.forward({ data }), got = net.forward({ data });
    expect(comparePair(second.lstm, first, 1e-4).pass).toBe(false); // the state does carry
    for (const blob of ['lstm', 'lstm_s', 'rnn']) expect(got[blob].data, blob).toEqual(second[blob].data);
  });
});

/**
 * A DetectionOutput over four disjoint priors, every one scored 1.0 in each of `batch` images, keep_top_k 2: which
 * two are kept is the sort's order (the fork's std::sort leaves it unspecified). Its inputs written as a reference.
 */
function tiedBoxes(name: string, batch: number) {
  const dir = netDir(name, `name: "${name}"
input: "loc" input_shape { dim: ${batch} dim: 16 }
input: "conf" input_shape { dim: ${batch} dim: 8 }
input: "prior" input_shape { dim: 1 dim: 2 dim: 16 }
layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det"
  detection_output_param { num_classes: 2 share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 4 }
    code_type: CENTER_SIZE keep_top_k: 2 confidence_threshold: 0.01 } }`);
  const box = (k: number) => [0.2 * k, 0.1, 0.2 * k + 0.1, 0.2];
  const write = (blob: string, dims: number[], values: number[]) => writeNpy(path.join(dir, `${blob}.npy`), new Tensor(dims, Float32Array.from(values)));
  write('loc', [batch, 16], new Array(16 * batch).fill(0));
  write('conf', [batch, 8], new Array(4 * batch).fill([0, 1]).flat());
  write('prior', [1, 2, 16], [...[0, 1, 2, 3].flatMap(box), ...new Array(4).fill([0.1, 0.1, 0.2, 0.2]).flat()]);
  return { dir, box, write };
}

describe('crema verify: a DetectionOutput cut at keep_top_k among tied scores says so', () => {
  // crema keeps the first two; a reference that kept the last two differs only by that.
  const { dir, box, write } = tiedBoxes('tie', 1);

  it('crema keeps the first two of four boxes tied at 1.0, the reference the last two: a note on the tie, no excuse of the layer', async () => {
    write('det', [1, 1, 2, 7], [2, 3].flatMap((k) => [0, 1, 1, ...box(k)]));
    const r = await cli('verify', path.join(dir, 'net.prototxt'), '--reference', dir, '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['det']);
    expect(json.unexplained).toEqual(['det']);
    expect(json.notes).toContain("'det': crema and the reference each keep keep_top_k = 2 rows, 2 and 2 of them at the lowest kept score 1: which of the boxes tied there are kept is the sort's order, which the SSD fork's std::sort leaves unspecified (saturated or synthetic weights?)");
  });

  it('a reference with one box at a lower score: no tie, no such note', async () => {
    write('det', [1, 1, 2, 7], [[0, 1, 1, ...box(2)], [0, 1, 0.5, ...box(3)]].flat());
    const r = await cli('verify', path.join(dir, 'net.prototxt'), '--reference', dir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).notes.join('\n')).not.toContain('tied');
  });
});

describe('crema verify: the keep_top_k tie note at batch 2, per image (keep_top_k cuts each image alone)', () => {
  // The same four tied boxes in both images; the reference keeps crema's two in image 0 and the other two in image 1.
  const { dir, box, write } = tiedBoxes('tie2', 2);

  it('image 1 differs among its tied boxes: a note on image 1 (keep_top_k rows of its own), none on image 0, native vs ONNX Runtime equal', async () => {
    write('det', [1, 1, 4, 7], [[0, 0], [0, 1], [1, 2], [1, 3]].flatMap(([n, k]) => [n, 1, 1, ...box(k)]));
    const r = await cli('verify', path.join(dir, 'net.prototxt'), '--reference', dir, '--json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.failed).toEqual(['det']);
    expect(json.blobs.find((b: { blob: string }) => b.blob === 'det').pairs.native_onnx.pass).toBe(true);
    const ties = json.notes.filter((n: string) => n.includes('keep_top_k'));
    expect(ties).toEqual(["'det' image 1: crema and the reference each keep keep_top_k = 2 rows, 2 and 2 of them at the lowest kept score 1: which of the boxes tied there are kept is the sort's order, which the SSD fork's std::sort leaves unspecified (saturated or synthetic weights?)"]);
  });
});
