import { type LayerContext } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { Shape, Tensor } from '../tensor.js';
import { countRange, hasParam } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, need } from './layer.js';

/** Tile: repeats the block of axes [axis, end) `tiles` times along `axis`. */
export const tileLayer: LayerType = {
  type: 'Tile',
  onnx: tileToOnnx,
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'tile_param');
    need(def, hasParam(def, 'tile_param', 'tiles'), 'needs tile_param { tiles: ... }');
    const tiles: number = p.tiles;
    need(def, Number.isSafeInteger(tiles) && tiles > 0, () => `tiles must be positive, got ${tiles}`);
    let axis = 0;
    return {
      reshape(bottoms: Shape[]): Shape[] {
        axis = canonicalAxis(def, p.axis, bottoms[0].length);
        return [bottoms[0].map((d, i) => (i === axis ? d * tiles : d))];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const src = bottoms[0].data, dst = tops[0].data;
        const outer = countRange(bottoms[0].dims, 0, axis);
        const inner = countRange(bottoms[0].dims, axis);
        let at = 0;
        for (let n = 0; n < outer; n++) {
          const block = src.subarray(n * inner, (n + 1) * inner);
          for (let t = 0; t < tiles; t++, at += inner) dst.set(block, at);
        }
      },
    };
  },
};

function tileToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'tile_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(layer.def, p.axis as number, x.length);
  const repeats = x.map((_, i) => (i === axis ? (p.tiles as number) : 1));
  c.node('Tile', [c.bottom(0), c.b.int64s(`${layer.name}/repeats`, repeats)], [c.top(0)]);
}
