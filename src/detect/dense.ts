// Dense per-pixel nets as their authors' demos run them, at the image's own size: FCN's semantic segmentation
// (shelhamer/fcn.berkeleyvision.org, infer.py) and HED's / RCF's edge maps (s9xie/hed, HED-tutorial.ipynb;
// yun-liu/RCF, RCF-singlescale.ipynb). All three feed the net alike: the image's bytes as float32, RGB -> BGR, less
// the mean (104.00698793, 116.66876762, 122.67891434) subtracted in float64 and stored back in float32, C x H x W,
// the net's 'data' reshaped to the image's size. FCN then takes the argmax over the score's channels (numpy's: the
// first maximum), HED and RCF channel 0 of sigmoid-fuse; RCF's multi-scale test (RCF-multiscale.ipynb) averages that
// over the image scaled by cv2.resize. Platform-neutral: the net runs through a Forward.
import type { LayerParameter, NetParameter } from '../caffe/types.js';
import { cvResizeLinear } from '../image/cv-resize.js';
import { inputShapes } from '../layers/input.js';
import { type FloatImage, imageBytes } from '../image/image.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { type Forward, forwardNative } from './forward.js';
import type { DenseOptions, EdgeMap, EdgeOptions, SegmentClass, Segmentation } from './options.js';

export { colourLabels, edgeBytes, segmentClassLine, vocPalette } from './dense-view.js';

/** The demos' mean, B, G, R (FCN's infer.py and voc_layers.py, HED's and RCF's notebooks: the ILSVRC mean of VGG). */
export const DEMO_MEAN: readonly [number, number, number] = [104.00698793, 116.66876762, 122.67891434];

export type { DenseOptions, EdgeMap, EdgeOptions, SegmentClass, Segmentation } from './options.js';

/** FCN's infer.py: the image's label map, the argmax of the score blob over its channels. */
export async function segmentImage(net: Net, image: FloatImage, options: DenseOptions = {}, run: Forward = forwardNative): Promise<Segmentation> {
  const blob = checkDenseNet(net, 'segment', options.blob);
  const [out] = await run(net, chw(demoImage(image, options.mean)), [blob]);
  const [n, channels, height, width] = planes(net, blob, out);
  if (n !== 1) throw new CremaError(`segment: blob '${blob}' is ${out.dims.join(' x ')}; a label map comes from 1 x C x H x W`);
  const labels = argmaxLabels(out.data, channels, height * width);
  return { width, height, labels, channels, classes: classCounts(labels, channels) };
}

/** HED's tutorial and RCF's test: the blob's first (only) channel at the image's size; RCF's multi-scale with `scales`. */
export async function edgesInImage(net: Net, image: FloatImage, options: EdgeOptions = {}, run: Forward = forwardNative): Promise<EdgeMap> {
  const blob = checkDenseNet(net, 'edges', options.blob);
  checkHedCrops(net);
  const bgr = demoImage(image, options.mean);
  if (!options.scales) return edgeMap(net, blob, (await run(net, chw(bgr), [blob]))[0]);
  // RCF-multiscale.ipynb: multi_fuse += cv2.resize(fuse, (W, H)) in float32, then multi_fuse /= len(scale)
  const sum = new Float32Array(image.width * image.height);
  for (const s of options.scales) {
    const map = edgeMap(net, blob, (await run(net, chw(cvResizeLinear(bgr, s, s)), [blob]))[0]);
    const back = cvResizeLinear({ ...map, channels: 1 }, image.width / map.width, image.height / map.height).data;
    for (let i = 0; i < sum.length; i++) sum[i] += back[i];
  }
  for (let i = 0; i < sum.length; i++) sum[i] /= options.scales.length;
  return { width: image.width, height: image.height, data: sum };
}

function edgeMap(net: Net, blob: string, out: Tensor): EdgeMap {
  const [n, channels, height, width] = planes(net, blob, out);
  if (n !== 1 || channels !== 1) throw new CremaError(`edges: blob '${blob}' is ${out.dims.join(' x ')}; an edge map is 1 x 1 x H x W (HED's and RCF's sigmoid-fuse, sigmoid-dsn1..5)`);
  return { width, height, data: out.data.slice(0, height * width) };
}

const WHY = {
  segment: ['score', "FCN's infer.py reads the class scores from 'score'"],
  edges: ['sigmoid-fuse', "HED's and RCF's demos read the fused edges from 'sigmoid-fuse', the side outputs from sigmoid-dsn1..5"],
} as const;

/** The blob segment or edges reads (`blob`, else the demo's), refusing a net without it or without a BGR input. */
export function checkDenseNet(net: Net, kind: 'segment' | 'edges', blob: string = WHY[kind][0]): string {
  if (!net.blobs.has(blob)) throw new CremaError(`net '${net.name || 'net'}' has no blob '${blob}' (${WHY[kind][1]}; another blob: options.blob)`);
  const dims = net.shapes.get(net.inputs[0]);
  if (!bgrInput(dims))
    throw new CremaError(`net '${net.name || 'net'}': its input '${net.inputs[0]}' is ${dims?.join(' x ')}; the demos feed a BGR image, 1 x 3 x H x W`);
  return blob;
}

/**
 * Which of the demos a net is, by the blobs they read (for the page, which picks its mode by it): 'edges' when
 * edges would run it (HED's and RCF's 'sigmoid-fuse', a BGR input), 'segment' when segment would and its 'score'
 * is C > 1 classes at the input's size (FCN crops score to its input; a classifier's 'score' is N x C), else
 * undefined.
 */
export function denseKind(net: Net): 'segment' | 'edges' | undefined {
  if (accepts(net, 'edges')) return 'edges';
  const input = net.shapes.get(net.inputs[0]), score = net.shapes.get(WHY.segment[0]);
  const map = score?.length === 4 && score[1] > 1 && score[2] === input?.[2] && score[3] === input?.[3];
  return map && accepts(net, 'segment') ? 'segment' : undefined;
}

/**
 * HED's net (s9xie/hed) crops with Crop layers without crop_param. In FCN's Caffe of 2015, which HED's tutorial ran,
 * such a Crop aligns its bottoms by the layers' coordinate maps; BVLC Caffe cuts at 0, 0, which shifts every edge.
 * Every net of the corpus with such a Crop is of that Caffe (HED's, CRF-RNN's), and RCF crops with its own AutoCrop:
 * so edges (the CLI's, the page's Find edges) takes the hed dialect for a net whose every Crop lacks crop_param,
 * unless a dialect is given (an empty crop_param { } keeps BVLC's 0, 0). Returns the note saying so, `option` the
 * dialect's name where it is read ('--dialect hed' in the CLI), or undefined where the rule does not apply.
 */
function hedCropsNote(layers: readonly LayerParameter[], option = "options.dialect 'hed'"): string | undefined {
  const crops = hedCrops(layers);
  return crops && `${crops}, as in HED's net: loaded with ${option} (FCN's Caffe of 2015, which aligns by the layers' coordinate maps)`;
}

/** `Crop 'a', 'b' without crop_param` where every Crop of the net lacks crop_param (HED's), else undefined. */
function hedCrops(layers: readonly LayerParameter[]): string | undefined {
  const crops = layers.filter((l) => l.type === 'Crop');
  if (crops.length === 0 || crops.some((l) => l.crop_param !== undefined)) return undefined;
  return `Crop ${[...new Set(crops.map((l) => `'${l.name ?? ''}'`))].join(', ')} without crop_param`;
}

/**
 * edges on a net of HED's Crops loaded in no dialect (the library's Net.load without options.dialect, the page's
 * without edgesDialect) would run BVLC's Crop, which cuts at 0, 0 and shifts every edge from what HED's Caffe
 * computes: refused in one line saying how to load it, rather than a silently shifted map (crema edges and the
 * page's Find edges take the dialect by themselves; an empty crop_param { } asks for BVLC's Crop).
 */
function checkHedCrops(net: Net): void {
  const crops = net.graph.dialect === undefined ? hedCrops(net.graph.layers.map((l) => l.def)) : undefined;
  // A Crop whose coordinate maps align at 0, 0 cuts where BVLC's does (its note, cropNote, says where they differ):
  // such a net's map is the same in either Caffe, and runs.
  const shifted = net.graph.layers.some((l) => l.type === 'Crop' && l.impl.notes?.length);
  if (crops !== undefined && shifted) {
    throw new CremaError(`edges: net '${net.name || 'net'}' has ${crops}, as HED's net, but was loaded without its dialect: load it with { dialect: 'hed' } (in the browser { edgesDialect: true }), as crema edges does (FCN's Caffe of 2015 aligns such Crops by the layers' coordinate maps; BVLC's cuts at 0, 0 and shifts every edge), or give each Crop an empty crop_param { } for BVLC's`);
  }
}

/**
 * LoadHooks.dialectOf for edges: 'hed' with hedCropsNote's note (`option` naming the dialect) where its rule
 * applies; with `edgesOnly` (the page's Find edges, whose load does not know the net is for edges) only for a net
 * edges runs, as denseKind tells it, judged from the net as loaded, before it is built.
 */
export function edgesDialectOf(option?: string, edgesOnly = false): (net: NetParameter) => { dialect: 'hed'; note: string } | undefined {
  return (net) => {
    if (edgesOnly && !edgesNetParameter(net)) return undefined;
    const note = hedCropsNote(net.layer ?? [], option);
    return note === undefined ? undefined : { dialect: 'hed', note };
  };
}

/** denseKind's 'edges' before the net is built: the demo's blob among its tops, its first input (its Input layer's shape) a BGR image. */
function edgesNetParameter(net: NetParameter): boolean {
  const layers = net.layer ?? [], input = layers.find((l) => l.type === 'Input');
  return layers.some((l) => l.top?.includes(WHY.edges[0])) && input !== undefined && bgrInput(inputShapes(input)[0]);
}

/** What the demos feed (checkDenseNet's first input): a BGR image, N x 3 x H x W. */
function bgrInput(dims: readonly number[] | undefined): boolean {
  return dims?.length === 4 && dims[1] === 3;
}

/** Whether checkDenseNet takes the net for `kind` with its demo's blob. */
function accepts(net: Net, kind: 'segment' | 'edges'): boolean {
  try {
    checkDenseNet(net, kind);
    return true;
  } catch (err) {
    if (err instanceof CremaError) return false;
    throw err;
  }
}

/** The output's dims as N, C, H, W: a 4-D blob, else one line naming it. */
function planes(net: Net, blob: string, out: Tensor): [number, number, number, number] {
  if (out.dims.length !== 4) throw new CremaError(`net '${net.name || 'net'}': blob '${blob}' is ${out.dims.join(' x ')}, not a map (N x C x H x W)`);
  return out.dims as unknown as [number, number, number, number];
}

/**
 * The demos' image: np.array(im, dtype=np.float32)[:, :, ::-1] - mean, H x W x BGR. The mean is a float64 array, so
 * numpy subtracts in float64 and the in-place `-=` rounds back to float32.
 */
export function demoImage(image: FloatImage, mean: readonly number[] = DEMO_MEAN): FloatImage {
  const { width, height } = image, bgr = imageBytes(image, 'bgr'); // gray: tiled, as pycaffe's
  const out = new Float32Array(bgr.length);
  for (let i = 0; i < bgr.length; i++) out[i] = bgr[i] - mean[i % 3];
  return { width, height, channels: 3, data: out };
}

/** in_.transpose((2, 0, 1)) as the net's 1 x 3 x H x W input. */
function chw(im: FloatImage): Tensor {
  const plane = im.width * im.height, out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = im.data[3 * i + c];
  return new Tensor([1, 3, im.height, im.width], out);
}

/** numpy's argmax over axis 0 of C x P scores: the first maximum (a NaN counts as the maximum, its first wins). */
export function argmaxLabels(scores: Float32Array, channels: number, plane: number): Uint8Array | Int32Array {
  const labels = channels <= 256 ? new Uint8Array(plane) : new Int32Array(plane);
  for (let i = 0; i < plane; i++) {
    let best = 0, top = scores[i];
    for (let c = 1; c < channels && top === top; c++) {
      const v = scores[c * plane + i];
      if (v > top || v !== v) [best, top] = [c, v];
    }
    labels[i] = best;
  }
  return labels;
}

function classCounts(labels: Uint8Array | Int32Array, channels: number): SegmentClass[] {
  const counts = new Array<number>(channels).fill(0);
  for (const l of labels) counts[l]++;
  return counts.flatMap((pixels, label) => (pixels > 0 ? [{ label, pixels }] : []));
}
