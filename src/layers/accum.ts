import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { Shape } from '../tensor.js';
import type { LayerContext } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
import { type LayerType, expectCounts, need, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';

const f32 = Math.fround;

interface AccumParam {
  top_height: number;
  top_width: number;
  size_divisible_by: number;
  have_reference: boolean;
}

/** The bottoms that are accumulated (with have_reference the last one only gives the size). */
const accumulated = (p: AccumParam, count: number): number => count - (p.have_reference ? 1 : 0);

/** accum_layer.cpp's Reshape: the bottoms' channels stacked, at the reference's size or the largest (or the param's). */
function accumShape(def: LayerParameter, p: AccumParam, bottoms: Shape[]): Shape {
  const given = (def.accum_param ?? {}) as Partial<AccumParam>;
  need4d(def, bottoms);
  const used = bottoms.slice(0, accumulated(p, bottoms.length)), num = bottoms[0][0];
  used.forEach((b, i) => need(def, b[0] === num, () => `bottom ${i} has num ${b[0]}, bottom 0 has ${num}: all must have the same`));
  const channels = used.reduce((s, b) => s + b[1], 0);
  if (p.have_reference) {
    const ref = bottoms[bottoms.length - 1];
    return [num, channels, ref[2], ref[3]];
  }
  const maxH = Math.max(...used.map((b) => b[2])), maxW = Math.max(...used.map((b) => b[3]));
  const sdb = f32(p.size_divisible_by);
  const [topH, topW] = given.size_divisible_by !== undefined
    ? [Math.trunc(Math.ceil(f32(maxH / sdb)) * sdb), Math.trunc(Math.ceil(f32(maxW / sdb)) * sdb)]
    : [p.top_height, p.top_width];
  return topH > maxH && topW > maxW ? [num, channels, topH, topW] : [num, channels, maxH, maxW];
}

/**
 * Accum (lmb-freiburg/flownet2): its bottoms resized to one size and stacked along the channels; with
 * accum_param.have_reference the last bottom only gives that size (FlowNet2: the flow at a quarter size up to the
 * image's). Restated from accum_layer.cpp's Forward_cpu (the .cu's UpscaleFeatures is the same loop, its multiply-adds
 * fused by nvcc: an ulp apart): bilinear with the corners aligned, x = w / (W_top - 1) * (W_bottom - 1) in float, the
 * four samples summed TL, BR, BL, TR. The kernel reads the next
 * row's first value (and at the last pixel one past the blob) with weight 0; crema reads the last value there.
 */
export const accumLayer: LayerType = {
  type: 'Accum',
  create(def) {
    const p = paramsOf<AccumParam>(def, 'accum_param');
    expectCounts(def, [p.have_reference ? 2 : 1, Infinity], [1, 1]);
    refuseInPlace(def);
    return {
      reshape(bottoms) {
        const top = accumShape(def, p, bottoms);
        need(def, top[2] > 1 && top[3] > 1, () => `a top of ${top[2]} x ${top[3]} divides by its size - 1 (the fork's NaN): needs 2 rows and columns`);
        return [top];
      },
      forward(bottoms, [top]) {
        let channel = 0;
        for (const b of bottoms.slice(0, accumulated(p, bottoms.length))) {
          upscale(b.data, b.dims, top.data, top.dims, channel);
          channel += b.dims[1];
        }
      },
    };
  },
  onnx: accumToOnnx,
};

function upscale(src: Float32Array, [num, channels, height, width]: Shape, dst: Float32Array, [, topChannels, topH, topW]: Shape, from: number): void {
  const last = src.length - 1, sx = f32(width - 1), sy = f32(height - 1), dw = f32(topW - 1), dh = f32(topH - 1);
  for (let n = 0; n < num; n++)
    for (let c = 0; c < channels; c++) {
      const cn = n * channels + c, out = (n * topChannels + from + c) * topH * topW;
      for (let h = 0; h < topH; h++) {
        const ypos = f32(f32(h / dh) * sy), tly = Math.floor(ypos), yd = f32(ypos - tly);
        for (let w = 0; w < topW; w++) {
          const xpos = f32(f32(w / dw) * sx), tlx = Math.floor(xpos), xd = f32(xpos - tlx);
          const at = width * (height * cn + tly) + tlx;
          const tl = src[at], tr = src[Math.min(at + 1, last)], bl = src[Math.min(at + width, last)], br = src[Math.min(at + 1 + width, last)];
          const ix = f32(1 - xd), iy = f32(1 - yd);
          dst[out + h * topW + w] = f32(f32(f32(f32(f32(ix * iy) * tl) + f32(f32(xd * yd) * br)) + f32(f32(ix * yd) * bl)) + f32(f32(xd * iy) * tr));
        }
      }
    }
}

/** Resize (linear, align_corners) of each accumulated bottom to the top's size, then Concat. */
function accumToOnnx(c: LayerContext): void {
  const top = c.layer.topShapes[0], n = c.layer.name;
  const count = accumulated(paramsOf<AccumParam>(c.layer.def, 'accum_param'), c.layer.bottomShapes.length);
  const sized = Array.from({ length: count }, (_, i) =>
    c.node('Resize', [c.bottom(i), '', '', c.b.int64s(`${n}/sizes${i}`, [...c.layer.bottomShapes[i].slice(0, 2), top[2], top[3]])], [count === 1 ? c.top(0) : c.tmp(`sized${i}`)],
      { mode: { string: 'linear' }, coordinate_transformation_mode: { string: 'align_corners' } }));
  if (count > 1) c.node('Concat', sized, [c.top(0)], { axis: int(1) });
}
