// The elementwise layers (ReLU, PReLU, ELU, Sigmoid, TanH, AbsVal, Power, Exp, Log, BNLL, Threshold, Clip, Swish,
// Dropout) against real Caffe, plus their edge semantics and errors.
// Fixtures test/fixtures/layers/{activations_more,swish_clip} were computed by BVLC Caffe (shared/tools/caffe-ref
// forward, weights from hashweights.mjs --salt act / sw, input from `hashweights.mjs input 17 3 ... 2 3 4 5`).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LayerType } from '../src/layers/layer.js';
import { absValLayer } from '../src/layers/absval.js';
import { bnllLayer } from '../src/layers/bnll.js';
import { clipLayer } from '../src/layers/clip.js';
import { dropoutLayer } from '../src/layers/dropout.js';
import { eluLayer } from '../src/layers/elu.js';
import { expLayer } from '../src/layers/exp.js';
import { logLayer } from '../src/layers/log.js';
import { powerLayer } from '../src/layers/power.js';
import { preluLayer } from '../src/layers/prelu.js';
import { reluLayer } from '../src/layers/relu.js';
import { sigmoidLayer } from '../src/layers/sigmoid.js';
import { softmaxLayer } from '../src/layers/softmax.js';
import { swishLayer } from '../src/layers/swish.js';
import { tanhLayer } from '../src/layers/tanh.js';
import { thresholdLayer } from '../src/layers/threshold.js';
import { Tensor } from '../src/tensor.js';
import { copyOf, layerDef, runLayer, runLayerByLayer } from './helpers/compute.js';
import { type ReferenceCase, TOLERANCE, referenceCases } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

const mine: LayerType[] = [
  absValLayer, bnllLayer, clipLayer, dropoutLayer, eluLayer, expLayer, logLayer, powerLayer, preluLayer, reluLayer,
  sigmoidLayer, softmaxLayer, swishLayer, tanhLayer, thresholdLayer,
];
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers');

function checkAgainstCaffe(c: ReferenceCase, expected: number) {
  it(`${c.name}: every blob these layers compute matches Caffe (1e-4 max(1, max|caffe|))`, async () => {
    const checked = (await runLayerByLayer(c.dir, new Set(mine.map((t) => t.type)))).filter((r) => r.computed);
    expect(checked.length).toBe(expected);
    for (const r of checked) expect(r.error, `blob ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
  });
}

describe.skipIf(sharedMissing())('against Caffe: ../shared/reference/sweep', () => {
  const cases = new Map(referenceCases('sweep').map((c) => [c.name, c]));
  // sg, th, pw, ab, el, pr (Concat's 'out' is not ours); ReLU with negative_slope 0.1.
  // (skipIf still collects this body when ../shared is missing: there are no cases then.)
  if (cases.size) {
    checkAgainstCaffe(cases.get('activations')!, 6);
    checkAgainstCaffe(cases.get('relu_leaky')!, 1);
  }
});

describe('against Caffe: test/fixtures/layers', () => {
  const cases = new Map(referenceCases('fixtures').map((c) => [c.name, c]));
  it('has the fixtures', () => expect(cases.has('activations_more') && cases.has('swish_clip')).toBe(true));
  // Exp (base 2 / e), AbsVal, Log (base 10 / e), BNLL, Threshold, Power (general / constant), shared PReLU, ELU,
  // Softmax axis -1, Dropout, and a leaky ReLU in place on Dropout's output.
  if (cases.has('activations_more')) checkAgainstCaffe(cases.get('activations_more')!, 13);
  if (cases.has('swish_clip')) checkAgainstCaffe(cases.get('swish_clip')!, 3);
  it('fixtures live where the reference harness finds them', () => expect(cases.get('swish_clip')?.dir).toBe(path.join(fixtures, 'swish_clip')));
});

const edgeValues = Float32Array.from([-1e30, -200, -30, -3, -1, -0.5, -1e-7, 0, 1e-7, 0.2, 0.5, 1, 3, 30, 200, 1e30]);

/** Runs a unary layer on `edgeValues` and compares with `f` computed in float64 (then rounded to float32). */
function expectElementwise(type: LayerType, fields: Record<string, unknown>, f: (x: number) => number) {
  const x = new Tensor([2, 8], edgeValues);
  const [y] = runLayer(layerDef(type.type, fields), [], [x]);
  expect(Array.from(y.data)).toEqual(Array.from(edgeValues, (v) => Math.fround(f(v))).map((v) => expect.closeTo(v, 5)));
}

describe('edge semantics (formulas of Caffe\'s layer sources)', () => {
  it('ReLU: max(x, 0) + slope min(x, 0)', () => expectElementwise(reluLayer, { relu_param: { negative_slope: 0.25 } }, (v) => Math.max(v, 0) + 0.25 * Math.min(v, 0)));
  it('ELU: alpha (e^x - 1) below 0', () => expectElementwise(eluLayer, { elu_param: { alpha: 0.5 } }, (v) => (v > 0 ? v : 0.5 * (Math.exp(v) - 1))));
  it('Sigmoid saturates to exactly 0 and 1 without NaN', () => expectElementwise(sigmoidLayer, {}, (v) => 0.5 * Math.tanh(0.5 * v) + 0.5));
  it('TanH', () => expectElementwise(tanhLayer, {}, Math.tanh));
  it('AbsVal', () => expectElementwise(absValLayer, {}, Math.abs));
  it('BNLL: log(1 + e^x) never overflows', () => {
    expectElementwise(bnllLayer, {}, (v) => (v > 0 ? v + Math.log(1 + Math.exp(-v)) : Math.log(1 + Math.exp(v))));
    const [y] = runLayer(layerDef('BNLL'), [], [new Tensor([2], Float32Array.from([1e30, 100]))]);
    expect(Array.from(y.data)).toEqual([1e30 === Math.fround(1e30) ? 1e30 : Math.fround(1e30), 100]);
  });
  it('Threshold: strictly greater is 1', () => expectElementwise(thresholdLayer, { threshold_param: { threshold: 0.2 } }, (v) => (v > Math.fround(0.2) ? 1 : 0)));
  it('Clip: max(min, min(x, max))', () => expectElementwise(clipLayer, { clip_param: { min: -0.5, max: 1 } }, (v) => Math.max(-0.5, Math.min(v, 1))));
  it('Clip turns NaN into min, as std::max(min, std::min(x, max)) does', () => {
    const [y] = runLayer(layerDef('Clip', { clip_param: { min: -2, max: 3 } }), [], [new Tensor([1], Float32Array.from([NaN]))]);
    expect(y.data[0]).toBe(-2);
  });
  it('Swish: x sigmoid(beta x)', () => expectElementwise(swishLayer, { swish_param: { beta: 2 } }, (v) => (v === -1e30 ? -0 : v / (1 + Math.exp(-2 * v)))));
  it('Power: (shift + scale x)^power', () => {
    expectElementwise(powerLayer, { power_param: { power: 2, scale: 0.5, shift: 1 } }, (v) => (1 + 0.5 * v) ** 2);
    expectElementwise(powerLayer, { power_param: { power: 1, scale: -2, shift: 0.5 } }, (v) => 0.5 - 2 * v);
    expectElementwise(powerLayer, { power_param: { power: 3, scale: 1, shift: 0 } }, (v) => v ** 3);
  });
  it('Power: scale 0 or power 0 gives a constant (shift^power, or 1), as Caffe', () => {
    expectElementwise(powerLayer, { power_param: { power: 3, scale: 0, shift: 2 } }, () => 8);
    expectElementwise(powerLayer, { power_param: { power: 0, scale: 5, shift: -2 } }, () => 1);
  });
  it('Exp: base^(shift + scale x); base -1 is e', () => {
    expectElementwise(expLayer, { exp_param: { base: 2, scale: 0.1, shift: 1 } }, (v) => 2 ** (1 + 0.1 * v));
    expectElementwise(expLayer, { exp_param: { scale: 0.01 } }, (v) => Math.exp(0.01 * v));
  });
  it('Log: log_base(shift + scale x); base -1 is e', () => {
    const x = new Tensor([4], Float32Array.from([0.5, 1, 10, 1000]));
    const [y] = runLayer(layerDef('Log', { log_param: { base: 10, scale: 2, shift: 1 } }), [], [x]);
    expect(Array.from(y.data)).toEqual([2, 3, 21, 2001].map((v) => expect.closeTo(Math.log10(v), 6)));
    const [ln] = runLayer(layerDef('Log'), [], [x]);
    expect(Array.from(ln.data)).toEqual([0.5, 1, 10, 1000].map((v) => expect.closeTo(Math.log(v), 6)));
  });
  it('Dropout is the identity (TEST phase), in place or not', () => {
    const x = new Tensor([2, 8], edgeValues.slice());
    const [y] = runLayer(layerDef('Dropout', { dropout_param: { dropout_ratio: 0.5 } }), [], [x]);
    expect(y.data).toEqual(edgeValues);
    const [z] = runLayer(layerDef('Dropout', { top: ['x'] }), [], [x]);
    expect(z).toBe(x);
    expect(z.data).toEqual(edgeValues);
  });
});

describe('PReLU', () => {
  const x = new Tensor([2, 3, 2], Float32Array.from([-1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12]));
  it('one slope per channel (axis 1), for every image', () => {
    const [y] = runLayer(layerDef('PReLU', { name: 'pr' }), [new Tensor([3], Float32Array.from([0.5, 0, -1]))], [x]);
    expect(Array.from(y.data)).toEqual([-0.5, 2, 0, 4, 5, 6, -3.5, 8, 0, 10, 11, 12]); // +0 at slope 0: Caffe's max(x, 0) + a min(x, 0)
  });
  it('channel_shared: one slope (a 0-D blob in Caffe)', () => {
    const [y] = runLayer(layerDef('PReLU', { prelu_param: { channel_shared: true } }), [new Tensor([], Float32Array.from([0.5]))], [x]);
    expect(Array.from(y.data)).toEqual(Array.from(x.data, (v) => (v > 0 ? v : 0.5 * v)));
  });
  it('without weights: Caffe\'s initial slope 0.25 (or a constant filler\'s value)', () => {
    const [y] = runLayer(layerDef('PReLU'), [], [x]);
    expect(y.data[0]).toBe(-0.25);
    const [z] = runLayer(layerDef('PReLU', { prelu_param: { filler: { type: 'constant', value: 0.5 } } }), [], [x]);
    expect(z.data[0]).toBe(-0.5);
  });
  it('refuses slopes of the wrong shape', () => {
    const layer = preluLayer.create(layerDef('PReLU', { name: 'pr' }), [new Tensor([4], new Float32Array(4))]);
    expect(() => layer.reshape([[2, 3, 2]])).toThrow("layer 'pr' (PReLU): the negative slopes (blob 0) has shape [4] but the layer needs [3]");
    const shared = preluLayer.create(layerDef('PReLU', { name: 'pr', prelu_param: { channel_shared: true } }), [new Tensor([3], new Float32Array(3))]);
    expect(() => shared.reshape([[2, 3, 2]])).toThrow("layer 'pr' (PReLU): the negative slopes (blob 0) has shape [3] but the layer needs [] (one value)");
  });
  it('refuses a 1-D bottom', () => {
    const layer = preluLayer.create(layerDef('PReLU', { name: 'pr' }), []);
    expect(() => layer.reshape([[5]])).toThrow("layer 'pr' (PReLU): needs a bottom with at least 2 axes (num, channels, ...), got [5]");
  });
});

describe('in place', () => {
  const cases: [LayerType, Record<string, unknown>][] = [
    [reluLayer, { relu_param: { negative_slope: 0.1 } }], [eluLayer, {}], [sigmoidLayer, {}], [tanhLayer, {}],
    [powerLayer, { power_param: { power: 2, shift: 1 } }], [expLayer, {}], [logLayer, { log_param: { shift: 1e31 } }], [bnllLayer, {}],
    [thresholdLayer, {}], [clipLayer, { clip_param: { min: -1, max: 1 } }], [swishLayer, {}], [dropoutLayer, {}], [preluLayer, {}],
  ];
  for (const [type, fields] of cases) {
    it(`${type.type} gives the same values in place (top === bottom)`, () => {
      const x = new Tensor([2, 8], edgeValues.slice());
      const def = layerDef(type.type, fields);
      const [separate] = runLayer(def, [], [copyOf(x)]);
      expect(type.create(def, []).inPlace).toBe(true);
      const [same] = runLayer({ ...def, top: def.bottom }, [], [x]);
      expect(same.data).toEqual(separate.data);
    });
  }
});

describe('refusals (as Caffe refuses)', () => {
  it('AbsVal in place', () => {
    expect(() => absValLayer.create(layerDef('AbsVal', { name: 'a', bottom: ['x'], top: ['x'] }), [])).toThrow(
      "layer 'a' (AbsVal): does not allow in-place computation (top 'x' is also a bottom)",
    );
  });
  it('Exp / Log with a base that is neither positive nor -1', () => {
    expect(() => expLayer.create(layerDef('Exp', { name: 'e', exp_param: { base: -2 } }), [])).toThrow(
      "layer 'e' (Exp): base must be strictly positive (or -1 for e), got -2",
    );
    expect(() => logLayer.create(layerDef('Log', { name: 'l', log_param: { base: 0 } }), [])).toThrow(
      "layer 'l' (Log): base must be strictly positive (or -1 for e), got 0",
    );
    expect(() => logLayer.create(layerDef('Log', { name: 'l', log_param: { base: 1 } }), [])).toThrow(
      "layer 'l' (Log): base 1 has no logarithm (1 / log(base) is infinite)",
    );
  });
  it('Clip without min or max (both are required in caffe.proto)', () => {
    expect(() => clipLayer.create(layerDef('Clip', { name: 'c', clip_param: { min: 0 } }), [])).toThrow("layer 'c' (Clip): clip_param needs both min and max");
    expect(() => clipLayer.create(layerDef('Clip', { name: 'c' }), [])).toThrow('clip_param needs both min and max');
  });
  it('two bottoms or no top', () => {
    const twoBottoms = reluLayer.create(layerDef('ReLU', { name: 'r', bottom: ['a', 'b'] }), []);
    expect(() => twoBottoms.reshape([[1], [1]])).toThrow("layer 'r' (ReLU): takes 1 bottom(s), got 2");
    const noTop = sigmoidLayer.create(layerDef('Sigmoid', { name: 's', top: [] }), []);
    expect(() => noTop.reshape([[1]])).toThrow("layer 's' (Sigmoid): gives 1 top(s), got 0");
  });
});
