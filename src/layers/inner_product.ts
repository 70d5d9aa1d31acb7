import { paramsOf } from '../caffe/schema.js';
import { gemm, gemv, matrix } from '../kernels/gemm.js';
import { type PackedInnerProduct, type RowMajorInnerProduct, innerProductWasm, moveInnerProductWeights, packInnerProductWeights } from '../kernels/packed.js';
import { type WasmEngine, wasmEngine } from '../kernels/wasm.js';
import { type Tensor, sizeOf } from '../tensor.js';
import type { FusableLayer } from './convolution.js';
import { type LayerType, canonicalAxis, expectCounts, expectWeight, need } from './layer.js';
import { type LayerContext, joinedDims, onlyItemsDynamic, reshapeTo, runtimeDims } from '../onnx/context.js';
import { int } from '../onnx/builder.js';

interface InnerProductParam {
  num_output: number;
  bias_term: boolean;
  axis: number;
  transpose: boolean;
}

/**
 * Caffe's InnerProduct: flattens the bottom from `axis` on (K values per row, M rows), y = x W^T + b.
 * Weights (N, K), or (K, N) with transpose: true; V1 files' legacy (1, 1, N, K) blobs fit too.
 * One row (batch 1, most deploy nets) runs as a GEMV: the layer is then bound by reading its weights once.
 */
export const innerProductLayer: LayerType = {
  type: 'InnerProduct',
  onnx: innerProductToOnnx,
  create(def, weights): FusableLayer {
    const p = paramsOf<InnerProductParam>(def, 'inner_product_param');
    need(def, p.num_output > 0, 'needs num_output > 0');
    const N = p.num_output;
    let M = 0, K = 0;
    let w: Float32Array = new Float32Array(0), bias: Float32Array | undefined;
    let reluSlope: number | undefined;
    // On the first forward that uses the wasm kernels, the weights move into wasm memory as they are (the only
    // copy: the tensor views it), or are packed there when stored transposed (freed with the layer).
    let packed: PackedInnerProduct | RowMajorInnerProduct | undefined;
    const layer: FusableLayer = {
      fuseRelu(negativeSlope) {
        reluSlope = negativeSlope;
      },
      reshape([shape]) {
        expectCounts(def, [1, 1], [1, 1]);
        const axis = canonicalAxis(def, p.axis, shape.length);
        M = sizeOf(shape.slice(0, axis));
        K = sizeOf(shape.slice(axis));
        const want = 1 + (p.bias_term ? 1 : 0);
        need(def, weights.length === 0 || weights.length === want, () => `has ${weights.length} weight blobs but needs ${want} (${p.bias_term ? 'weights and bias' : 'weights only: bias_term is false'})`);
        const before = w;
        w = expectWeight(def, weights, 0, 'the weights', p.transpose ? [K, N] : [N, K]).data;
        if (w !== before || packed?.depth !== K) packed = undefined; // (the same tensor moved: found again, not copied)
        bias = p.bias_term ? expectWeight(def, weights, 1, 'the bias', [N]).data : undefined;
        return [[...shape.slice(0, axis), N]];
      },
      forward([bottom], [top]) {
        const x = bottom.data, y = top.data;
        const engine = wasmEngine();
        if (engine) {
          innerProductWasm(engine, ready(engine), M, x, y, reluSlope);
          return;
        }
        if (M === 1) {
          // W as an (N x K) matrix: stored (N, K) row-major, or (K, N) read transposed.
          gemv(N, K, p.transpose ? matrix(w, 0, N, true) : matrix(w, 0, K), x, 0, y, 0, bias, reluSlope);
          return;
        }
        // y (M x N) = x (M x K) times W^T (K x N).
        const Wt = p.transpose ? matrix(w, 0, N) : matrix(w, 0, K, true);
        gemm(M, N, K, matrix(x, 0, K), Wt, y, 0, N, { colBias: bias, reluSlope });
      },
      macs() {
        return M * N * K;
      },
      prepare() {
        const engine = wasmEngine();
        if (engine && K > 0 && weights.length) ready(engine);
      },
    };
    return layer;

    /** The weights in wasm memory: moved there as they are (their tensor then views them), or packed when transposed. */
    function ready(engine: WasmEngine): PackedInnerProduct | RowMajorInnerProduct {
      packed ??= p.transpose ? packInnerProductWeights(engine, layer, w, bias, N, K, true) : moveInnerProductWeights(engine, layer, weights[0], bias, N, K);
      w = weights[0].data;
      return packed;
    }
  },
};

/** Flatten at the axis, then Gemm (reshaped when the top keeps more axes). */
function innerProductToOnnx(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'inner_product_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(def, p.axis as number, x.length);
  const outputs = p.num_output as number, inputs = sizeOf(x.slice(axis));
  const shape = p.transpose ? [inputs, outputs] : [outputs, inputs];
  const w = expectWeight(def, layer.weights, 0, 'weights', shape);
  if (!c.anySize && !onlyItemsDynamic(c)) return keepingAxes(c, axis, inputs, p.transpose ? w.data : transpose(w));
  const flat = c.node('Flatten', [c.bottom(0)], [c.tmp('flat')], { axis: int(axis) });
  const gemmInputs = [flat, c.b.floats(`${layer.name}/weights`, w.data, shape)];
  if (p.bias_term) gemmInputs.push(c.b.floats(`${layer.name}/bias`, expectWeight(def, layer.weights, 1, 'bias', [outputs]).data, [outputs]));
  const top = layer.topShapes[0];
  const direct = top.length === 2;
  const y = c.node('Gemm', gemmInputs, [direct ? c.top(0) : c.tmp('gemm')], { transB: int(p.transpose ? 0 : 1) });
  if (direct) return;
  // For every size (ConvertOptions.anySize) or after a Filter the axes before `axis` from the Shape (a line reader's
  // T and N; the items a Filter kept): Gemm's rows are their product.
  if (!c.anySize && !c.dynamicAxes(0).length) return reshapeTo(c, y, top);
  const dims = joinedDims(c, 'shape', [runtimeDims(c, c.bottom(0), 0, axis), [outputs]]);
  c.node('Reshape', [y, dims], [c.top(0)]);
}

/**
 * The product over the axes from `axis` (K of them) by a MatMul of the bottom as (leading axes..., K), for a bottom
 * whose axes before `axis` are sized at run time past the items (a Filter's items a Permute moved to axis 1): Gemm's
 * rows merge them, and a Reshape of its output cannot split them back where one is 0 at run time (its 0 copies the
 * input's dim). The Reshape to (leading..., K) copies them (0s), so the top keeps them, whatever their sizes.
 */
function keepingAxes(c: LayerContext, axis: number, inputs: number, weightsKN: Float32Array): void {
  const { layer } = c, p = paramsOf(layer.def, 'inner_product_param'), outputs = p.num_output as number;
  const rows = c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/rows_shape`, [...Array<number>(axis).fill(0), inputs])], [c.tmp('rows')]);
  const weights = c.b.floats(`${layer.name}/weights`, weightsKN, [inputs, outputs]);
  if (!p.bias_term) return void c.node('MatMul', [rows, weights], [c.top(0)]);
  const bias = c.b.floats(`${layer.name}/bias`, expectWeight(layer.def, layer.weights, 1, 'bias', [outputs]).data, [outputs]);
  c.node('Add', [c.node('MatMul', [rows, weights], [c.tmp('matmul')]), bias], [c.top(0)]);
}

/** A (rows, cols) weight blob's transpose, for a MatMul of row vectors (an InnerProduct's, a recurrent layer's). */
export function transpose(blob: Tensor): Float32Array {
  const [rows, cols] = [blob.dims[0], sizeOf(blob.dims.slice(1))], out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = blob.data[r * cols + k];
  return out;
}
