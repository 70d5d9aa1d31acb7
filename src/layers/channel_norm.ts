import { reduce } from '../onnx/context.js';
import { type LayerType, expectCounts, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';

const f32 = Math.fround;

/**
 * ChannelNorm (lmb-freiburg/flownet2): each pixel's L2 norm over the channels, a (N, 1, H, W) top (FlowNet2's
 * brightness error and flow magnitude). Restated from channel_norm_layer.cpp's Forward_cpu (the .cu's NormForward
 * is the same loop, its multiply-adds fused by nvcc): the squares summed in float in channel order from 0, then sqrt.
 */
export const channelNormLayer: LayerType = {
  type: 'ChannelNorm',
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    refuseInPlace(def);
    return {
      reshape([shape]) {
        need4d(def, [shape]);
        return [[shape[0], 1, shape[2], shape[3]]];
      },
      forward([bottom], [top]) {
        const [num, channels, height, width] = bottom.dims, plane = height * width, x = bottom.data, y = top.data;
        for (let n = 0; n < num; n++)
          for (let i = 0; i < plane; i++) {
            let norm = 0;
            for (let c = 0, at = n * channels * plane + i; c < channels; c++, at += plane) norm = f32(norm + f32(x[at] * x[at]));
            y[n * plane + i] = f32(Math.sqrt(norm));
          }
      },
    };
  },
  onnx(c) {
    const squares = reduce(c, 'ReduceSumSquare', c.bottom(0), [1], true, c.tmp('squares'));
    c.node('Sqrt', [squares], [c.top(0)]);
  },
};
