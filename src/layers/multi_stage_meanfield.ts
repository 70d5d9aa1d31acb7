import { formatFloat32 } from '../caffe/prototxt.js';
import { paramsOf } from '../caffe/schema.js';
import { fail } from '../onnx/context.js';
import { type Shape, Tensor, shapeString } from '../tensor.js';
import { convolutionLayer } from './convolution.js';
import { eltwiseSumWasm } from '../kernels/eltwise.js';
import { wasmEngine } from '../kernels/wasm.js';
import { PermutohedralLattice } from './crf/permutohedral.js';
import { expectCounts, expectWeight, type Layer, type LayerType, need, need4d } from './layer.js';
import { softmax } from './softmax.js';

const f32 = Math.fround;

/**
 * CRF-RNN's MultiStageMeanfield (torrvision/caffe multi_stage_meanfield.cpp, meanfield_iteration.cpp; Zheng et al.,
 * ICCV 2015): `num_iterations` steps of mean-field inference of a dense CRF over the unaries (bottom 0), starting from
 * bottom 1, with Gaussian pairwise terms over the pixels' positions (spatial, theta_gamma) and positions and colours
 * (bilateral, theta_alpha and theta_beta; the colours are bottom 2's first three channels). A step: Q = softmax over
 * the classes; each kernel's filter of Q (the permutohedral lattice, crf/permutohedral.ts) divided by its filter of
 * ones; message = W_spatial · spatial + W_bilateral · bilateral (blobs 0 and 1, C x C); the top = unary -
 * compatibility (blob 2) · message, the next step's input. Not exported to ONNX (no operator filters on a lattice).
 */
export const multiStageMeanfieldLayer: LayerType = {
  type: 'MultiStageMeanfield',
  create(def, weights) {
    expectCounts(def, [3, 3], [1, 1]);
    const p = paramsOf(def, 'multi_stage_meanfield_param');
    const iterations: number = p.num_iterations;
    need(def, iterations > 1, () => `num_iterations must be greater than 1 (the fork's check), got ${iterations}`);
    const thetas = { alpha: f32(p.theta_alpha), beta: f32(p.theta_beta), gamma: f32(p.theta_gamma) };
    for (const [name, theta] of Object.entries(thetas)) need(def, theta > 0, () => `theta_${name} must be positive, got ${formatFloat32(theta)}`);
    // The three C x C products of a step, as 1 x 1 convolutions on crema's kernels (the fork's are OpenBLAS sgemm):
    // W_spatial, W_bilateral, the compatibility matrix.
    let products: Layer[] = [];
    let spatial: { lattice: PermutohedralLattice; norm: Float32Array; width: number } | undefined;
    return {
      // The three C x C products of each step (the lattices' splat, blur and slice are adds, not counted).
      macs: ([unary]) => iterations * 3 * unary[0] * unary[1] ** 2 * unary[2] * unary[3],
      reshape([unary, q0, image]: Shape[]) {
        need4d(def, [unary], ['the unaries']);
        need(def, shapeString(q0) === shapeString(unary), () => `its second bottom ${shapeString(q0)} must have the unaries' shape ${shapeString(unary)}`);
        need(def, image.length === 4 && image[0] === unary[0] && image[1] >= 3 && image[2] === unary[2] && image[3] === unary[3],
          () => `its image (bottom 2) ${shapeString(image)} must hold 3 colour channels over the unaries' ${unary[2]} x ${unary[3]} pixels for each of the ${unary[0]} images`);
        const classes = unary[1], plane: Shape = [1, classes, unary[2], unary[3]];
        products = ['the spatial kernel weights', 'the bilateral kernel weights', 'the compatibility matrix'].map((what, i) => {
          const w = expectWeight(def, weights, i, what, [1, 1, classes, classes]); // the fork's Blob(1, 1, C, C)
          const product = convolutionLayer.create({ name: `${def.name}/product${i}`, type: 'Convolution', bottom: ['x'], top: ['y'],
            convolution_param: { num_output: classes, kernel_size: [1], bias_term: false } }, w.data.length ? [new Tensor([classes, classes, 1, 1], w.data)] : []);
          product.reshape([plane]);
          return product;
        });
        // The spatial lattice depends on the size only (the fork builds it once, at set-up).
        const [height, width] = unary.slice(2);
        if (!spatial || spatial.lattice.points !== height * width || spatial.width !== width) {
          const lattice = new PermutohedralLattice(positions(height, width, thetas.gamma), 2, height * width);
          spatial = { lattice, norm: normalizer(lattice), width };
        }
        return [unary];
      },
      prepare() {
        for (const p of products) p.prepare?.();
      },
      forward([unary, q0, image], [top]) {
        const [num, classes, height, width] = unary.dims, pixels = height * width, plane = classes * pixels;
        const shape = [1, classes, height, width];
        // The step's planes in the wasm engine's memory when there is one: its kernels then work on them in place.
        // Freed at the end (with the image's lattice): the garbage collector sees small views of megabytes.
        const e = wasmEngine();
        const arrays = Array.from({ length: 5 }, () => e?.residentArray(plane) ?? new Float32Array(plane));
        const [prob, spatialOut, bilateralOut, message, pairwise] = arrays.map((a) => new Tensor(shape, a));
        const scratch = new Float64Array(pixels);
        try {
          for (let n = 0; n < num; n++) {
            const colours = image.data.subarray(n * image.dims[1] * pixels);
            const bilateral = new PermutohedralLattice(positions(height, width, thetas.alpha, colours, thetas.beta), 5, pixels);
            try {
              const bilateralNorm = normalizer(bilateral);
              const un = unary.data.subarray(n * plane, (n + 1) * plane), out = top.data.subarray(n * plane, (n + 1) * plane);
              for (let it = 0; it < iterations; it++) {
                // Each step starts from the last one's top (the first from bottom 1).
                softmax(it ? out : q0.data.subarray(n * plane, (n + 1) * plane), prob.data, 1, classes, pixels, scratch);
                spatial!.lattice.compute(spatialOut.data, 0, prob.data, 0, classes, spatial!.norm);
                bilateral.compute(bilateralOut.data, 0, prob.data, 0, classes, bilateralNorm);
                // message = W_s · spatial + W_b · bilateral; pairwise = compatibility · message; out = unary - pairwise.
                products[0].forward([spatialOut], [message]);
                products[1].forward([bilateralOut], [spatialOut]);
                add(message.data, spatialOut.data);
                products[2].forward([message], [pairwise]);
                subtract(un, pairwise.data, out);
              }
            } finally {
              bilateral.dispose();
            }
          }
        } finally {
          for (const a of arrays) e?.releaseArray(a);
        }
      },
    };
  },
  onnx: (c) => fail(c, 'MultiStageMeanfield (CRF-RNN) has no ONNX operator (its Gaussian filters run on a permutohedral lattice built from the image at run time); crema runs it natively only'),
};

/** Each pixel's features: (x, y) / theta, then with `colours` (planes) its first three colours / beta. */
function positions(height: number, width: number, theta: number, colours?: Float32Array, beta = 1): Float32Array {
  const pixels = height * width, d = colours ? 5 : 2, out = new Float32Array(pixels * d);
  for (let i = 0; i < pixels; i++) {
    out[i * d] = f32((i % width) / theta);
    out[i * d + 1] = f32(Math.floor(i / width) / theta);
    if (colours) for (let k = 0; k < 3; k++) out[i * d + 2 + k] = f32(colours[k * pixels + i] / beta);
  }
  return out;
}

/** 1 / (the lattice's filter of ones + 1e-20), per pixel: its normalization. */
function normalizer(lattice: PermutohedralLattice): Float32Array {
  const norm = new Float32Array(lattice.points);
  lattice.compute(norm, 0, new Float32Array(lattice.points).fill(1), 0, 1);
  for (let i = 0; i < norm.length; i++) norm[i] = f32(1 / f32(norm[i] + 1e-20));
  return norm;
}

/** message += second, elementwise in float (the fork's second product added to the first's output). */
function add(message: Float32Array, second: Float32Array): void {
  if (eltwiseSumWasm([message, second], ONES, message, undefined)) return;
  for (let i = 0; i < message.length; i++) message[i] += second[i];
}

/** out = unary - pairwise, elementwise in float. */
function subtract(unary: Float32Array, pairwise: Float32Array, out: Float32Array): void {
  if (eltwiseSumWasm([unary, pairwise], PLUS_MINUS, out, undefined)) return;
  for (let i = 0; i < out.length; i++) out[i] = unary[i] - pairwise[i];
}

const ONES = Float32Array.of(1, 1), PLUS_MINUS = Float32Array.of(1, -1);
