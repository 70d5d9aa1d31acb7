// unsky/FPN's Python layers, built in: its multi-level rpn.proposal_layer.ProposalLayer (11 bottoms) and
// rpn.as_rois / rpn.as_rois_mrcnn. Referee: FPN's own Python code at a096edb run as Python layers by real Caffe 1.0 on
// the same bottoms (test/fixtures/fork/fpn/make.sh, fpn_ref.py).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { levelBound, roiLevels } from '../src/layers/as_rois.js';
import { TIES_NOTE, decodeMap, greedyNms } from '../src/layers/proposal.js';
import { declaredWeights } from '../src/layers/layer.js';
import { buildGraph } from '../src/graph/graph.js';
import { convertGraph } from '../src/onnx/convert.js';
import { OnnxSessions, runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { checkDetectorPrototxt, detectImage, detectOnnx, detectionKind, detectionRun } from '../src/detect/detect.js';
import type { FloatImage } from '../src/image/image.js';
import { errorOf } from './helpers/cli.js';
import { relativeError } from './helpers/reference.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/fork/fpn');
const fixtureOf = (name: string) => readNpy(path.join(fixture, `${name}.npy`));
const netOf = (text: string) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });

const STRIDES = [4, 8, 16, 32, 64];
/** fpn_ref.py's CASES: image height, width, scale; the maps' rows and columns beyond int(image / stride); ties. */
const CASES = { a: [256, 320, 1, 0, undefined], b: [60, 90, 1.5, 2, undefined], tied: [256, 320, 1, 0, 0.5] } as const;

/** fpn_ref.py's net: im_info, the deltas of strides 4 to 64, their scores; one top; the published layer's param_str. */
function proposalText(maps: number[][], paramStr = "'feat_stride': 4,8,16,32,64"): string {
  const input = (name: string, c: number, [h, w]: number[]) => `input: "${name}" input_shape { dim: 1 dim: ${c} dim: ${h} dim: ${w} }`;
  const bottoms = [...STRIDES.map((s) => `d${s}`), ...STRIDES.map((s) => `c${s}`)];
  return `input: "im_info" input_shape { dim: 1 dim: 3 }
    ${STRIDES.map((s, i) => input(`d${s}`, 24, maps[i])).join('\n')}
    ${STRIDES.map((s, i) => input(`c${s}`, 12, maps[i])).join('\n')}
    layer { name: "proposal" type: "Python" bottom: "im_info" ${bottoms.map((b) => `bottom: "${b}"`).join(' ')} top: "rois"
      python_param { module: "rpn.proposal_layer" layer: "ProposalLayer" param_str: "${paramStr}" } }`;
}
const proposalNet = (maps: number[][], paramStr?: string): Net => netOf(proposalText(maps, paramStr));

/** fpn_ref.py's bottoms of a case. */
function proposalInputs([imH, imW, scale, extra, tie]: readonly [number, number, number, number, number | undefined]) {
  const maps = STRIDES.map((s) => [Math.floor(imH / s) + extra, Math.floor(imW / s) + extra]);
  const feeds: Record<string, Tensor> = { im_info: new Tensor([1, 3], Float32Array.of(imH, imW, scale)) };
  STRIDES.forEach((s, i) => {
    const [h, w] = maps[i], n = 12 * h * w, ties = hashInputData(60 + i, 1, [n]);
    feeds[`c${s}`] = new Tensor([1, 12, h, w], hashInputData(50 + i, 1, [n]).map((u, j) => (tie !== undefined && ties[j] < tie ? 1 : Math.fround(Math.fround(u + 1) * 0.5))));
    feeds[`d${s}`] = new Tensor([1, 24, h, w], hashInputData(40 + i, 0.3, [2 * n]));
  });
  return { maps, feeds };
}

describe("unsky/FPN's proposal layer (rpn.proposal_layer with 11 bottoms)", () => {
  for (const [name, c] of Object.entries(CASES))
    it(`gives FPN's own rois, case ${name} (${c[0]} x ${c[1]} image, scale ${c[2]}${c[3] ? ', maps larger than the image' : ''}${c[4] ? ', tied scores' : ''})`, () => {
      const { maps, feeds } = proposalInputs(c);
      const net = proposalNet(maps);
      expect(net.notes.some((n) => n.startsWith("layer 'proposal': the Python layer rpn.proposal_layer.ProposalLayer (unsky/FPN's) runs as crema's built-in copy of it"))).toBe(true);
      const rois = net.forward(feeds).rois, want = fixtureOf(`proposal-${name}`), kept = fixtureOf(`proposal-${name}-kept`).data[0];
      expect(rois.dims).toEqual([1000, 5]);
      const n = Math.min(kept, 1000);
      // The rows NMS kept: numpy's float32 steps (its exp may differ in the last bit) and argsort's order of ties, over
      // all levels together.
      const head = (t: Tensor) => new Tensor([n, 5], t.data.slice(0, 5 * n));
      expect(relativeError(head(rois), head(want))).toBeLessThanOrEqual(1e-6);
      // Fewer: FPN pads with npr.choice's random copies of them, crema with them again in order.
      const rowOf = (t: Float32Array, i: number) => Array.from(t.subarray(5 * i, 5 * i + 5)).join();
      const keptRows = new Set(Array.from({ length: n }, (_, i) => rowOf(want.data, i)));
      for (let i = n; i < 1000; i++) {
        expect(keptRows.has(rowOf(want.data, i))).toBe(true);
        expect(rowOf(rois.data, i)).toBe(rowOf(rois.data, i % n));
      }
      if (name === 'b') expect(kept).toBeLessThan(1000); // the padding case is tested
    });

  it('refuses bad param_str, bottoms and im_info in one line', () => {
    const { maps, feeds } = proposalInputs(CASES.b);
    expect(errorOf(() => proposalNet(maps, "'feat_stride': 16 \\n'scales': [8]"))).toBe(
      "layer 'proposal' (Python): param_str ''feat_stride': 16 \n'scales': [8]': FPN's proposal layer reads one thing, 'feat_stride': a list of strides among 4,8,16,32,64 (its bottoms are the levels of those strides)",
    );
    expect(errorOf(() => netOf(proposalText(maps).replace('input: "c8" input_shape { dim: 1 dim: 12', 'input: "c8" input_shape { dim: 1 dim: 18')))).toBe(
      "layer 'proposal' (Python): bottom[7] (stride 8) must be (1, 12, H, W): background and object scores of 6 anchors, got [1, 18, 9, 13]",
    );
    const big = { ...feeds, im_info: new Tensor([1, 3], Float32Array.of(600, 90, 1)) };
    expect(errorOf(() => proposalNet(maps).forward(big))).toBe(
      "layer 'proposal' (Python): im_info's image 600 x 90 is 150 x 22 cells of stride 4, more than its map's 17 x 24 (FPN's layer reads that many)",
    );
  });

  it('tells an image with no cell, a bad im_info and every box too small apart, in one line each', () => {
    const { maps, feeds } = proposalInputs(CASES.b), net = proposalNet(maps);
    const forward = (h: number, w: number, scale: number) => errorOf(() => net.forward({ ...feeds, im_info: new Tensor([1, 3], Float32Array.of(h, w, scale)) }));
    // int(3 / 4) = 0 rows and columns at every stride: nothing to propose, whatever min_size.
    expect(forward(3, 3, 1)).toBe("layer 'proposal' (Python): im_info's image 3 x 3 has no cell at any stride (4,8,16,32,64)");
    expect(forward(60, 3, 1)).toBe("layer 'proposal' (Python): im_info's image 60 x 3 has no cell at any stride (4,8,16,32,64)");
    for (const [h, w, scale] of [[-8, 64, 1], [60, -2, 1], [NaN, 90, 1], [60, NaN, 1], [60, 90, NaN], [60, 90, Infinity]])
      expect(forward(h, w, scale)).toBe(`layer 'proposal' (Python): im_info (${h}, ${w}, ${scale}) must be an image's height and width (0 or more) and a finite scale`);
    // Cells, but no box of them 16 x 100 wide: FPN's npr.choice of no rows raises.
    expect(forward(60, 90, 100)).toBe("layer 'proposal' (Python): no proposal is left: every box is smaller than min_size 16 x im_info's scale 100 (the image is 60 x 90)");
  });
});

/** fpn_ref.py's as_rois net, module `module`, on (R, 5) rois. */
const asRoisNet = (R: number, module: string, layer: string) => netOf(`input: "in" input_shape { dim: ${R} dim: 5 }
  layer { name: "as_rois" type: "Python" bottom: "in" top: "rois" top: "h2" top: "h3" top: "h4" top: "h5"
    python_param { module: "${module}" layer: "${layer}" } }`);

describe("unsky/FPN's as_rois layers (rpn.as_rois, rpn.as_rois_mrcnn)", () => {
  for (const name of ['mixed', 'small', 'few']) {
    const input = fixtureOf(`as-rois-in-${name}`);
    it(`as_rois gives FPN's four blocks of 1000 rows, rois ${name}`, () => {
      const out = asRoisNet(input.dims[0], 'rpn.as_rois', 'As_roisLayer').forward({ in: input });
      // The referee's top 0 as its nonzero rows [row, n, x1, y1, x2, y2].
      const want = new Float32Array(4000 * 5), rows = fixtureOf(`as-rois-${name}`);
      for (let i = 0; i < rows.dims[0]; i++) want.set(rows.data.subarray(6 * i + 1, 6 * i + 6), 5 * rows.data[6 * i]);
      expect(out.rois.dims).toEqual([4000, 5]);
      expect(Array.from(out.rois.data)).toEqual(Array.from(want));
      for (const [i, top] of ['h2', 'h3', 'h4', 'h5'].entries()) {
        expect(out[top].dims).toEqual([1000, 5]);
        expect(Array.from(out[top].data)).toEqual(Array.from(want.subarray(5000 * i, 5000 * (i + 1))));
      }
    });
    it(`as_rois_mrcnn gives FPN's rows of each level (4 zero rows for none), rois ${name}`, () => {
      const out = asRoisNet(input.dims[0], 'rpn.as_rois_mrcnn', 'As_rois_MergeRcnnLayer').forward({ in: input });
      const levels = [2, 3, 4, 5].map((l) => fixtureOf(`as-rois-mrcnn-${name}-${l}`));
      ['h2', 'h3', 'h4', 'h5'].forEach((top, i) => {
        expect(out[top].dims).toEqual(levels[i].dims);
        expect(Array.from(out[top].data)).toEqual(Array.from(levels[i].data));
      });
      expect(Array.from(out.rois.data)).toEqual(levels.flatMap((l) => Array.from(l.data)));
    });
  }

  it("assigns the levels' bounds as numpy's float32 does: sqrt(w h) of 112, 224 and 448 up a level, no area level 2", () => {
    const rois = (boxes: number[][]) => Float32Array.from(boxes.flatMap((b) => [0, ...b]));
    expect(Array.from(roiLevels(rois([[0, 0, 112, 112], [0, 0, 111.5, 112], [0, 0, 224, 224], [0, 0, 448, 448], [0, 0, 447, 448], [5, 5, 5, 50], [0, 0, 2000, 2000]]), 7))).toEqual([3, 2, 4, 5, 4, 2, 5]);
    expect(Array.from(roiLevels(Float32Array.of(0, NaN, 0, 1, 1), 1))).toEqual([NaN]);
  });

  it('refuses rois of another shape, and more rois of one level than as_rois places', () => {
    expect(errorOf(() => netOf(`input: "in" input_shape { dim: 3 dim: 4 }
      layer { name: "as_rois" type: "Python" bottom: "in" top: "a" top: "b" top: "c" top: "d" top: "e" python_param { module: "rpn.as_rois" layer: "As_roisLayer" } }`))).toBe(
      "layer 'as_rois' (Python): bottom[0] must be (R, 5) rois [n, x1, y1, x2, y2], got [3, 4]",
    );
    const many = new Tensor([1001, 5], Float32Array.from({ length: 5005 }, (_, i) => [0, 0, 0, 10, 10][i % 5]));
    expect(errorOf(() => asRoisNet(1001, 'rpn.as_rois', 'As_roisLayer').forward({ in: many }))).toBe(
      "layer 'as_rois' (Python): 1001 rois are of level 2: as_rois places at most 1000 (cfg.TEST.RPN_POST_NMS_TOP_N) per level",
    );
  });
});

/**
 * FPN's proposals as ONNX orders them: crema's decode of each level (decodeMap over the image's cells), the levels one
 * after another, sorted by score with equal scores in index order (ONNX's TopK and NonMaxSuppression; numpy's
 * argsort has its own order), the first 6000, greedy NMS 0.7, the first 1000 repeated in order to 1000 rows [0, box].
 */
function indexOrderRois(feeds: Record<string, Tensor>): Float32Array {
  const info = feeds.im_info.data, at = [0];
  const levels = STRIDES.map((s) => {
    const [, , height, width] = feeds[`c${s}`].dims, settings = { ...FPN_SETTINGS, featStride: s, baseSize: s };
    const level = decodeMap(settings, feeds[`c${s}`].data, feeds[`d${s}`].data, { height, width, rows: Math.trunc(info[0] / s), cols: Math.trunc(info[1] / s) }, info);
    at.push(at[at.length - 1] + level.score.length);
    return level;
  });
  const boxes = Float32Array.from(levels.flatMap((l) => Array.from(l.boxes))), score = Float32Array.from(levels.flatMap((l) => Array.from(l.score)));
  const order = levels.flatMap((l, i) => l.keep.map((k) => at[i] + k)).sort((i, j) => score[j] - score[i] || i - j);
  const kept = greedyNms(boxes, order.slice(0, 6000), 0.7, 1000), rois = new Float32Array(5000);
  for (let i = 0; i < 1000; i++) rois.set([0, ...boxes.subarray(4 * kept[i % kept.length], 4 * kept[i % kept.length] + 4)], 5 * i);
  return rois;
}
const FPN_SETTINGS = { minSize: 16, ratios: [0.5, 1, 2], scales: [16, 32], preNms: 6000, postNms: 1000, nmsThresh: 0.7, nms: true };

describe("unsky/FPN's layers in ONNX", () => {
  it("the proposal layer: crema's rois in ONNX Runtime, equal scores in index order", async () => {
    for (const [name, c] of Object.entries(CASES)) {
      const { maps, feeds } = proposalInputs(c), net = proposalNet(maps);
      const want = indexOrderRois(feeds), native = net.forward(feeds).rois;
      expect(convertGraph(net.graph).notes).toContain(`layer 'proposal' (Python): ${TIES_NOTE}; fewer than 1000 rows are padded with the kept ones again in order (FPN's own: random copies of them); an im_info beyond a map reads the whole map (crema's forward refuses it); no row left (every box under min_size, or a bad im_info) fails at run time with crema's "no proposal is left" line`);
      const rois = (await runOnnx(net.graph, feeds, { outputs: ['rois'] })).get('rois')!;
      // ONNX Runtime's Exp may differ from numpy's (and crema's) in the last bit: boxes within a float32 ulp or two.
      expect(relativeError(rois, new Tensor([1000, 5], want)), name).toBeLessThanOrEqual(1e-6);
      // Case b (an empty level: int(60 / 64) = 0 rows; maps larger than the image; 58 rows kept, padded) has no tie
      // among its 6000 best: there the referee is crema's forward itself. Case a has 5 ties, 'tied' 5999.
      if (name === 'b') expect(Array.from(want)).toEqual(Array.from(native.data));
    }
  });

  it('no proposal left in ONNX Runtime (every box under min_size, no cell, a bad im_info) is the forward\'s one line, not a Gather out of bounds', async () => {
    const { maps, feeds } = proposalInputs(CASES.b), net = proposalNet(maps);
    const line = "layer 'proposal' (Python): no proposal is left (at run time, in ONNX Runtime): every box is smaller than min_size 16 x im_info's scale, or im_info's image has no cell at any stride (4,8,16,32,64) or is no image's size and finite scale; FPN's own layer raises there too (npr.choice of no rows)";
    for (const info of [[60, 90, 100], [3, 3, 1], [NaN, 90, 1], [60, 90, Infinity]])
      await expect(runOnnx(net.graph, { ...feeds, im_info: new Tensor([1, 3], Float32Array.from(info)) }, { threads: 1, outputs: ['rois'] }), String(info)).rejects.toHaveProperty('message', line);
  });

  /** fpn_ref.py's as_rois net on `rois`, native and in ONNX Runtime: its five tops each. */
  async function asRoisBoth(rois: Tensor, module: string, layer: string) {
    const net = asRoisNet(rois.dims[0], module, layer), tops = ['rois', 'h2', 'h3', 'h4', 'h5'];
    const native = net.forward({ in: rois }), onnx = await runOnnx(net.graph, { in: rois }, { outputs: tops });
    return tops.map((top) => ({ top, native: native[top], onnx: onnx.get(top)! }));
  }
  // Level bounds: the areas at levelBound(3 to 5) and a float32 under each, a zero area, a NaN roi.
  const bounds = [3, 4, 5].flatMap((l) => [levelBound(l), Math.fround(levelBound(l) * (1 - 2 ** -24))]);
  const edges = new Tensor([8, 5], Float32Array.from([...bounds, 0, NaN].flatMap((s, i) => [0, 0, i, s, i + 1])));

  it('odd areas: level 3 from exactly 12543.99609375 (a float32 under: 2), negative x negative, -Inf, 1e30², Inf x 0 = NaN; native and ONNX agree', async () => {
    const under = Math.fround(12543.99609375 - 2 ** -10); // the float32 below (ulp 2^-10 in [8192, 16384))
    // [0, x1, y1, x2, y2]: w = x2 - x1 and h = y2 - y1 in float32, as FPN's numpy
    const odd = [[0, 0, 12543.99609375, 1], [0, 0, under, 1], [10, 10, -190, -190], [0, 0, -Infinity, 1], [0, 0, 1e30, 1e30], [0, 0, Infinity, 0]];
    const rois = new Tensor([odd.length, 5], Float32Array.from(odd.flatMap((r) => [0, ...r])));
    // FPN's as_rois: s <= 0 to 1e-6 (-Inf: level 2), 40000 (w, h both -200): floor(4 + log2(200 / 224)) = 3, 1e60 is
    // Inf in float32: level 5, NaN stays NaN (no level: the roi is in no block)
    expect(Array.from(roiLevels(rois.data, odd.length))).toEqual([3, 2, 3, 2, 5, NaN]);
    for (const [module, layer] of [['rpn.as_rois', 'As_roisLayer'], ['rpn.as_rois_mrcnn', 'As_rois_MergeRcnnLayer']])
      for (const { top, native, onnx } of await asRoisBoth(rois, module, layer)) {
        expect(onnx.dims, `${module} ${top}`).toEqual(native.dims);
        expect(Array.from(onnx.data), `${module} ${top}`).toEqual(Array.from(native.data));
      }
    // as_rois' level blocks: rows 0-1 of level 2 are the under and -Inf rois, of level 3 the bound's and the negative one
    const [, h2, h3, , h5] = (await asRoisBoth(rois, 'rpn.as_rois', 'As_roisLayer')).map((t) => Array.from(t.native.data.subarray(0, 10)));
    expect([h2, h3, h5.slice(0, 5)]).toEqual([[0, 0, 0, under, 1, 0, 0, 0, -Infinity, 1], [0, 0, 0, 12543.99609375, 1, 0, 10, 10, -190, -190], [0, 0, 0, 1e30, 1e30].map(Math.fround)]);
  });

  it("as_rois' conversion note: a level's rois past 1000 are cut; FPN's own writes them over the next level, or raises (level 5)", () => {
    expect(convertGraph(asRoisNet(8, 'rpn.as_rois', 'As_roisLayer').graph).notes).toContain("layer 'as_rois' (Python): each level's first 1000 rois are kept where it has more (crema's forward refuses them; FPN's writes them over the next levels' rows, and raises an IndexError past row 4000, as for any of level 5's)");
  });

  for (const [module, layer] of [['rpn.as_rois', 'As_roisLayer'], ['rpn.as_rois_mrcnn', 'As_rois_MergeRcnnLayer']])
    it(`${module}: crema's tops in ONNX Runtime, the same values`, async () => {
      for (const name of ['mixed', 'small', 'few', 'edges'])
        for (const { top, native, onnx } of await asRoisBoth(name === 'edges' ? edges : fixtureOf(`as-rois-in-${name}`), module, layer)) {
          expect(onnx.dims, `${name} ${top}`).toEqual(native.dims);
          expect(Array.from(onnx.data), `${name} ${top}`).toEqual(Array.from(native.data));
        }
    });

  it("levelBound: the least float32 area of each level, as roiLevels assigns it", () => {
    const levelOf = (s: number) => roiLevels(Float32Array.of(0, 0, 0, s, 1), 1)[0];
    for (const l of [3, 4, 5]) {
      const b = levelBound(l), under = new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(b).buffer)[0] - 1]).buffer)[0];
      expect([levelOf(under), levelOf(b)]).toEqual([l - 1, l]);
    }
    // numpy's float32 4 + log2(...) rounds up to 3 a float32 under 112²: the bound is not 12544.
    expect([3, 4, 5].map(levelBound)).toEqual([12543.99609375, 50175.9921875, 200703.90625]);
  });
});

/**
 * FPN's published test.prototxt, its input at `size` x `size` (a multiple of its IMAGE_STRIDE 64; FPN's smallest
 * anchors are 64 pixels) and fc6 / fc7 of 32 outputs in place of 4096 (the four heads' fc6 on 4 x 1000 rois would be
 * 205 GMAC): else as published; `edit` changes its text further. Weights: hashweights at half gain (at full gain
 * activations grow to 1e14 through ResNet-50), the RPN's delta weights at 0.01 (else every box is clipped to the whole
 * image, and NMS leaves one); `scales` the weights of other layers, by the start of their names.
 */
function publishedNet(size: number, scales: Record<string, number> = {}) {
  const def = publishedDef(size), factors = Object.entries({ 'rpn_bbox_pred/': 0.01, ...scales });
  const scale = (name: string) => factors.find(([start]) => name.startsWith(start))?.[1] ?? 1;
  const weights = new Map(publishedWeights(def).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data.map((v) => v * scale(l.name))))]));
  return { def, weights };
}

/** The hashweights of the published net's layers (the same at any input size: made once, 25 M values). */
let hashed: ReturnType<typeof hashWeightBlobs> | undefined;
function publishedWeights(def: NetParameter): ReturnType<typeof hashWeightBlobs> {
  if (hashed) return hashed;
  const graph = buildGraph(def, new Map(), {});
  const specFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fpn-')), 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ name: 'fpn', layers: graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length) }));
  return (hashed = hashWeightBlobs(specFile, 'fpn', 0.5));
}

/** publishedNet's net definition, its text changed by `edit`. */
function publishedDef(size: number, edit = (text: string) => text) {
  const text = fs.readFileSync(path.join(fixture, 'test.prototxt'), 'utf8').replaceAll('dim: 224', `dim: ${size}`).replaceAll('num_output: 4096', 'num_output: 32');
  return upgradeNet(parsePrototxt(edit(text), 'test.prototxt'), 'test.prototxt');
}

describe("unsky/FPN's published test net (models/pascal_voc/FPN/FP_Net_end2end/test.prototxt at a096edb)", () => {
  it('loads and runs whole: ResNet-50 FPN, its proposal and as_rois built in, at 128 x 128 with hashweights (fc6 and fc7 32 wide)', () => {
    const { def, weights } = publishedNet(128);
    const net = Net.fromNetParameter(def, weights, [], { threads: 1 });
    expect(net.notes.filter((n) => n.includes("(unsky/FPN's) runs as crema's built-in copy of it")).length).toBe(2);
    const out = net.forward({ data: new Tensor([1, 3, 128, 128], hashInputData(5, 100, [1, 3, 128, 128])), im_info: new Tensor([1, 3], Float32Array.of(128, 128, 1)) });
    const rpn = net.blobs.get('rpn_rois')!, rois = net.blobs.get('rois')!;
    expect([rpn.dims, rois.dims, out.cls_prob.dims, out.bbox_pred.dims]).toEqual([[1000, 5], [4000, 5], [4000, 21], [4000, 84]]);
    // Every proposal inside the image, and as_rois' blocks its rows by level (roiLevels), zero rows after them.
    expect(rpn.data.every((v, i) => (i % 5 === 0 ? v === 0 : v >= 0 && v <= 127))).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, (_, r) => rpn.data.subarray(5 * r, 5 * r + 5).join())).size).toBeGreaterThan(500);
    const levels = roiLevels(rpn.data, 1000);
    [2, 3, 4, 5].forEach((level, i) => {
      const rows = Array.from(levels).flatMap((l, r) => (l === level ? Array.from(rpn.data.subarray(5 * r, 5 * r + 5)) : []));
      const block = rois.data.subarray(5000 * i, 5000 * (i + 1));
      expect(Array.from(block.subarray(0, rows.length))).toEqual(rows);
      expect(block.subarray(rows.length).every((v) => v === 0)).toBe(true);
    });
    // Softmax rows of 21 classes; the deltas finite.
    for (let r = 0; r < 4000; r++) expect(out.cls_prob.data.subarray(21 * r, 21 * r + 21).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    expect(out.bbox_pred.data.every(Number.isFinite)).toBe(true);

    // crema detect on it (fpn.ts; its steps against FPN's own im_detect below): a 100 x 90 image at scale 1 (--scale 90), padded
    // to 128 x 128, im_info the padded size; the boxes clipped to the padded blob (FPN's clip_boxes), not the image.
    const image = { width: 90, height: 100, channels: 3, data: hashInputData(6, 0.5, [100 * 90 * 3]).map((v) => v + 0.5) };
    const run = detectionRun(net, image, { scale: 90, maxSize: 128 });
    expect([run.passes[0].data.dims, Array.from(run.passes[0].im_info.data)]).toEqual([[1, 3, 128, 128], [128, 128, 1]]);
    const found = detectImage(net, image, { scale: 90, maxSize: 128, threshold: 0.04 });
    expect(found.length).toBeGreaterThan(20);
    expect(found.every((d) => d.label >= 1 && d.label <= 20 && [d.xmin, d.ymin, d.xmax, d.ymax].every((v) => v >= 0 && v <= 127))).toBe(true);
    expect(found.some((d) => d.xmax > 89)).toBe(true); // into the padding, as FPN's boxes may go
  });
  it('converts whole to ONNX, and ONNX Runtime gives crema\'s numbers stage by stage, at 64 x 64', async () => {
    // The RPN's score weights at 0.01: its softmax unsaturated (at 1 half its scores are exactly 1, a tie).
    const SIZE = 64, { def, weights } = publishedNet(SIZE, { 'rpn_cls_score/': 0.01 });
    const feeds = { data: new Tensor([1, 3, SIZE, SIZE], hashInputData(5, 100, [1, 3, SIZE, SIZE])), im_info: new Tensor([1, 3], Float32Array.of(SIZE, SIZE, 1)) };
    const levels = STRIDES.map((s) => ({ s, deltas: `rpn_bbox_pred/p${Math.log2(s)}`, cls: `fpn_out_reshape/p${Math.log2(s)}` }));
    const tops = ['rpn_rois', 'rois', 'rois/h2', 'rois/h3', 'rois/h4', 'rois/h5', 'cls_prob', 'bbox_pred'];
    const ort = await runOnnx(Net.fromNetParameter(def, weights, [], { threads: 1 }).graph, feeds, { outputs: [...levels.flatMap((l) => [l.deltas, l.cls]), ...tops] });
    // crema's native run of the net with the proposal layer's top an input, fed ONNX Runtime's rpn_rois: upstream, the
    // RPN's maps; downstream, as_rois and the four heads on the same rois (NMS's order of nearly equal scores, which
    // the two runs' last bits may swap, out of the comparison).
    const fedRois = (text: string) => text.replace(/layer \{\s*name: 'proposal'[^]*?\n\}\n/, '').replace('input: "im_info"', 'input: "rpn_rois"\ninput_shape { dim: 1000 dim: 5 }\ninput: "im_info"');
    const native = Net.fromNetParameter(publishedDef(SIZE, fedRois), weights, [], { threads: 1 });
    native.forward({ ...feeds, rpn_rois: ort.get('rpn_rois')! });
    for (const { deltas, cls } of levels) for (const blob of [deltas, cls]) expect(relativeError(ort.get(blob)!, native.blobs.get(blob)!), blob).toBeLessThanOrEqual(1e-4);
    // The proposal layer on ONNX Runtime's maps: crema's decode with equal scores in index order (as the layer's test).
    const maps = Object.fromEntries(levels.flatMap((l) => [[`d${l.s}`, ort.get(l.deltas)!], [`c${l.s}`, ort.get(l.cls)!]]));
    expect(relativeError(ort.get('rpn_rois')!, new Tensor([1000, 5], indexOrderRois({ ...maps, im_info: feeds.im_info })))).toBeLessThanOrEqual(1e-6);
    for (const blob of tops.slice(1, 6)) expect(Array.from(ort.get(blob)!.data), blob).toEqual(Array.from(native.blobs.get(blob)!.data));
    for (const blob of ['cls_prob', 'bbox_pred']) expect(relativeError(ort.get(blob)!, native.blobs.get(blob)!), blob).toBeLessThanOrEqual(1e-4);
    // Fewer than 1000 proposals at 64 x 64: the padding's repeated rows are in the comparison.
    expect(new Set(Array.from({ length: 1000 }, (_, r) => ort.get('rpn_rois')!.data.subarray(5 * r, 5 * r + 5).join())).size).toBeLessThan(1000);
  });
  it("crema detect --backend onnx (detectOnnx, OnnxSessions) gives crema's detections, a 64 x 128 blob (not the prototxt's size)", async () => {
    // The heads' delta weights at 0.01 too: deltas of tens, through exp, would make the runs' last bits whole pixels.
    const { def, weights } = publishedNet(64, { 'rpn_cls_score/': 0.01, 'bbox_pred/': 0.01 }), net = Net.fromNetParameter(def, weights, [], { threads: 1 });
    // A 50 x 120 image at scale 1 (--scale 50), padded to 64 x 128 (its IMAGE_STRIDE), as FPN's im_detect.
    const image = { width: 120, height: 50, channels: 3, data: hashInputData(6, 0.5, [50 * 120 * 3]).map((v) => v + 0.5) };
    const options = { scale: 50, maxSize: 128, threshold: 0.04 };
    const native = detectImage(net, image, options), sessions = new OnnxSessions(net, { threads: 1, anySize: true });
    try {
      const onnx = await detectOnnx(sessions, net, image, options);
      // The same detections (hashweights' saturated class scores: many of 1), within 1e-4 of the scores and of the
      // blob's width (the project's measure: of the largest value): the two runs' last bits (ONNX Runtime's kernels
      // against crema's) through ResNet-50 and the heads.
      expect(onnx.length).toBe(native.length);
      expect(native.length).toBeGreaterThan(5);
      onnx.forEach((d, i) => {
        expect(d.label).toBe(native[i].label);
        expect(Math.abs(d.score - native[i].score), `${i} score`).toBeLessThanOrEqual(1e-4);
        for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) expect(Math.abs(d[k] - native[i][k]), `${i} ${k}`).toBeLessThanOrEqual(1e-4 * 128);
      });
    } finally {
      await sessions.release();
    }
  });
});

describe("crema detect on unsky/FPN's nets: its own lib/fast_rcnn/test.py im_detect and tools/demo.py", () => {
  // detect_ref.py: FPN's im_detect (real cv2) on a 30 x 41 image at SCALES (50,), MAX_SIZE 100, its forward's
  // rois (as_rois' blocks with zero rows), cls_prob and bbox_pred given; demo.py's per-class NMS 0.3, threshold 0.3.
  const bgr = fixtureOf('detect-image');
  const image = { width: 41, height: 30, channels: 3, bits: 8, data: Float32Array.from(bgr.data, (_, i) => bgr.data[i - (i % 3) + 2 - (i % 3)] / 255) };
  const net = () => netOf(`input: "data" input_shape { dim: 1 dim: 3 dim: 64 dim: 128 }
    input: "cls_prob" input_shape { dim: 300 dim: 4 } input: "bbox_pred" input_shape { dim: 300 dim: 16 }
    ${proposalText(STRIDES.map((s) => [Math.ceil(64 / s), Math.ceil(128 / s)]))}`);
  const options = { scale: 50, maxSize: 100, threshold: 0.3 };

  it("feeds FPN's padded blob and im_info, and gives its detections", () => {
    const run = detectionRun(net(), image as FloatImage, options);
    expect(run.outputs).toEqual(['rois', 'cls_prob', 'bbox_pred']);
    const feeds = run.passes[0];
    // cv2.resize's INTER_LINEAR restated (cv-resize.ts): its fixed-point weights, within a float32 ulp of the bytes
    expect(feeds.data.dims).toEqual(fixtureOf('detect-data').dims);
    expect(relativeError(feeds.data, fixtureOf('detect-data'))).toBeLessThanOrEqual(1e-6);
    expect(Array.from(feeds.im_info.data)).toEqual(Array.from(fixtureOf('detect-im-info').data));
    const blobs: Record<string, Tensor> = { rois: fixtureOf('detect-rois'), cls_prob: fixtureOf('detect-cls-prob'), bbox_pred: fixtureOf('detect-bbox-pred') };
    const found = run.found([(b) => blobs[b]]), want = fixtureOf('detect-dets');
    expect(found.length).toBe(want.dims[0]);
    // The same float64 steps as numpy's, then float32: equal within a float32 ulp (Math.exp against numpy's exp).
    found.forEach((d, i) => {
      const row = want.data.subarray(6 * i, 6 * i + 6);
      expect(d.label).toBe(row[0]);
      expect(d.score).toBe(row[5]);
      [d.xmin, d.ymin, d.xmax, d.ymax].forEach((v, k) => expect(Math.abs(v - row[1 + k])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(row[1 + k]))));
    });
    expect(new Set(found.map((d) => d.label)).size).toBe(3);
  });

  it('refuses an FPN net without the blobs im_detect reads, by name', () => {
    const text = `input: "data" input_shape { dim: 1 dim: 3 dim: 64 dim: 128 }
      ${proposalText(STRIDES.map((s) => [Math.ceil(64 / s), Math.ceil(128 / s)]))}`;
    // the CLI's check of the prototxt, before the weights, lets it by (its proposal layer is FPN's)
    expect(() => checkDetectorPrototxt(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'))).not.toThrow();
    expect(errorOf(() => detectionKind(netOf(text)))).toBe(
      "net 'net' has FPN's proposal layer but no blob 'cls_prob': detect runs unsky/FPN's test nets (rois, cls_prob, bbox_pred as its im_detect reads them)",
    );
  });
});
