import { int, ints } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { type ConvGeometry, im2col } from '../kernels/im2col.js';
import { convBottom, convOutput, readConvWindow } from './convolution.js';
import { type LayerType, expectCounts } from './layer.js';

/**
 * Caffe's Im2col layer (im2col_layer.cpp; CTPN reads its 3 x 3 windows this way before its LSTMs): each output
 * position's window laid out along the channels, (N, C, H, W) to (N, C · kh · kw, outH, outW), channel
 * c · kh · kw + i · kw + j holding x[c, y · sh − ph + i · dh, x · sw − pw + j · dw], 0 in the padding. The
 * window is read from convolution_param as Convolution reads it (kernel, pad, stride, dilation, axis), with no
 * num_output. Two spatial axes, as crema's Convolution; the copy is the convolutions' own im2col.
 */
export const im2colLayer: LayerType = {
  type: 'Im2col',
  onnx: im2colToOnnx,
  create(def) {
    const s = readConvWindow(def);
    let g: ConvGeometry | undefined, planeIn = 0, planeOut = 0;
    return {
      reshape(bottoms) {
        expectCounts(def, [1, 1], [1, 1]);
        const b = convBottom(def, s, bottoms);
        g = convOutput(def, s, b);
        planeIn = b.channels * b.height * b.width;
        planeOut = b.channels * s.kernel[0] * s.kernel[1] * g.outH * g.outW;
        return [[...bottoms[0].slice(0, b.channelAxis), b.channels * s.kernel[0] * s.kernel[1], g.outH, g.outW]];
      },
      forward([bottom], [top]) {
        for (let n = 0, count = bottom.data.length / planeIn; n < count; n++)
          im2col(g!, bottom.data, n * planeIn, 0, g!.outH, top.data.subarray(n * planeOut, (n + 1) * planeOut));
      },
    };
  },
};

/**
 * A grouped Conv whose filters pick one window position each (a 1 at (i, j), zeros elsewhere): group c's kh · kw
 * outputs are channel c's window in Caffe's order, and a sum of one product by 1 and zeros is the value itself.
 */
function im2colToOnnx(c: LayerContext): void {
  const { layer } = c;
  const s = readConvWindow(layer.def);
  const b = convBottom(layer.def, s, layer.bottomShapes);
  const [kh, kw] = s.kernel, taps = kh * kw;
  const picks = new Float32Array(b.channels * taps * taps);
  for (let ch = 0; ch < b.channels; ch++) for (let t = 0; t < taps; t++) picks[(ch * taps + t) * taps + t] = 1;
  // Another channel axis or rank: the axes before it are the batch (as Caffe's num_), so a 4-D view in and out.
  const flat = layer.bottomShapes[0].length !== 4 || b.channelAxis !== 1;
  const x = flat ? c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/as_4d`, [b.num, b.channels, b.height, b.width])], [c.tmp('x4')]) : c.bottom(0);
  const y = c.node('Conv', [x, c.b.floats(`${layer.name}/picks`, picks, [b.channels * taps, 1, kh, kw])], [flat ? c.tmp('y4') : c.top(0)], {
    group: int(b.channels),
    kernel_shape: ints(s.kernel),
    pads: ints([s.pad[0], s.pad[1], s.pad[0], s.pad[1]]),
    strides: ints(s.stride),
    dilations: ints(s.dilation),
  });
  if (flat) c.node('Reshape', [y, c.b.int64s(`${layer.name}/shape`, layer.topShapes[0])], [c.top(0)]);
}
