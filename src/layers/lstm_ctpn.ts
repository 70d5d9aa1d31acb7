import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, runtimePositions } from '../onnx/context.js';
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { type Layer, type LayerType, expectCounts, expectWeight, need } from './layer.js';
import { lstmLayer } from './recurrent.js';

/** lstm_param's hidden size; the fillers and clipping_threshold (a gradient bound) do nothing at test time. */
function hiddenSize(def: LayerParameter): number {
  const H: number = paramsOf(def, 'lstm_param').num_output;
  need(def, H > 0, 'needs lstm_param { num_output: ... } (positive)');
  return H;
}

/** The BVLC LSTM that computes the fork's: x and a cont of 0 then 1s, which starts every forward from zeros. */
function bvlcDef(def: LayerParameter, H: number): LayerParameter {
  return { name: def.name, type: 'LSTM', bottom: [def.bottom![0], `${def.name}/cont`], top: def.top, recurrent_param: { num_output: H } } as LayerParameter;
}

/** The fork's blobs [W_x (4H, I), W_h (4H, H), b (4H)] in BVLC's order [W_xc, b_c, W_hc]. */
const bvlcOrder = (weights: Tensor[]): Tensor[] => (weights.length === 3 ? [weights[0], weights[2], weights[1]] : weights);

/** cont for T steps of N streams: 0 at the first step (the state before it is zero), 1 after. */
function firstStepZero(T: number, N: number): Float32Array {
  return new Float32Array(T * N).fill(1, N);
}

/**
 * firstStepZero for the T the input has at run time (ConvertOptions.anySize): min(t, 1) over the positions t, as
 * (T, 1), which the streams share.
 */
function firstStepZeroAtRunTime(c: LayerContext): string {
  const { positions } = runtimePositions(c, c.bottom(0), 0);
  const steps = c.node('Min', [positions, c.b.scalar(1)], [c.tmp('cont_steps')]);
  return c.node('Reshape', [steps, c.b.int64s(`${c.layer.name}/cont_shape`, [-1, 1])], [c.tmp('cont')]);
}

/**
 * tianzhi0549/CTPN's Lstm (lstm_layer.cpp, from Junhyuk Oh's caffe-lstm): x (T, N, ...) to h (T, N, H), gates i f o
 * g as BVLC's LSTM (W_x x_t + b + W_h h_{t-1}; c_t = f c_{t-1} + i g; h_t = o tanh(c_t)), every forward starting
 * from zeros, blobs W_x, W_h, b. That is BVLC's LSTM with the blobs reordered and a cont of 0 at the first step and
 * 1 after, which is how crema runs it (and exports it: the unrolled ONNX graph; with anySize a Scan, its cont from
 * the run's T). The fork's optional second bottom (clip, read at clip[t + n]) is refused: CTPN's deploy net has none.
 */
export const ctpnLstmLayer: LayerType = {
  type: 'Lstm',
  onnx(c: LayerContext) {
    const { layer } = c, H = hiddenSize(layer.def), [T, N] = layer.bottomShapes[0];
    const cont = c.anySize ? firstStepZeroAtRunTime(c) : c.b.floats(`${layer.name}/cont`, firstStepZero(T, N), [T, N]);
    // BVLC's converter with the fork's layer seen as BVLC's; its note on carried state does not apply (the fork has none).
    lstmLayer.onnx!({ ...c, layer: { ...layer, def: bvlcDef(layer.def, H), bottomShapes: [layer.bottomShapes[0], [T, N]], weights: bvlcOrder(layer.weights) }, bottom: (i) => (i === 0 ? c.bottom(0) : cont), note: () => {} });
  },
  create(def, weights) {
    expectCounts(def, [1, 1], [1, 1]);
    const H = hiddenSize(def);
    need(def, weights.length === 0 || weights.length === 3, () => `has ${weights.length} weight blobs but takes 3 (W_x, W_h, b)`);
    const inner = lstmLayer.create(bvlcDef(def, H), bvlcOrder(weights));
    let cont = new Tensor([0, 0], new Float32Array(0));
    const layer: Layer = {
      reshape([x]: Shape[]) {
        need(def, x.length >= 3, () => `bottom 0 must be (T timesteps, N streams, features...), at least 3 axes, got ${shapeString(x)}`);
        const [T, N] = x, I = sizeOf(x.slice(2));
        // Checked in the fork's order and names (the BVLC layer inside checks them again in its own).
        expectWeight(def, weights, 0, 'W_x (input to gates)', [4 * H, I]);
        expectWeight(def, weights, 1, 'W_h (hidden to gates)', [4 * H, H]);
        expectWeight(def, weights, 2, 'b (gate bias)', [4 * H]);
        if (cont.dims[0] !== T || cont.dims[1] !== N) cont = new Tensor([T, N], firstStepZero(T, N));
        return inner.reshape([x, cont.dims]);
      },
      forward([x], tops) {
        inner.forward([x, cont], tops);
      },
      macs: (bottoms, tops) => inner.macs?.([bottoms[0], cont.dims], tops) ?? 0,
      prepare: () => inner.prepare?.(),
    };
    return layer;
  },
};
