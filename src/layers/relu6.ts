import type { LayerType } from './layer.js';
import { unaryLayer } from './unary.js';

/**
 * ReLU6 of the MobileNet v2 forks: y = min(max(x, 0), 6) in std::min / std::max order (a NaN passes through,
 * as there). No parameters. ONNX: Clip(0, 6).
 */
export const relu6Layer = {
  ...unaryLayer('ReLU6', () => (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const low = v < 0 ? 0 : v; // std::max(v, 0): NaN < 0 is false, so NaN stays
      y[i] = 6 < low ? 6 : low; // std::min(low, 6): 6 < NaN is false, so NaN stays
    }
  }),
  onnx: (c) => {
    c.node('Clip', [c.bottom(0), c.b.scalar(0), c.b.scalar(6)], [c.top(0)]);
  },
} satisfies LayerType;
