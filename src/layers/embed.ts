import { int } from '../onnx/builder.js';
import { type LayerContext } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, sizeOf } from '../tensor.js';
import { copyRun, expectAtMostBlobs } from './axes.js';
import { type Layer, type LayerType, LayerError, expectCounts, expectWeight, need } from './layer.js';

/**
 * Embed: a lookup table. Each bottom value is a row index into the (input_dim, num_output) weights (stored
 * transposed from InnerProduct's), plus the bias (num_output) with bias_term. Top shape: bottom + [num_output].
 */
export const embedLayer: LayerType = {
  type: 'Embed',
  onnx: embedToOnnx,
  create(def: LayerParameter, weights: Tensor[]): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'embed_param');
    const numOutput: number = p.num_output, inputDim: number = p.input_dim, biasTerm: boolean = p.bias_term;
    need(def, numOutput > 0, 'needs embed_param { num_output } > 0');
    need(def, inputDim > 0, 'needs embed_param { input_dim } > 0');
    expectAtMostBlobs(def, biasTerm ? 2 : 1, weights.length, biasTerm ? 'weights, bias' : 'weights');
    let table: Tensor | undefined, bias: Tensor | undefined;
    return {
      reshape(bottoms: Shape[]): Shape[] {
        table = expectWeight(def, weights, 0, 'weights', [inputDim, numOutput]);
        if (biasTerm) bias = expectWeight(def, weights, 1, 'bias', [numOutput]);
        return [[...bottoms[0], numOutput]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const indices = bottoms[0].data, out = tops[0].data, rows = table!.data;
        for (let n = 0; n < indices.length; n++) {
          const index = indices[n];
          if (!(Number.isInteger(index) && index >= 0 && index < inputDim))
            throw new LayerError(def, `input value ${index} at position ${n} is not an index in [0, ${inputDim}) (input_dim)`);
          copyRun(rows, index * numOutput, out, n * numOutput, numOutput);
        }
        if (bias) addBias(out, bias.data);
      },
      macs: (_bottoms: Shape[], tops: Shape[]) => (biasTerm ? sizeOf(tops[0]) : 0),
    };
  },
};

function addBias(out: Float32Array, bias: Float32Array): void {
  const n = bias.length;
  for (let at = 0; at < out.length; at += n) for (let j = 0; j < n; j++) out[at + j] += bias[j];
}

function embedToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'embed_param');
  const numOutput = p.num_output as number, inputDim = p.input_dim as number;
  const table = expectWeight(layer.def, layer.weights, 0, 'weights', [inputDim, numOutput]);
  const indices = c.node('Cast', [c.bottom(0)], [c.tmp('indices')], { to: int(7) });
  const rows = c.node('Gather', [c.b.floats(`${layer.name}/weights`, table.data, [inputDim, numOutput]), indices], [p.bias_term ? c.tmp('rows') : c.top(0)], { axis: int(0) });
  if (!p.bias_term) return;
  const bias = expectWeight(layer.def, layer.weights, 1, 'bias', [numOutput]);
  c.node('Add', [rows, c.b.floats(`${layer.name}/bias`, bias.data, [numOutput])], [c.top(0)]);
}
