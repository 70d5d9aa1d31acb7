import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, sameShape, shapeString, sizeOf } from '../tensor.js';
import { eltwiseSumWasm } from '../kernels/eltwise.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';
import { type LayerContext, withScalar } from '../onnx/context.js';

type EltwiseOp = 'PROD' | 'SUM' | 'MAX';

/** Caffe's -FLT_MAX, the value MAX starts its top from. */
const LOWEST_FLOAT = -3.4028234663852886e38;

/**
 * Eltwise: elementwise PROD, SUM (with one optional `coeff` per bottom) or MAX of bottoms of identical shape.
 * In place (top = one of the bottoms) it does what Caffe does: Caffe writes the top before reading every bottom,
 * so the aliased bottom is read as the running result (SUM in place on bottom 0 drops that input).
 */
export const eltwiseLayer: LayerType = {
  type: 'Eltwise',
  onnx: eltwiseToOnnx,
  create(def: LayerParameter, _weights, net = {}): Layer {
    // BVLC's Eltwise needs two bottoms; FlowNet 2.0's Caffe (the flownet dialect) takes one (its input scaling).
    expectCounts(def, [net.dialect === 'flownet' ? 1 : 2, Infinity], [1, 1]);
    const p = paramsOf(def, 'eltwise_param');
    const op = p.operation as EltwiseOp;
    const bottomNames = def.bottom ?? [];
    const given: number[] = p.coeff ?? [];
    need(def, given.length === 0 || given.length === bottomNames.length, () =>
      `takes one coeff per bottom: ${given.length} coeff(s) for ${bottomNames.length} bottoms`);
    need(def, !(op === 'PROD' && given.length > 0), 'takes coeff only for operation SUM');
    need(def, op === 'PROD' || op === 'SUM' || op === 'MAX', () => `unknown operation ${String(op)}`);
    need(def, bottomNames.length > 1 || op === 'SUM', () => `${op} of one bottom: the fork reads a second (only SUM takes one)`);
    const coeffs = Float32Array.from(bottomNames, (_, i) => given[i] ?? 1);
    // Caffe's axpy (OpenBLAS) returns at once for a coefficient 0: that bottom is skipped, so its Infinity or NaN
    // never reaches the top (0 * Infinity would be NaN). Only the bottoms with a coefficient take part.
    const live = [...coeffs.keys()].filter((i) => coeffs[i] !== 0);
    const liveCoeffs = Float32Array.from(live, (i) => coeffs[i]);
    return {
      inPlace: true,
      reshape(bottoms: Shape[]): Shape[] {
        bottoms.forEach((b, i) =>
          need(def, sameShape(b, bottoms[0]), () =>
            `bottom[0] '${bottomNames[0]}' has shape ${shapeString(bottoms[0])} but bottom[${i}] '${bottomNames[i]}' has ${shapeString(b)}: ` +
            'Eltwise needs identical shapes'),
        );
        return [[...bottoms[0]]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const out = tops[0].data;
        const inPlace = bottoms.some((b) => b.data === out);
        if (op === 'PROD') product(bottoms, out);
        else if (op === 'SUM' && !inPlace) sum(live.map((i) => bottoms[i]), liveCoeffs, out);
        else if (op === 'SUM') {
          out.fill(0); // Caffe's caffe_set then one axpy per bottom: an aliased bottom adds coeff * the running sum
          accumulate(bottoms, coeffs, out, 0);
        } else {
          if (inPlace) out.fill(LOWEST_FLOAT); // Caffe fills first: an aliased bottom 0 or 1 reads -FLT_MAX
          maximum(bottoms, out);
        }
      },
      macs: (bottoms: Shape[]) => sizeOf(bottoms[0]) * (bottoms.length - 1),
    };
  },
};

/** Not in place: the wasm kernel over resident blobs (split over the threads), else these loops. */
function sum(bottoms: Tensor[], coeffs: Float32Array, out: Float32Array): void {
  if (bottoms.length === 0) return void out.fill(0); // every coefficient 0: Caffe's zero fill alone
  if (eltwiseSumWasm(bottoms.map((b) => b.data), coeffs, out, undefined)) return;
  const first = bottoms[0].data, c0 = coeffs[0];
  // + 0: Caffe sums from +0 (caffe_set(0), then axpy), so -0 + -0 is +0 (the product, exact in double, keeps the
  // sign of a float underflow, as the fused multiply-add of Caffe's OpenBLAS axpy).
  for (let i = 0; i < out.length; i++) out[i] = c0 * first[i] + 0;
  accumulate(bottoms, coeffs, out, 1);
}

/**
 * out += coeff_b * bottom_b for b >= from, in bottom order (an aliased bottom reads out as it stands); a
 * coefficient 0 skips its bottom, as Caffe's axpy does.
 */
function accumulate(bottoms: Tensor[], coeffs: Float32Array, out: Float32Array, from: number): void {
  for (let b = from; b < bottoms.length; b++) {
    const x = bottoms[b].data, c = coeffs[b];
    if (c === 0) continue;
    if (c === 1) for (let i = 0; i < out.length; i++) out[i] += x[i];
    else for (let i = 0; i < out.length; i++) out[i] += c * x[i];
  }
}

/** Caffe's order: out = x0 * x1 element by element, then out *= x_b (an aliased x_b, b >= 2, is out as it stands). */
function product(bottoms: Tensor[], out: Float32Array): void {
  const a = bottoms[0].data, b1 = bottoms[1].data;
  for (let i = 0; i < out.length; i++) out[i] = a[i] * b1[i];
  for (let b = 2; b < bottoms.length; b++) {
    const x = bottoms[b].data;
    for (let i = 0; i < out.length; i++) out[i] *= x[i];
  }
}

/** Caffe's order: bottom 1 wins ties against bottom 0 (`a > b ? a : b`), later bottoms only when strictly greater. */
function maximum(bottoms: Tensor[], out: Float32Array): void {
  const a = bottoms[0].data, b = bottoms[1].data;
  for (let i = 0; i < out.length; i++) out[i] = a[i] > b[i] ? a[i] : b[i];
  for (let k = 2; k < bottoms.length; k++) {
    const x = bottoms[k].data;
    for (let i = 0; i < out.length; i++) if (x[i] > out[i]) out[i] = x[i];
  }
}

/**
 * Caffe writes an Eltwise top before reading every bottom, so in place the aliased bottom is read as the running
 * result: SUM starts from 0 (bottom 0 aliased adds nothing), MAX from -FLT_MAX; PROD reads bottoms 0 and 1 before writing.
 * The operation, the bottom count and the coeffs were checked by create(), before any conversion.
 */
function eltwiseToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'eltwise_param');
  const coeff = (p.coeff as number[]) ?? [];
  const n = layer.bottoms.length;
  const aliased = layer.bottoms.map((b) => b === layer.tops[0]);
  const bottoms = layer.bottoms.map((_, i) => c.bottom(i));
  if (p.operation === 'PROD') {
    let product = c.node('Mul', [bottoms[0], bottoms[1]], [n === 2 ? c.top(0) : c.tmp('product')]);
    for (let i = 2; i < n; i++) product = c.node('Mul', [product, aliased[i] ? product : bottoms[i]], [i === n - 1 ? c.top(0) : c.tmp('product')]);
    return;
  }
  if (p.operation === 'MAX') {
    const lowest = (): string => c.b.scalar(LOWEST_FLOAT);
    const terms = bottoms.flatMap((b, i) => (!aliased[i] ? [b] : i < 2 ? [lowest()] : []));
    c.node('Max', terms, [c.top(0)]);
    return;
  }
  // A coefficient 0 skips its bottom (Caffe's axpy returns at once): its Infinity or NaN never reaches the top.
  const live = bottoms.flatMap((b, i) => ((coeff[i] ?? 1) !== 0 ? [i] : []));
  if (!aliased.includes(true) && live.length > 0) {
    c.node('Sum', live.map((i) => withScalar(c, 'Mul', bottoms[i], coeff[i] ?? 1)), [c.top(0)]);
    return;
  }
  let sum: string | undefined; // undefined: still Caffe's zero fill
  bottoms.forEach((b, i) => {
    const k = coeff[i] ?? 1;
    if (k === 0) return;
    if (aliased[i]) sum = sum && withScalar(c, 'Mul', sum, 1 + k);
    else sum = sum ? c.node('Add', [sum, withScalar(c, 'Mul', b, k)], [c.tmp('sum')]) : withScalar(c, 'Mul', b, k);
  });
  // Nothing added: Caffe's zero fill, zeros of the top's shape (not x * 0, which is NaN for an Infinity).
  c.alias(0, sum ?? c.node('ConstantOfShape', [c.node('Shape', [bottoms[0]], [c.tmp('shape')])], [c.tmp('zeros')]));
}
