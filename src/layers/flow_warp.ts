import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { Shape } from '../tensor.js';
import { type LayerContext, fail, gridSample, reduce } from '../onnx/context.js';
import { int, ints } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';
import { type LayerType, expectCounts, need, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';

const f32 = Math.fround;

function fillOf(def: LayerParameter): number {
  return paramsOf<{ fill_value: string }>(def, 'flow_warp_param').fill_value === 'NOT_A_NUMBER' ? NaN : 0;
}

function flowWarpShape(def: LayerParameter, [image, flow]: Shape[]): Shape {
  need4d(def, [image, flow], ['the image', 'the flow']);
  need(def, flow[0] === image[0], () => `the flow's num ${flow[0]} is not the image's ${image[0]}`);
  need(def, flow[1] === 2, () => `the flow (bottom 1) needs 2 channels (x, y), got ${flow[1]}`);
  need(def, flow[2] === image[2] && flow[3] === image[3], () => `the flow's size ${flow[2]} x ${flow[3]} is not the image's ${image[2]} x ${image[3]}`);
  return [...image];
}

/**
 * FlowWarp (lmb-freiburg/flownet2): the image (bottom 0) sampled at each pixel moved by the flow (bottom 1: x, y),
 * bilinearly; where the moved point (x + fx, y + fy) is off [0, W) x [0, H) the top is flow_warp_param's fill_value
 * (0, or NaN). The right and bottom neighbours are clamped to the last column and row. Restated from
 * flow_warp_layer.cpp's Forward_cpu (the .cu's kernel computes the same, its multiply-adds fused by nvcc: an ulp
 * apart): the four corner weights, then their sum in the order TL, TR, BL, BR, in float.
 */
export const flowWarpLayer: LayerType = {
  type: 'FlowWarp',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    refuseInPlace(def);
    const fill = fillOf(def);
    return {
      reshape: (bottoms) => [flowWarpShape(def, bottoms)],
      forward([image, flow], [top]) {
        const [num, channels, height, width] = image.dims, plane = height * width;
        const src = image.data, fl = flow.data, y = top.data;
        for (let n = 0; n < num; n++) {
          const base = n * channels * plane;
          for (let py = 0; py < height; py++)
            for (let px = 0; px < width; px++) {
              const at = py * width + px;
              const x2 = f32(px + fl[2 * n * plane + at]), y2 = f32(py + fl[(2 * n + 1) * plane + at]);
              if (!(x2 >= 0 && y2 >= 0 && x2 < width && y2 < height)) {
                for (let c = 0; c < channels; c++) y[base + c * plane + at] = fill;
                continue;
              }
              const l = Math.trunc(x2), t = Math.trunc(y2), r = Math.min(l + 1, width - 1), b = Math.min(t + 1, height - 1);
              const alpha = f32(x2 - l), beta = f32(y2 - t), ia = f32(1 - alpha), ib = f32(1 - beta);
              const tl = f32(ia * ib), tr = f32(alpha * ib), bl = f32(ia * beta), br = f32(alpha * beta);
              for (let c = 0; c < channels; c++) {
                const o = base + c * plane;
                y[o + at] = f32(f32(f32(f32(tl * src[o + t * width + l]) + f32(tr * src[o + t * width + r])) + f32(bl * src[o + b * width + l])) + f32(br * src[o + b * width + r]));
              }
            }
        }
      },
    };
  },
  onnx: flowWarpToOnnx,
};

/**
 * GridSample (opset 16) with align_corners and border padding samples inside [0, W - 1] as the fork does, and
 * [W - 1, W) as the clamped right neighbour does; a mask of the fork's in-range test puts the fill elsewhere.
 */
function flowWarpToOnnx(c: LayerContext): void {
  if (c.opset < 16) fail(c, `FlowWarp needs GridSample (opset 16), converting at opset ${c.opset}`);
  const [, , height, width] = c.layer.bottomShapes[0], n = c.layer.name;
  if (height < 2 || width < 2) fail(c, `FlowWarp of a ${height} x ${width} image has no GridSample of the same points (align_corners needs 2 pixels a side)`);
  const grid = (axis: 0 | 1) => Float32Array.from({ length: height * width }, (_, i) => (axis === 0 ? i % width : Math.floor(i / width)));
  const base = c.b.floats(`${n}/base`, Float32Array.of(...grid(0), ...grid(1)), [1, 2, height, width]);
  const moved = c.node('Add', [c.bottom(1), base], [c.tmp('moved')]);
  const limit = c.b.floats(`${n}/limit`, Float32Array.of(width, height), [1, 2, 1, 1]);
  const zero = c.b.scalar(0);
  const low = c.node('GreaterOrEqual', [moved, zero], [c.tmp('low')]);
  const high = c.node('Less', [moved, limit], [c.tmp('high')]);
  const inside = c.node('Cast', [c.node('And', [low, high], [c.tmp('inside2')])], [c.tmp('insidef')], { to: int(DataType.FLOAT) });
  const mask = c.node('Cast', [reduce(c, 'ReduceMin', inside, [1], true, c.tmp('insidemin'))], [c.tmp('mask')], { to: int(DataType.BOOL) });
  const scale = c.b.floats(`${n}/scale`, Float32Array.of(2 / (width - 1), 2 / (height - 1)), [1, 2, 1, 1]);
  const normed = c.node('Sub', [c.node('Mul', [moved, scale], [c.tmp('scaled')]), c.b.scalar(1)], [c.tmp('normed')]);
  const nhwc = c.node('Transpose', [normed], [c.tmp('grid')], { perm: ints([0, 2, 3, 1]) });
  const sampled = gridSample(c, c.bottom(0), nhwc, c.tmp('sampled'), true, 'border');
  const fill = c.b.floats(`${n}/fill`, Float32Array.of(fillOf(c.layer.def)), []);
  c.node('Where', [mask, sampled, fill], [c.top(0)]);
}
