import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { lstmUnit, lstmUnitToOnnx } from './recurrent.js';

/**
 * BVLC Caffe 1.0's LSTMUnit (lstm_unit_layer.cpp), one step of its LSTM as a layer of its own: bottoms c_prev
 * (1, N, D), the gates x (1, N, 4D) in the order [i f o g], cont (1, N); tops c and h, each (1, N, D). The maths is
 * the LSTM layer's step (recurrent.ts lstmUnit): c = cont sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c).
 */
export const lstmUnitLayer: LayerType = {
  type: 'LSTMUnit',
  create(def) {
    expectCounts(def, [3, 3], [2, 2]);
    let N = 0, D = 0;
    return {
      reshape([cPrev, x, cont]) {
        [N, D] = [cPrev[1], cPrev[2]];
        const fits = (s: readonly number[], axes: number) => s.length === axes && s[0] === 1 && s[1] === N;
        need(def, cPrev.length === 3 && cPrev[0] === 1, () => `c_prev (bottom 0) must be (1, N, D), got ${shapeString(cPrev)}`);
        need(def, fits(x, 3) && x[2] === 4 * D, () => `the gates (bottom 1) must be (1, ${N}, ${4 * D}) for c_prev ${shapeString(cPrev)}, got ${shapeString(x)}`);
        need(def, fits(cont, 2), () => `cont (bottom 2) must be (1, ${N}) for c_prev ${shapeString(cPrev)}, got ${shapeString(cont)}`);
        return [cPrev, cPrev];
      },
      forward([cPrev, x, cont], [c, h]) {
        // lstmUnit turns the cell state it is given into the new one.
        c.data.set(cPrev.data);
        lstmUnit(x.data, c.data, h.data, cont.data, 0, N, D);
      },
    };
  },
  onnx(c) {
    // cont (1, N) as (1, N, 1), N as it comes (Reshape's 0 keeps a dim).
    const D = c.layer.bottomShapes[0][2];
    const cont = c.node('Reshape', [c.bottom(2), c.b.int64s(`${c.layer.name}/cont_shape`, [0, 0, 1])], [c.tmp('cont')]);
    lstmUnitToOnnx(c, c.bottom(1), cont, c.bottom(0), D, 0, { cell: c.top(0), h: c.top(1) });
  },
};
