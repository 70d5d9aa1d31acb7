// BVLC's LSTM and RNN over a run-time T (src/layers/recurrent.ts scanToOnnx: a Scan whose body is the unrolled
// step), as a line reader is shaped: the steps T along the width and the streams N along the height. Every recurrent
// bottom comes from a 4-D or 3-D input whose axes 2 and up are N or T, so that the size check varies them all
// together: data (1, C, N, T) to x (T, N, 1, C); cont (1, 1, N, T) to (T, N); h_0 and c_0 (1, H, N) to (1, N, H);
// x_static (1, S, N) to (N, S, 1). test/onnx-any-size.test.ts runs it in onnxruntime-node, test/browser.test.ts in
// onnxruntime-web.
import { Tensor, sizeOf } from '../../src/tensor.js';
import { randomArray, rng } from './compute.js';

const [H, C, S] = [3, 2, 4];

const input = (name: string, dims: number[]) => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }\n`;
const permute = (name: string, bottom: string, order: number[]) => `layer { name: "${name}" type: "Permute" bottom: "${bottom}" top: "${name}" permute_param { ${order.map((o) => `order: ${o}`).join(' ')} } }\n`;

/** The net's prototxt: four LSTMs (x_static, exposed state, both) and two RNNs, at N = 2 streams of T = 5 steps. */
export const RECURRENT_NET =
  input('data', [1, C, 2, 5]) + input('cont_in', [1, 1, 2, 5]) + input('h0_in', [1, H, 2]) + input('c0_in', [1, H, 2]) + input('xs_in', [1, S, 2]) +
  permute('x', 'data', [3, 2, 0, 1]) + permute('cont_t', 'cont_in', [3, 2, 0, 1]) + permute('h0', 'h0_in', [0, 2, 1]) + permute('c0', 'c0_in', [0, 2, 1]) + permute('xs', 'xs_in', [2, 1, 0]) +
  'layer { name: "cont" type: "Reshape" bottom: "cont_t" top: "cont" reshape_param { shape { dim: 0 dim: 0 } } }\n' +
  `layer { name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" top: "lstm" recurrent_param { num_output: ${H} } }
   layer { name: "lstm_s" type: "LSTM" bottom: "x" bottom: "cont" bottom: "xs" top: "lstm_s" recurrent_param { num_output: ${H} } }
   layer { name: "lstm_e" type: "LSTM" bottom: "x" bottom: "cont" bottom: "h0" bottom: "c0" top: "lstm_e" top: "lstm_e_hT" top: "lstm_e_cT" recurrent_param { num_output: ${H} expose_hidden: true } }
   layer { name: "lstm_se" type: "LSTM" bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" bottom: "c0" top: "lstm_se" top: "lstm_se_hT" top: "lstm_se_cT" recurrent_param { num_output: ${H} expose_hidden: true } }
   layer { name: "rnn" type: "RNN" bottom: "x" bottom: "cont" top: "rnn" recurrent_param { num_output: ${H} } }
   layer { name: "rnn_se" type: "RNN" bottom: "x" bottom: "cont" bottom: "xs" bottom: "h0" top: "rnn_se" top: "rnn_se_hT" recurrent_param { num_output: ${H} expose_hidden: true } }`;

/** The net's weights (sines, seeded per blob). */
export function recurrentWeights(): Record<string, Tensor[]> {
  const blob = (seed: number, ...dims: number[]) => new Tensor(dims, Float32Array.from({ length: sizeOf(dims) }, (_, i) => 0.6 * Math.sin(1.3 * i + seed)));
  const G = 4 * H;
  return {
    lstm: [blob(1, G, C), blob(2, G), blob(3, G, H)],
    lstm_s: [blob(4, G, C), blob(5, G), blob(6, G, S), blob(7, G, H)],
    lstm_e: [blob(8, G, C), blob(9, G), blob(10, G, H)],
    lstm_se: [blob(11, G, C), blob(12, G), blob(13, G, S), blob(14, G, H)],
    rnn: [blob(15, H, C), blob(16, H), blob(17, H, H), blob(18, H, H), blob(19, H)],
    rnn_se: [blob(20, H, C), blob(21, H), blob(22, H, S), blob(23, H, H), blob(24, H, H), blob(25, H)],
  };
}

/** The net's feeds at N streams of T steps: cont 0 (a sequence starts), 0.5 and 1, resets mid-sequence. */
export function recurrentFeeds(N: number, T: number): Record<string, Tensor> {
  const random = (dims: number[], seed: number) => new Tensor(dims, randomArray(sizeOf(dims), rng(seed)));
  const cont = Float32Array.from({ length: N * T }, (_, i) => [1, 0, 1, 1, 0.5, 1, 0][(i * 5 + Math.floor(i / T)) % 7]);
  return {
    data: random([1, C, N, T], N * T), cont_in: new Tensor([1, 1, N, T], cont),
    h0_in: random([1, H, N], N + 1), c0_in: random([1, H, N], N + 2), xs_in: random([1, S, N], N + 3),
  };
}
