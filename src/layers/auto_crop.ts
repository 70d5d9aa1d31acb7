import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape, shapeString } from '../tensor.js';
import { readConvWindow } from './convolution.js';
import { cropCopy, sliceTo } from './crop.js';
import { expectCounts, LayerError, type LayerType, need, need4d, type NetContext } from './layer.js';
import { readPoolSettings } from './pooling.js';

const f32 = Math.fround;

/** One axis of a DiagonalAffineMap: x -> scale x + shift, in float (the fork's Dtype). */
type Coef = [scale: number, shift: number];
type CoordMap = [Coef, Coef];

const IDENTITY: CoordMap = [[1, 0], [1, 0]];
const compose = (l: CoordMap, r: CoordMap): CoordMap => [0, 1].map((i) => [f32(l[i][0] * r[i][0]), f32(f32(l[i][0] * r[i][1]) + l[i][1])]) as CoordMap;
const inverse = (m: CoordMap): CoordMap => m.map(([a, b]) => [f32(1 / a), f32(-b / a)]) as CoordMap;
/** FilterMap: a window of `kernel` at `stride` with `pad` maps x to stride x + (kernel - 1) / 2 - pad. */
const filterMap = (kernel: number[], stride: number[], pad: number[]): CoordMap =>
  [0, 1].map((i) => [stride[i], f32(f32((kernel[i] - 1) / 2) - pad[i])]) as CoordMap;

/** Layers the fork maps one to one (its identity coord_map): its NeuronLayers, Concat, Eltwise, LRN, MVN, Slice, Softmax, Split. */
const IDENTITY_TYPES = new Set(['AbsVal', 'BNLL', 'Dropout', 'ELU', 'Exp', 'Log', 'Power', 'PReLU', 'ReLU', 'Sigmoid', 'TanH', 'Threshold',
  'Concat', 'Eltwise', 'LRN', 'MVN', 'Slice', 'Softmax', 'Split']);

/**
 * The offsets each layer resolved (its ONNX export reads them: they come from the net, not its def), as RCF's Caffe
 * walks (a BVLC Crop on the way maps by its offsets) and as FCN's of 2015 (hed: every Crop is this layer).
 */
const resolved = { rcf: new WeakMap<LayerParameter, [number, number]>(), hed: new WeakMap<LayerParameter, [number, number]>() };

/** A layer's coord_map in the fork (the map from its top's coordinates to its bottom's, or back for Deconvolution). */
function coordMap(def: LayerParameter, autoCrop: AutoCropFor, on: LayerParameter, hed: boolean): CoordMap {
  switch (def.type) {
    case 'Convolution':
    case 'Deconvolution': {
      const s = readConvWindow(def);
      const extent = s.kernel.map((k, i) => s.dilation[i] * (k - 1) + 1);
      const map = filterMap(extent, s.stride, s.pad);
      return def.type === 'Convolution' ? inverse(map) : map;
    }
    case 'Pooling': {
      const s = readPoolSettings(def);
      need(on, !s.global, () => `its path to the image meets '${def.name}', a global Pooling, whose window only its input's size gives: crema cannot align through it`);
      return inverse(filterMap(s.kernel, s.stride, s.pad));
    }
    case 'Crop': {
      // In FCN's Caffe of 2015 (the hed dialect) Crop is this layer.
      if (hed) {
        const [h, w] = autoCrop(def);
        return [[1, -h], [1, -w]];
      }
      // RCF's Crop (BVLC's) maps by its offsets of axes 0 and 1 (num and channels), whatever axis it crops.
      const p = paramsOf(def, 'crop_param'), given: number[] = p.offset ?? [], axis = p.axis < 0 ? p.axis + 4 : p.axis;
      const at = (i: number) => (i < axis ? 0 : given.length === 0 ? 0 : given.length === 1 ? given[0] : given[i - axis] ?? 0);
      return [[1, -at(0)], [1, -at(1)]];
    }
    case 'AutoCrop': {
      const [h, w] = autoCrop(def);
      return [[1, -h], [1, -w]];
    }
    default:
      if (IDENTITY_TYPES.has(def.type)) return IDENTITY;
      throw new LayerError(on, `its path to the image meets '${def.name}' (${def.type}), which has no coordinate map in RCF's Caffe (that Caffe stops: NOT_IMPLEMENTED)`);
  }
}

type AutoCropFor = (def: LayerParameter) => [number, number];

/**
 * AutoCrop's offsets (AutoCropLayer::LayerSetUp): walk back from bottom 0 along each layer's first bottom, then from
 * bottom 1 to the first blob on that path; compose the layers' coordinate maps along both walks; the crop is the
 * map from bottom 0's coordinates to bottom 1's, which must be a shift by a whole number of pixels, not positive.
 */
function offsetsOf(def: LayerParameter, producers: ReadonlyMap<string, LayerParameter>, hed: boolean): [number, number] {
  const cache = hed ? resolved.hed : resolved.rcf, done = cache.get(def);
  if (done) return done;
  const [b0, b1] = def.bottom!;
  const earlier = (blob: string): LayerParameter | undefined => producers.get(blob);
  const path = new Set<string>([b0]);
  for (let blob = b0, l = earlier(blob); l && (l.bottom?.length ?? 0) > 0; l = earlier(blob)) {
    blob = l.bottom![0];
    path.add(blob);
  }
  let meet = b1;
  while (!path.has(meet)) {
    const l = earlier(meet);
    need(def, l && (l.bottom?.length ?? 0) > 0, () => `cannot align '${b0}' with '${b1}': they share no blob on the way to the net's input (RCF's Caffe: "Cannot align apparently disconnected blobs.")`);
    meet = l.bottom![0];
  }
  const autoCrop: AutoCropFor = (d) => offsetsOf(d, producers, hed);
  const walk = (from: string): CoordMap => {
    let map = IDENTITY;
    for (let blob = from; blob !== meet; ) {
      const l = earlier(blob)!;
      map = compose(map, coordMap(l, autoCrop, def, hed));
      blob = l.bottom![0];
    }
    return map;
  };
  const crop = compose(walk(b1), inverse(walk(b0)));
  const axes = ['height', 'width'];
  crop.forEach(([scale, shift], i) => {
    need(def, scale === 1, () => `'${b0}' and '${b1}' differ in scale along ${axes[i]} (${scale}): AutoCrop aligns blobs of the same resolution`);
    need(def, shift <= 0, () => `'${b0}' starts inside '${b1}' along ${axes[i]} (offset ${-shift}): AutoCrop cannot crop a negative width`);
    need(def, Number.isInteger(shift), () => `'${b0}' is offset from '${b1}' by ${-shift} along ${axes[i]}, not a whole number of pixels`);
  });
  const out: [number, number] = [-Math.round(crop[0][1]), -Math.round(crop[1][1])];
  cache.set(def, out);
  return out;
}

/**
 * AutoCrop (yun-liu/RCF's Caffe, from FCN's first crop layer): bottom 0 cut to bottom 1's height and width, at the
 * offset the layers between them imply (offsetsOf), for RCF's and HED-style side outputs. Exported as a Slice. FCN's
 * Caffe of 2015 (HED's, CRF-RNN's: the hed dialect) runs its Crop as this.
 */
export const autoCropLayer: LayerType = {
  type: 'AutoCrop',
  onnx: autoCropToOnnx,
  create(def, _weights, net: NetContext = {}) {
    expectCounts(def, [2, 2], [1, 1]);
    const [h, w] = offsetsOf(def, net.producers ?? new Map(), net.dialect === 'hed');
    return {
      reshape([data, ref]: Shape[]) {
        need4d(def, [data, ref]);
        need(def, h + ref[2] <= data[2] && w + ref[3] <= data[3], () =>
          `'${def.bottom![1]}' (${ref[2]} x ${ref[3]}) at offset ${h}, ${w} does not fit in '${def.bottom![0]}' ${shapeString(data)} (the fork would read past it)`);
        return [[data[0], data[1], ref[2], ref[3]]];
      },
      forward([x], [y]) {
        cropCopy(x, y, [0, 0, h, w]);
      },
      takesEmpty: (i) => i === 1, // the reference: its shape only
    };
  },
};

/**
 * Where FCN's Caffe of 2015 would crop a Crop that has no crop_param (HED's and CRF-RNN's nets, where BVLC crops at
 * 0, 0), for a note; undefined where its walk fails (that Caffe would stop).
 */
export function coordinateOffsets(def: LayerParameter, producers: ReadonlyMap<string, LayerParameter>): [number, number] | undefined {
  try {
    return offsetsOf(def, producers, true);
  } catch {
    return undefined;
  }
}

export function autoCropToOnnx(c: LayerContext): void {
  const { layer } = c;
  const [h, w] = (c.net.dialect === 'hed' ? resolved.hed : resolved.rcf).get(layer.def)!;
  const top = layer.topShapes[0];
  sliceTo(c, [h, w], [2, 3], [top[2], top[3]]);
}
