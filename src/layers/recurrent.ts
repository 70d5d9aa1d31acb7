import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int, valueInfo } from '../onnx/builder.js';
import { type LayerContext, int64Once, joinedDims, runtimeDims } from '../onnx/context.js';
import type { GraphObj } from '../onnx/proto.js';
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { innerProductLayer, transpose } from './inner_product.js';
import { type Layer, type LayerType, expectCounts, expectWeight, need } from './layer.js';

/**
 * BVLC Caffe 1.0's recurrent layers (recurrent_layer.cpp, lstm_layer.cpp, lstm_unit_layer.cpp, rnn_layer.cpp).
 * Bottoms: x (T, N, ...): T timesteps of N streams; cont (T, N), the sequence continuation indicators (0 starts a
 * sequence: the state before it is multiplied by cont); an optional x_static (N, ...) added to every step; with
 * expose_hidden, the initial state (h_0, and c_0 for LSTM, each (1, N, H)). Tops: every step's output (T, N, H)
 * and, with expose_hidden, the final state. Without expose_hidden Caffe starts each forward from the state the
 * last forward ended in (zeros at first): a net fed one step a forward (LRCN's captioning) carries its sequence so.
 * Each step, as Caffe's unrolled net computes it:
 *   LSTM: [i f o g] = W_hc (cont_t h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static];
 *         c_t = cont_t sigmoid(f) c_{t-1} + sigmoid(i) tanh(g) (no forgetting term at all where cont_t is 0);
 *         h_t = sigmoid(o) tanh(c_t); the top is h.
 *   RNN:  h_t = tanh(W_hh (cont_t h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static]); o_t = tanh(W_ho h_t + b_o),
 *         the top.
 * The products are InnerProduct layers (the wasm GEMM where it is loaded), as in Caffe's unrolled net.
 */
interface Kind {
  type: 'LSTM' | 'RNN';
  /** Gate rows per hidden unit. */
  gates: number;
  /** The recurrent state blobs (Caffe's names), in bottom and top order. */
  states: string[];
  /** Parameter blob names, in Caffe's order, with the static input's third. */
  blobs: string[];
}

const LSTM: Kind = { type: 'LSTM', gates: 4, states: ['h', 'c'], blobs: ['W_xc', 'b_c', 'W_xc_static', 'W_hc'] };
const RNN: Kind = { type: 'RNN', gates: 1, states: ['h'], blobs: ['W_xh', 'b_h', 'W_xh_static', 'W_hh', 'W_ho', 'b_o'] };

export const lstmLayer: LayerType = { type: 'LSTM', create: (def, weights) => recurrent(LSTM, def, weights), onnx: (c) => recurrentToOnnx(LSTM, c) };
export const rnnLayer: LayerType = { type: 'RNN', create: (def, weights) => recurrent(RNN, def, weights), onnx: (c) => recurrentToOnnx(RNN, c) };

/** What a layer's prototxt says: hidden size, exposed state, static input, and its blobs' names. */
function settings(kind: Kind, def: LayerParameter) {
  const p = paramsOf<{ num_output: number; expose_hidden: boolean }>(def, 'recurrent_param');
  need(def, p.num_output > 0, 'needs recurrent_param { num_output: ... } (positive)');
  const exposed = p.expose_hidden ? kind.states.length : 0;
  expectCounts(def, [2 + exposed, 3 + exposed], [1 + exposed, 1 + exposed]);
  const withStatic = (def.bottom?.length ?? 0) > 2 + exposed;
  return { H: p.num_output, exposed, withStatic, blobs: kind.blobs.filter((_, i) => withStatic || i !== 2) };
}

/** The weight shapes at these bottoms, by name; checked against the weights (naming the blob) and declared. */
function weightShapes(kind: Kind, def: LayerParameter, weights: Tensor[], bottoms: Shape[]): Tensor[] {
  const { H, exposed, withStatic, blobs } = settings(kind, def);
  const x = bottoms[0], G = kind.gates * H;
  need(def, x.length >= 3, () => `bottom 0 (x) must be (T timesteps, N streams, features...), at least 3 axes, got ${shapeString(x)}`);
  const [T, N] = x;
  need(def, bottoms[1].length === 2 && bottoms[1][0] === T && bottoms[1][1] === N,
    () => `bottom 1 (cont, the sequence continuation indicators) must be (T, N) = [${T}, ${N}], got ${shapeString(bottoms[1])}`);
  if (withStatic) {
    const s = bottoms[2];
    need(def, s.length >= 2 && s[0] === N, () => `bottom 2 (x_static) must be (N = ${N}, features...), got ${shapeString(s)}`);
  }
  for (let j = 0; j < exposed; j++) {
    const at = 2 + (withStatic ? 1 : 0) + j, s = bottoms[at];
    need(def, s.length === 3 && s[0] === 1 && s[1] === N && s[2] === H, () => `bottom ${at} (${kind.states[j]}_0) must be [1, ${N}, ${H}], got ${shapeString(s)}`);
  }
  need(def, weights.length === 0 || weights.length === blobs.length,
    () => `has ${weights.length} weight blobs but takes ${blobs.length} (${blobs.join(', ')})`);
  const shapes: Record<string, Shape> = {
    [kind.blobs[0]]: [G, sizeOf(x.slice(2))], [kind.blobs[1]]: [G], [kind.blobs[3]]: [G, H],
    ...(withStatic ? { [kind.blobs[2]]: [G, sizeOf(bottoms[2].slice(1))] } : {}),
    ...(kind.type === 'RNN' ? { W_ho: [H, H], b_o: [H] } : {}),
  };
  return blobs.map((name, i) => expectWeight(def, weights, i, name, shapes[name]));
}

function recurrent(kind: Kind, def: LayerParameter, weights: Tensor[]): Layer {
  const { H, exposed, withStatic } = settings(kind, def);
  const G = kind.gates * H;
  // Caffe's unrolled net: InnerProduct layers over these blobs (their messages are checked above, by name).
  // Each takes its blobs as there: [W, b] for x (and RNN's output), [W] otherwise (none when the net has no weights).
  const s = withStatic ? 1 : 0;
  const product = (outputs: number, bias: boolean, axis: number, first: number) =>
    innerProductLayer.create({ ...def, bottom: def.bottom?.slice(0, 1), top: def.top?.slice(0, 1), inner_product_param: { num_output: outputs, bias_term: bias, axis } } as LayerParameter,
      weights.length ? weights.slice(first, first + (bias ? 2 : 1)) : []);
  const ipX = product(G, true, 2, 0), ipS = withStatic ? product(G, false, 1, 2) : undefined, ipH = product(G, false, 2, 2 + s);
  const ipO = kind.type === 'RNN' ? product(H, true, 2, 3 + s) : undefined;
  let T = 0, N = 0, I = 0, S = 0;
  let xg = new Float32Array(0), sg = new Float32Array(0), pre = new Float32Array(0), hc = new Float32Array(0), out = new Float32Array(0);
  // The state a forward ends in, which the next starts from (without expose_hidden): zeros until the first.
  let state: Float32Array[] = [];
  const layer: Layer = {
    carriesState: exposed === 0,
    reshape(bottoms) {
      weightShapes(kind, def, weights, bottoms);
      const x = bottoms[0];
      // (By the state's size, not N: a state freshState put back keeps its streams' count until they change.)
      if (state[0]?.length !== x[1] * H) state = kind.states.map(() => new Float32Array(x[1] * H));
      [T, N] = x;
      I = sizeOf(x.slice(2));
      ipX.reshape([x]);
      if (ipS) {
        ipS.reshape([bottoms[2]]);
        S = sizeOf(bottoms[2].slice(1));
      }
      ipH.reshape([[1, N, H]]);
      ipO?.reshape([[1, N, H]]);
      if (xg.length !== T * N * G) xg = new Float32Array(T * N * G);
      if (pre.length !== N * G) [sg, pre] = [new Float32Array(N * G), new Float32Array(N * G)];
      if (hc.length !== N * H) [hc, out] = [new Float32Array(N * H), new Float32Array(N * H)];
      return [[T, N, H], ...kind.states.slice(0, exposed).map(() => [1, N, H])];
    },
    forward(bottoms, tops) {
      const cont = bottoms[1].data, y = tops[0].data;
      ipX.forward([bottoms[0]], [new Tensor([T, N, G], xg)]);
      if (ipS) ipS.forward([bottoms[2]], [new Tensor([N, G], sg)]);
      // The state this forward starts from: the bottoms given, or the last forward's end (copied: tops may alias).
      const h = exposed ? bottoms[2 + s].data.slice() : state[0].slice();
      const c = kind.type === 'LSTM' ? (exposed ? bottoms[3 + s].data.slice() : state[1].slice()) : undefined;
      const hcT = new Tensor([1, N, H], hc), preT = new Tensor([1, N, G], pre), outT = new Tensor([1, N, H], out);
      for (let t = 0; t < T; t++) {
        // h_conted = cont_t h_{t-1} (Caffe's Scale along the streams), then W_hc h_conted + W_xc x_t (+ static).
        for (let n = 0; n < N; n++) {
          const k = cont[t * N + n];
          for (let d = n * H; d < (n + 1) * H; d++) hc[d] = h[d] * k;
        }
        ipH.forward([hcT], [preT]);
        const xt = t * N * G;
        for (let i = 0; i < N * G; i++) pre[i] = withStatic ? pre[i] + xg[xt + i] + sg[i] : pre[i] + xg[xt + i];
        if (c) lstmUnit(pre, c, h, cont, t * N, N, H);
        else for (let i = 0; i < N * H; i++) h[i] = Math.tanh(pre[i]);
        if (ipO) {
          ipO.forward([new Tensor([1, N, H], h)], [outT]);
          for (let i = 0; i < N * H; i++) y[t * N * H + i] = Math.tanh(out[i]);
        } else y.set(h, t * N * H);
      }
      if (exposed) {
        tops[1].data.set(h);
        if (c) tops[2].data.set(c);
      } else {
        state[0].set(h);
        if (c) state[1].set(c);
      }
    },
    freshState() {
      const kept = state;
      state = kind.states.map(() => new Float32Array(N * H));
      return () => void (state = kept);
    },
    macs: () => T * N * G * (I + H) + N * G * S + (ipO ? T * N * H * H : 0),
    prepare() {
      for (const ip of [ipX, ipS, ipH, ipO]) ip?.prepare?.();
    },
  };
  return layer;
}

/**
 * Caffe's LSTMUnit (lstm_unit_layer.cpp) on N streams of H units: `gates` [i f o g] (N, 4H), `c` the previous cell
 * state, overwritten by the new one, `h` the new output, `cont` read from `at`. Its sigmoid 1 / (1 + e^-x), its tanh
 * 2 sigmoid(2x) - 1; f is 0 where cont is 0, else cont sigmoid(f). The LSTM layer's steps and the LSTMUnit layer's.
 */
export function lstmUnit(gates: Float32Array, c: Float32Array, h: Float32Array, cont: Float32Array, at: number, N: number, H: number): void {
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  for (let n = 0; n < N; n++) {
    const k = cont[at + n], g0 = n * 4 * H;
    for (let d = 0; d < H; d++) {
      const i = sigmoid(gates[g0 + d]);
      const f = k === 0 ? 0 : k * sigmoid(gates[g0 + H + d]);
      const o = sigmoid(gates[g0 + 2 * H + d]);
      const g = 2 * sigmoid(2 * gates[g0 + 3 * H + d]) - 1;
      const cell = Math.fround(Math.fround(f * c[n * H + d]) + Math.fround(i * g));
      c[n * H + d] = cell;
      h[n * H + d] = o * (2 * sigmoid(2 * cell) - 1);
    }
  }
}

/** The nodes both ONNX forms build from: products with a weight blob's transpose, sums, reshapes, biases. */
function onnxOps(c: LayerContext) {
  const name = (what: string) => `${c.layer.name}/${what}`;
  // A weight's constant is written once per model, however many steps read it (the unrolled form's T steps).
  let made = constants.get(c.b);
  if (!made) constants.set(c.b, (made = new Map()));
  const once = (blob: Tensor, make: () => string) => made.get(blob) ?? made.set(blob, make()).get(blob)!;
  return {
    name,
    /** x W^T for a weight blob (G, K): its transpose as the MatMul's constant (`constant`: its name, `what` without the step). */
    matmul: (x: string, blob: Tensor, what: string, constant = what) =>
      c.node('MatMul', [x, once(blob, () => c.b.floats(name(`${constant}_T`), transpose(blob), [blob.dims[1], blob.dims[0]]))], [c.tmp(what)]),
    add: (a: string, b: string, what: string) => c.node('Add', [a, b], [c.tmp(what)]),
    reshape: (x: string, shape: number[], what: string) => c.node('Reshape', [x, c.b.int64s(name(`${what}_shape`), shape)], [c.tmp(what)]),
    bias: (blob: Tensor, what: string) => once(blob, () => c.b.floats(name(what), blob.data, [blob.dims[0]])),
  };
}

/** Per model (its builder), the constant made of each weight blob (onnxOps). */
const constants = new WeakMap<object, Map<Tensor, string>>();

/** One step's values: the state it starts from, cont_t, and its x gates (asked for where the product needs them). */
interface StepInputs {
  h: string;
  cell?: string;
  k: string;
  xGates: () => string;
  staticGates?: string;
}

/**
 * One step's nodes, as Caffe's unrolled net computes it (see the top of this file): h_conted = cont_t h, its MatMul
 * with W_h, plus the x (and static) gates; LSTM's gates sliced, sigmoid f times cont_t; RNN's output product. `t`
 * names the step's values.
 */
function stepToOnnx(kind: Kind, c: LayerContext, w: Tensor[], s: number, H: number, t: number | string, at: StepInputs): { h: string; cell?: string; out: string } {
  const { matmul, add, bias } = onnxOps(c), next = typeof t === 'number' ? t + 1 : t;
  let pre = matmul(c.node('Mul', [at.h, at.k], [c.tmp(`h_conted_${t}`)]), w[2 + s], `W_h_h_${t}`, 'W_h_h');
  pre = add(pre, at.xGates(), `gates_${t}`);
  if (at.staticGates) pre = add(pre, at.staticGates, `gates_static_${t}`);
  if (at.cell === undefined) {
    const h = c.node('Tanh', [pre], [c.tmp(`h_${next}`)]);
    return { h, out: c.node('Tanh', [add(matmul(h, w[3 + s], `W_ho_h_${t}`, 'W_ho_h'), bias(w[4 + s], 'b_o'), `o_in_${t}`)], [c.tmp(`o_${next}`)]) };
  }
  const { cell, h } = lstmUnitToOnnx(c, pre, at.k, at.cell, H, t, { cell: c.tmp(`c_${next}`), h: c.tmp(`h_${next}`) });
  return { h, cell, out: h };
}

/**
 * lstmUnit's nodes: the gates [i f o g] of `pre` (axis 2, 4H wide) through Sigmoid / Tanh, f times `cont` (0 where
 * cont is 0, as Caffe's f for finite gates), the new cell state f c_prev + i g into `out.cell`, o tanh(c) into `out.h`.
 * `t` names the step's values. The LSTM layer's steps and the LSTMUnit layer's.
 */
export function lstmUnitToOnnx(c: LayerContext, pre: string, cont: string, cellPrev: string, H: number, t: number | string, out: { cell: string; h: string }): { cell: string; h: string } {
  // The gates' bounds and axis written once a layer (int64Once), not once a step.
  const gate = (g: number, op: string) => c.node(op, [c.node('Slice', [pre, int64Once(c, [g * H]), int64Once(c, [(g + 1) * H]), int64Once(c, [2])], [c.tmp(`gate${g}_${t}`)])], [c.tmp(`${op}${g}_${t}`)]);
  const [i, f, o, g] = [gate(0, 'Sigmoid'), c.node('Mul', [gate(1, 'Sigmoid'), cont], [c.tmp(`f_${t}`)]), gate(2, 'Sigmoid'), gate(3, 'Tanh')];
  const cell = c.node('Add', [c.node('Mul', [f, cellPrev], [c.tmp(`fc_${t}`)]), c.node('Mul', [i, g], [c.tmp(`ig_${t}`)])], [out.cell]);
  return { cell, h: c.node('Mul', [o, c.node('Tanh', [cell], [c.tmp(`tanh_c_${t}`)])], [out.h]) };
}

/**
 * Unrolled over the T steps as Caffe's own net is: per step a MatMul of the state, the gates' Sigmoid / Tanh and
 * their products, each step's output Concat along axis 0. Without expose_hidden the graph starts from zeros: Caffe's
 * first forward (an ONNX model keeps no state from one run to the next, and the model's notes say so). With
 * `c.anySize`, the same step as the body of a Scan over the T the input has at run time (scanToOnnx).
 */
function recurrentToOnnx(kind: Kind, c: LayerContext): void {
  const { layer } = c;
  const { H, exposed, withStatic } = settings(kind, layer.def);
  const w = weightShapes(kind, layer.def, layer.weights, layer.bottomShapes);
  if (!exposed) c.note(`Caffe starts each forward from the state the last one ended in; the ONNX graph starts every run from zeros, as Caffe's first forward (give the layer expose_hidden: true to feed the state)`);
  if (c.anySize) return scanToOnnx(kind, c, w);
  const [T, N] = layer.bottomShapes[0], s = withStatic ? 1 : 0;
  const { name, matmul, add, reshape, bias } = onnxOps(c);
  // W_xc x + b_c for every step at once: (T, N, G); the static input's (1, N, G).
  const x = reshape(c.bottom(0), [T, N, sizeOf(layer.bottomShapes[0].slice(2))], 'x');
  const xg = add(matmul(x, w[0], 'W_x_x'), bias(w[1], 'b'), 'x_gates');
  const sg = withStatic ? matmul(reshape(c.bottom(2), [1, N, sizeOf(layer.bottomShapes[2].slice(1))], 'x_static'), w[2], 'W_static_x') : undefined;
  const cont = reshape(c.bottom(1), [T, N, 1], 'cont');
  const start = (j: number) => exposed ? c.bottom(2 + s + j) : c.b.floats(name(`${kind.states[j]}_0`), new Float32Array(N * H), [1, N, H]);
  let h = start(0), cell = kind.type === 'LSTM' ? start(1) : undefined;
  const outputs: string[] = [];
  const [conts, xGates] = [steps(c, cont, T, 'cont'), steps(c, xg, T, 'x_gates')];
  for (let t = 0; t < T; t++) {
    const r = stepToOnnx(kind, c, w, s, H, t, { h, cell, k: conts[t], xGates: () => xGates[t], staticGates: sg });
    [h, cell] = [r.h, r.cell];
    outputs.push(r.out);
  }
  c.node('Concat', outputs, [c.top(0)], { axis: int(0) });
  const final = [h, cell];
  for (let j = 0; j < exposed; j++) c.node('Identity', [final[j]!], [c.top(1 + j)]);
}

/**
 * The T steps of `value` (T, ...) as T values (1, ...), by one Split into equal parts: no constant per step (a Gather
 * of each needed its index, T int64 initializers). Opset 18 asks the count as num_outputs; before, the outputs give it.
 */
function steps(c: LayerContext, value: string, T: number, what: string): string[] {
  const outputs = Array.from({ length: T }, (_, t) => c.tmp(`${what}_${t}`));
  c.node('Split', [value], outputs, { axis: int(0), ...(c.opset >= 18 ? { num_outputs: int(T) } : {}) });
  return outputs;
}

/**
 * For every T (ConvertOptions.anySize): the x gates of all steps at once as unrolled, then ONNX's Scan over their
 * axis 0 and cont's, its body stepToOnnx's nodes (the weights read from the enclosing graph), its state (1, N, H)
 * as unrolled; the steps' outputs (T, 1, N, H) squeezed to the top. Shapes copied by Reshape's 0 or from Shape:
 * N too varies with the input's size (a line reader's height).
 */
function scanToOnnx(kind: Kind, c: LayerContext, w: Tensor[]): void {
  const { H, exposed, withStatic } = settings(kind, c.layer.def);
  const s = withStatic ? 1 : 0;
  const { name, matmul, add, reshape, bias } = onnxOps(c);
  const xg = add(matmul(reshape(c.bottom(0), [0, 0, w[0].dims[1]], 'x'), w[0], 'W_x_x'), bias(w[1], 'b'), 'x_gates');
  const sg = withStatic ? matmul(reshape(c.bottom(2), [1, -1, w[2].dims[1]], 'x_static'), w[2], 'W_static_x') : undefined;
  const cont = reshape(c.bottom(1), [0, 0, 1], 'cont');
  // The state it starts from: the bottoms given, or float zeros (1, N, H) (ConstantOfShape's default value).
  const zeros = (): string => {
    return c.node('ConstantOfShape', [joinedDims(c, 'state_shape', [[1], runtimeDims(c, c.bottom(0), 1, 2), [H]])], [c.tmp('zeros')]);
  };
  const starts = exposed ? kind.states.map((_, j) => c.bottom(2 + s + j)) : new Array<string>(kind.states.length).fill(zeros());
  // The body: state in, this step's x gates and cont (axis 0 scanned away: (N, G) and (N, 1)); state out, output.
  const ins = { h: c.tmp('h_prev'), cell: kind.type === 'LSTM' ? c.tmp('c_prev') : undefined, xGates: c.tmp('x_gates_t'), k: c.tmp('cont_t') };
  let out = { h: '', cell: undefined as string | undefined, y: '' };
  const nodes = c.b.collect(() => {
    const r = stepToOnnx(kind, c, w, s, H, 'step', { h: ins.h, cell: ins.cell, k: ins.k, xGates: () => ins.xGates, staticGates: sg });
    out = { h: r.h, cell: r.cell, y: c.node('Identity', [r.out], [c.tmp('y_t')]) };
  });
  const listed = (values: (string | undefined)[]) => values.filter((v): v is string => v !== undefined).map((v) => valueInfo(v));
  const body: GraphObj = { name: name('step'), node: nodes, initializer: [], input: listed([ins.h, ins.cell, ins.xGates, ins.k]), output: listed([out.h, out.cell, out.y]) };
  const finals = kind.states.map((st, j) => (j < exposed ? c.top(1 + j) : c.tmp(`${st}_T`)));
  const ys = c.tmp('steps');
  c.node('Scan', [...starts, xg, cont], [...finals, ys], { body: { graph: body }, num_scan_inputs: int(2) });
  c.node('Squeeze', [ys, c.b.int64s(name('steps_axis'), [1])], [c.top(0)]);
}
