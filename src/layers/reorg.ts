import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { ints } from '../onnx/builder.js';
import { type LayerContext, joinedDims, onlyItemsDynamic, runtimeAxesCopied, runtimeDims } from '../onnx/context.js';
import { type Shape, Tensor } from '../tensor.js';
import { expectCounts, type LayerType, need, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';
import { permuteAxes } from './permute.js';

interface ReorgParam {
  stride: number;
  reverse: boolean;
}

function readReorg(def: LayerParameter): ReorgParam {
  const p = paramsOf<ReorgParam>(def, 'reorg_param');
  need(def, (def.reorg_param as { stride?: number } | undefined)?.stride !== undefined, 'needs reorg_param { stride }');
  need(def, p.stride > 0, () => `stride must be positive, got ${p.stride}`);
  return p;
}

/**
 * The 6-D view of one side that the reorganisation transposes (`perm` from the bottom's view to the top's), for
 * Reorg of a (N, C, H, W) bottom with stride s, t = C / s^2:
 * - reverse false (YOLOv2's passthrough; darknet's reorg with forward = 0, the fork's default): the bottom's
 *   memory read as if it were (N, t, H s, W s), i.e. (N, t, H, s, W, s) [n, c2, h, dy, w, dx]; the top's memory is
 *   (N, s, s, t, H, W) [n, dy, dx, c2, h, w], reshaped to (N, C s^2, H / s, W / s). Darknet's famous quirk: the
 *   rows are not the spatial blocks of a space-to-depth, yet trained YOLOv2 weights expect exactly this.
 * - reverse true (darknet's forward = 1): the inverse, (N, s, s, t, H, W) to (N, t, H, s, W, s), top (N, t, H s, W s).
 */
function reorgView([num, channels, height, width]: Shape, { stride: s, reverse }: ReorgParam): { view: number[]; perm: number[]; top: Shape } {
  const t = channels / (s * s);
  return reverse
    ? { view: [num, s, s, t, height, width], perm: [0, 3, 4, 1, 5, 2], top: [num, t, height * s, width * s] }
    : { view: [num, t, height, s, width, s], perm: [0, 3, 5, 1, 2, 4], top: [num, channels * s * s, height / s, width / s] };
}

/**
 * Reorg (eric612/MobileNet-YOLO's reorg_layer.cpp, its CPU loop; YOLOv2's passthrough layer as darknet computes
 * it): a fixed permutation of the bottom's values, see reorgView. The fork checks only that stride is given; a
 * channel count not divisible by stride^2 (reverse false: also a height or width not divisible by stride) makes
 * it read or write outside its blobs, so crema refuses those.
 */
export const reorgLayer: LayerType = {
  type: 'Reorg',
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    const p = readReorg(def);
    refuseInPlace(def);
    let view: ReturnType<typeof reorgView>;
    return {
      reshape([shape]) {
        need4d(def, [shape]);
        const [, channels, height, width] = shape, s = p.stride;
        need(def, channels % (s * s) === 0, () => `channels ${channels} are not a multiple of stride^2 = ${s * s}`);
        if (!p.reverse) need(def, height % s === 0 && width % s === 0, () => `height and width ${height} x ${width} are not multiples of stride ${s}`);
        view = reorgView(shape, p);
        return [view.top];
      },
      forward([bottom], [top]) {
        // Both sides' memory is the 6-D views': permute the bottom's view into the top's.
        permuteAxes(new Tensor(view.view, bottom.data), new Tensor(view.perm.map((a) => view.view[a]), top.data), view.perm);
      },
    };
  },
  onnx(c: LayerContext) {
    const p = readReorg(c.layer.def);
    const { view, perm, top } = c.anySize || !onlyItemsDynamic(c) ? reorgAnySize(c, p) : constantShapes(c, reorgView(c.layer.bottomShapes[0], p));
    const split = c.node('Reshape', [c.bottom(0), view], [c.tmp('view')]);
    const moved = c.node('Transpose', [split], [c.tmp('moved')], { perm: ints(perm) });
    c.node('Reshape', [moved, top], [c.top(0)]);
  },
};

/** reorgView's shapes as constants (the net's own input size), the items copied (0) after a Filter (axis 0 stays first). */
function constantShapes(c: LayerContext, { view, perm, top }: ReturnType<typeof reorgView>): { view: string; perm: number[]; top: string } {
  return { view: c.b.int64s(`${c.layer.name}/view`, runtimeAxesCopied(c, view)), perm, top: c.b.int64s(`${c.layer.name}/shape`, runtimeAxesCopied(c, top)) };
}

/**
 * reorgView's shapes for every input size (ConvertOptions.anySize): the batch copied (Reshape's 0), the channels
 * constants, the height and width from the bottom's Shape (times or divided by the stride: int64, exact, as the
 * layer takes only multiples of it), so that no constant holds H or W.
 */
function reorgAnySize(c: LayerContext, p: ReorgParam): { view: string; perm: number[]; top: string } {
  const n = c.layer.name, s = p.stride, channels = c.layer.bottomShapes[0][1], t = channels / (s * s);
  const { perm } = reorgView([1, channels, s, s], p);
  const hw = runtimeDims(c, c.bottom(0), 2, 4), strides = c.b.int64s(`${n}/strides`, [s, s]);
  if (p.reverse) {
    const grown = c.node('Mul', [hw, strides], [c.tmp('grown')]);
    return { view: joinedDims(c, 'view', [[0, s, s, t], hw]), perm, top: joinedDims(c, 'shape', [[0, t], grown]) };
  }
  // (N, t, H, s, W, s): 0 copies N and H from the bottom (N, C, H, W), -1 is W.
  const shrunk = c.node('Div', [hw, strides], [c.tmp('shrunk')]);
  return { view: c.b.int64s(`${n}/view`, [0, t, 0, s, -1, s]), perm, top: joinedDims(c, 'shape', [[0, channels * s * s], shrunk]) };
}
