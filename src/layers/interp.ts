import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, runtimeDims } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
import { type Shape } from '../tensor.js';
import { expectCounts, type LayerType, need, need4d } from './layer.js';

interface InterpParam {
  height: number;
  width: number;
  zoom_factor: number;
  shrink_factor: number;
  pad_beg: number;
  pad_end: number;
  use_blob_size: boolean;
}

/** What interp_layer.cpp's Reshape decides: the input window (after cropping by pad_beg / pad_end) and the output size. */
interface InterpGeometry {
  /** First input row / column of the window (-pad_beg). */
  offset: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
}

/**
 * Reads interp_param once; returns the geometry for a given (H, W), with the fork's checks as LayerErrors. With
 * use_blob_size (soeaver/py-RFCN-priv's caffe-priv: its FPN nets) the output is bottom[1]'s (H, W): `sizeOf`.
 */
function interpGeometry(def: LayerParameter): (height: number, width: number, sizeOf?: Shape) => InterpGeometry {
  const p = paramsOf<InterpParam>(def, 'interp_param');
  const raw = (def.interp_param ?? {}) as Record<string, unknown>;
  const has = (f: keyof InterpParam) => raw[f] !== undefined;
  need(def, p.pad_beg <= 0 && p.pad_end <= 0, () => `pad_beg and pad_end must be 0 or negative (the fork only crops), got ${p.pad_beg} and ${p.pad_end}`);
  const shrink = has('shrink_factor'), zoom = has('zoom_factor');
  need(def, p.use_blob_size || shrink || zoom || (has('height') && has('width')), 'needs zoom_factor, shrink_factor, both height and width, or use_blob_size');
  // caffe-priv's Reshape returns at use_blob_size before it reads (or checks) the factors.
  if (shrink && !p.use_blob_size) need(def, p.shrink_factor >= 1, () => `shrink_factor must be at least 1, got ${p.shrink_factor}`);
  if (zoom && !p.use_blob_size) need(def, p.zoom_factor >= 1, () => `zoom_factor must be at least 1, got ${p.zoom_factor}`);
  // The fork's order of cases: shrink alone, zoom alone, height and width, then shrink followed by zoom.
  const shrunk = (n: number) => Math.floor((n - 1) / p.shrink_factor) + 1;
  const zoomed = (n: number) => n + (n - 1) * (p.zoom_factor - 1);
  const size = (n: number, fixed: number): number =>
    shrink && !zoom ? shrunk(n) : zoom && !shrink ? zoomed(n) : !shrink ? fixed : zoomed(shrunk(n));
  return (height, width, sizeOf) => {
    const inH = height + p.pad_beg + p.pad_end, inW = width + p.pad_beg + p.pad_end;
    need(def, inH > 0 && inW > 0, () => `pad_beg ${p.pad_beg} and pad_end ${p.pad_end} crop all of the ${height} x ${width} input`);
    // caffe-priv's Reshape asks use_blob_size first, before the factors and the fixed size.
    const outH = sizeOf ? sizeOf[2] : size(inH, p.height), outW = sizeOf ? sizeOf[3] : size(inW, p.width);
    need(def, outH > 0 && outW > 0, () => `output size ${outH} x ${outW} must be positive`);
    return { offset: -p.pad_beg, inH, inW, outH, outW };
  };
}

/**
 * One axis of the fork's bilinear sampling (caffe_cpu_interp2 in src/caffe/util/interp.cpp): aligned corners,
 * ratio (in - 1) / (out - 1) and the source position computed in float32 as there; the last row/column has no
 * neighbour (step 0).
 */
function axisTable(inSize: number, outSize: number): { index: Int32Array; step: Int32Array; lambda: Float32Array } {
  const index = new Int32Array(outSize), step = new Int32Array(outSize), lambda = new Float32Array(outSize);
  const ratio = outSize > 1 ? Math.fround((inSize - 1) / (outSize - 1)) : 0;
  for (let o = 0; o < outSize; o++) {
    const r = Math.fround(ratio * o);
    const i = Math.trunc(r);
    index[o] = i;
    step[o] = i < inSize - 1 ? 1 : 0;
    lambda[o] = Math.fround(r - i);
  }
  return { index, step, lambda };
}

/**
 * Interp (hszhao/PSPNet, DeepLab v2): bilinear resize with aligned corners of each (N, C) plane, after cropping
 * -pad_beg rows/columns at the start and -pad_end at the end. Output size from zoom_factor (n + (n - 1)(z - 1)),
 * shrink_factor ((n - 1) / s + 1), both (shrink, then zoom), height and width, or (use_blob_size, caffe-priv of
 * soeaver/py-RFCN-priv) bottom[1]'s height and width. ONNX: Slice + Resize
 * (linear, align_corners).
 */
export const interpLayer: LayerType = {
  type: 'Interp',
  create(def) {
    const geometryFor = interpGeometry(def), blobSize = usesBlobSize(def);
    let g: InterpGeometry | undefined;
    let rows = axisTable(1, 1), cols = rows;
    return {
      notes: unreadBottoms(def, blobSize),
      reshape(shapes) {
        const [shape] = shapes, sizeOf = blobSize ? shapes[1] : undefined;
        need(def, !blobSize || sizeOf !== undefined, 'with use_blob_size takes its output size from a second bottom: give it one');
        // caffe-priv's MinBottomBlobs 1 and no maximum: the bottoms after those it reads are not checked.
        expectCounts(def, [blobSize ? 2 : 1, Infinity], [1, 1]);
        need4d(def, sizeOf ? [shape, sizeOf] : [shape]);
        g = geometryFor(shape[2], shape[3], sizeOf);
        rows = axisTable(g.inH, g.outH);
        cols = axisTable(g.inW, g.outW);
        return [[shape[0], shape[1], g.outH, g.outW]];
      },
      forward([bottom], [top]) {
        const [num, channels, height, width] = bottom.dims;
        const planes = num * channels, inPlane = height * width, outPlane = g!.outH * g!.outW;
        const copy = g!.inH === g!.outH && g!.inW === g!.outW;
        for (let c = 0; c < planes; c++) {
          const xo = c * inPlane + g!.offset * width + g!.offset;
          if (copy) copyWindow(bottom.data, xo, width, top.data, c * outPlane, g!.outH, g!.outW);
          else bilinear(bottom.data, xo, width, top.data, c * outPlane, rows, cols);
        }
      },
      takesEmpty: (i) => i === 1, // use_blob_size's: its shape only
    };
  },
  onnx: interpToOnnx,
};

/**
 * The note for bottoms the layer does not read: those after the first (after the second with use_blob_size).
 * caffe-priv's Interp (MinBottomBlobs 1) takes any number and reads bottom[1] only for use_blob_size; hszhao/PSPNet's
 * (ExactNumBottomBlobs 1) refuses a second, so a net that has one loads in caffe-priv only: crema does as it does.
 */
function unreadBottoms(def: LayerParameter, blobSize: boolean): string[] {
  const unread = (def.bottom ?? []).slice(blobSize ? 2 : 1);
  if (!unread.length) return [];
  return [`bottom(s) ${unread.map((b) => `'${b}'`).join(', ')} not read: caffe-priv (soeaver/py-RFCN-priv) takes them and reads a second bottom only for use_blob_size (hszhao/PSPNet's Interp takes one bottom)`];
}

/** caffe-priv's use_blob_size: the output takes bottom[1]'s height and width (the fork checks there is one). */
function usesBlobSize(def: LayerParameter): boolean {
  return paramsOf<InterpParam>(def, 'interp_param').use_blob_size;
}

function copyWindow(x: Float32Array, xo: number, width: number, y: Float32Array, yo: number, outH: number, outW: number): void {
  for (let h = 0; h < outH; h++) y.set(x.subarray(xo + h * width, xo + h * width + outW), yo + h * outW);
}

function bilinear(x: Float32Array, xo: number, width: number, y: Float32Array, yo: number, rows: ReturnType<typeof axisTable>, cols: ReturnType<typeof axisTable>): void {
  const outH = rows.index.length, outW = cols.index.length;
  const ci = cols.index, cs = cols.step, cl = cols.lambda;
  for (let h = 0; h < outH; h++) {
    const top = xo + rows.index[h] * width, below = rows.step[h] * width;
    const h1 = rows.lambda[h], h0 = Math.fround(1 - h1);
    const out = yo + h * outW;
    for (let w = 0; w < outW; w++) {
      const p = top + ci[w], dx = cs[w];
      const w1 = cl[w], w0 = Math.fround(1 - w1);
      y[out + w] = h0 * (w0 * x[p] + w1 * x[p + dx]) + h1 * (w0 * x[p + below] + w1 * x[p + below + dx]);
    }
  }
}

function interpToOnnx(c: LayerContext): void {
  const { layer } = c;
  // After a Filter (dynamic axes) the sizes must come from the run, not the load-time shape: Resize's N among them.
  if (c.anySize || c.dynamicAxes(0).length > 0) return interpAnySize(c);
  const x: Shape = layer.bottomShapes[0];
  const g = interpGeometry(layer.def)(x[2], x[3], usesBlobSize(layer.def) ? layer.bottomShapes[1] : undefined);
  let input = c.bottom(0);
  if (g.inH !== x[2] || g.inW !== x[3]) {
    const starts = c.b.int64s(`${layer.name}/crop_starts`, [g.offset, g.offset]);
    const ends = c.b.int64s(`${layer.name}/crop_ends`, [g.offset + g.inH, g.offset + g.inW]);
    input = c.node('Slice', [input, starts, ends, c.b.int64s(`${layer.name}/crop_axes`, [2, 3])], [c.tmp('cropped')]);
  }
  if (g.inH === g.outH && g.inW === g.outW) {
    c.alias(0, input); // the fork copies the window
    return;
  }
  const sizes = c.b.int64s(`${layer.name}/sizes`, [x[0], x[1], g.outH, g.outW]);
  c.node('Resize', [input, '', '', sizes], [c.top(0)], {
    mode: { string: 'linear' },
    coordinate_transformation_mode: { string: 'align_corners' },
  });
}

/**
 * Interp for every input size (ConvertOptions.anySize): the crop and the output size computed from the input's Shape
 * as interpGeometry computes them (int64 division floors: the sizes are positive), a fixed height and width as they
 * are. Zoom and shrink factors of 1 copy the (cropped) input, as the fork does.
 */
function interpAnySize(c: LayerContext): void {
  const { layer } = c, n = layer.name;
  const p = paramsOf<InterpParam>(layer.def, 'interp_param');
  const raw = (layer.def.interp_param ?? {}) as Record<string, unknown>;
  const shrink = raw.shrink_factor !== undefined, zoom = raw.zoom_factor !== undefined;
  const pair = (name: string, v: number) => c.b.int64s(`${n}/${name}`, [v, v]);
  let input = c.bottom(0), dims = runtimeDims(c, input, 2, 4);
  if (p.pad_beg !== 0 || p.pad_end !== 0) {
    const ends = c.node('Add', [dims, pair('pad_end', p.pad_end)], [c.tmp('crop_ends')]);
    input = c.node('Slice', [input, pair('crop_starts', -p.pad_beg), ends, c.b.int64s(`${n}/crop_axes`, [2, 3])], [c.tmp('cropped')]);
    dims = c.node('Add', [dims, pair('pads', p.pad_beg + p.pad_end)], [c.tmp('cropped_dims')]);
  }
  if (p.use_blob_size) return resizeTo(c, input, runtimeDims(c, c.bottom(1), 2, 4));
  if ((shrink || zoom) && (!shrink || p.shrink_factor === 1) && (!zoom || p.zoom_factor === 1)) {
    c.alias(0, input); // the fork copies the window
    return;
  }
  let sizes = shrink || zoom ? dims : c.b.int64s(`${n}/fixed_size`, [p.height, p.width]);
  if (shrink) sizes = c.node('Add', [c.node('Div', [c.node('Add', [sizes, pair('less_one', -1)], [c.tmp('less_one')]), pair('shrink', p.shrink_factor)], [c.tmp('shrunk_less_one')]), pair('one', 1)], [c.tmp('shrunk')]);
  if (zoom) sizes = c.node('Add', [c.node('Mul', [sizes, pair('zoom', p.zoom_factor)], [c.tmp('zoom_times')]), pair('zoom_less', 1 - p.zoom_factor)], [c.tmp('zoomed')]);
  resizeTo(c, input, sizes);
}

/** The aligned-corners Resize of the (cropped) input to (N, C, sizes), sizes a runtime (H, W). */
function resizeTo(c: LayerContext, input: string, sizes: string): void {
  const full = c.node('Concat', [runtimeDims(c, c.bottom(0), 0, 2), sizes], [c.tmp('sizes')], { axis: int(0) });
  c.node('Resize', [input, '', '', full], [c.top(0)], {
    mode: { string: 'linear' },
    coordinate_transformation_mode: { string: 'align_corners' },
  });
}
