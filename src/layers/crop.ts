import { type LayerContext, runtimeDims } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { copyRun, countRange } from './axes.js';
import { autoCropLayer, autoCropToOnnx, coordinateOffsets } from './auto_crop.js';
import { type Layer, type LayerType, type NetContext, canonicalAxis, expectCounts, need } from './layer.js';

/**
 * Crop: cuts bottom[0] down to bottom[1]'s size on every axis from `axis` on, starting at `offset`
 * (one offset for all those axes, or one per axis; none means 0).
 */
export const cropLayer: LayerType = {
  type: 'Crop',
  onnx: (c) => (c.net.dialect === 'hed' ? autoCropToOnnx(c) : cropToOnnx(c)),
  create(def: LayerParameter, weights, net: NetContext = {}): Layer {
    expectCounts(def, [2, 2], [1, 1]);
    if (net.dialect === 'hed') {
      need(def, def.crop_param === undefined, "has crop_param, which the Crop of FCN's Caffe of 2015 (the hed dialect) does not: it aligns by the layers' coordinate maps");
      return autoCropLayer.create(def, weights, net);
    }
    const p = paramsOf(def, 'crop_param');
    const aligned = def.crop_param === undefined && net.producers ? coordinateOffsets(def, net.producers) : undefined;
    const given: number[] = p.offset ?? [];
    let offsets: number[] = [];
    return {
      // BVLC's Crop without crop_param cuts at 0, 0; the same line in HED's or CRF-RNN's net (FCN's Caffe of 2015)
      // meant the offset its coordinate maps give: said when that differs, as the dialect that runs it so.
      notes: aligned && (aligned[0] || aligned[1]) ? [cropNote(aligned)] : undefined,
      reshape(bottoms: Shape[]): Shape[] {
        const [data, ref] = bottoms;
        const start = canonicalAxis(def, p.axis, data.length);
        need(def, given.length <= 1 || start + given.length === data.length, () =>
          `has ${given.length} offsets; it needs one, or one per axis from axis ${start} on (${data.length - start})`);
        need(def, ref.length >= data.length, () =>
          `bottom[1] ${shapeString(ref)} must have at least the ${data.length} axes of bottom[0] ${shapeString(data)}`);
        offsets = data.map((_, i) => (i < start ? 0 : given.length === 0 ? 0 : given.length === 1 ? given[0] : given[i - start]));
        const top = data.map((d, i) => (i < start ? d : ref[i]));
        data.forEach((d, i) =>
          need(def, d - offsets[i] >= top[i], () =>
            `the crop for axis ${i} is out of bounds: size ${top[i]} at offset ${offsets[i]} does not fit in ${d} (bottom[0] ${shapeString(data)})`),
        );
        return [top];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        cropCopy(bottoms[0], tops[0], offsets);
      },
      takesEmpty: (i) => i === 1, // the reference: its shape only
    };
  },
};

function cropNote([h, w]: [number, number]): string {
  return `no crop_param: cut at offset 0, 0 of height and width, as BVLC Caffe does; the Crop of FCN's Caffe of 2015 (HED's, CRF-RNN's) ` +
    `would cut at ${h}, ${w}, where the layers' coordinate maps align its bottoms: for those nets load with options.dialect 'hed'`;
}

/** Copies the window of `src` starting at `offsets` into `dst`, one contiguous last-axis row at a time. */
export function cropCopy(src: Tensor, dst: Tensor, offsets: number[]): void {
  const rank = dst.dims.length;
  if (rank === 0) {
    dst.data[0] = src.data[0];
    return;
  }
  const rowLen = dst.dims[rank - 1];
  const rows = countRange(dst.dims, 0, rank - 1);
  const srcStrides = src.dims.map((_, i) => countRange(src.dims, i + 1));
  const index = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let from = offsets[rank - 1];
    for (let i = 0; i < rank - 1; i++) from += (index[i] + offsets[i]) * srcStrides[i];
    copyRun(src.data, from, dst.data, r * rowLen, rowLen);
    // Odometer step over the leading axes.
    for (let i = rank - 2; i >= 0; i--) {
      if (++index[i] < dst.dims[i]) break;
      index[i] = 0;
    }
  }
}

function cropToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'crop_param');
  const data = layer.bottomShapes[0], top = layer.topShapes[0];
  const start = canonicalAxis(layer.def, p.axis as number, data.length);
  const given = (p.offset as number[]) ?? [];
  const axes = data.map((_, i) => i).filter((i) => i >= start);
  const offsets = axes.map((i) => (given.length === 0 ? 0 : given.length === 1 ? given[0] : given[i - start]));
  sliceTo(c, offsets, axes, axes.map((a) => top[a]));
}

/**
 * Top 0 as bottom 0 from `offsets` along `axes` (the trailing axes, from the first), as long as `sizes` there: those
 * of bottom 1, the reference (Crop and AutoCrop), taken from its Shape at run time in a size-free model and where
 * they are sized at run time.
 */
export function sliceTo(c: LayerContext, offsets: number[], axes: number[], sizes: number[]): void {
  const n = c.layer.name;
  const starts = c.b.int64s(`${n}/starts`, offsets);
  // The reference's sizes at run time too where a Filter sizes the ones cropped to (a Crop at axis 0 to its items).
  const ends = c.anySize || c.dynamicAxes(1).some((a) => axes.includes(a))
    ? c.node('Add', [runtimeDims(c, c.bottom(1), axes[0], axes[0] + axes.length), starts], [c.tmp('ends')])
    : c.b.int64s(`${n}/ends`, axes.map((_, j) => offsets[j] + sizes[j]));
  c.node('Slice', [c.bottom(0), starts, ends, c.b.int64s(`${n}/axes`, axes)], [c.top(0)]);
}
