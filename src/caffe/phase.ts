// Picks the layers of a V2 net for one NetState, as Caffe's Net::FilterNet / StateMeetsRule do, and then
// makes the result runnable for inference: data layers (which read databases crema does not have) become
// Input layers of the shape they would give, and loss / accuracy layers (which need labels) go.
import type { LayerParameter, NetParameter, NetStateRule } from './types.js';
import type { Message } from './message.js';
import { paramsOf } from './schema.js';
import { formatPrototxt } from './prototxt.js';
import type { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';

export type Phase = 'TRAIN' | 'TEST';

export interface FilterState {
  /** TEST unless given. */
  phase?: Phase;
  /** The net's own `state { level }` (else 0) unless given. */
  level?: number;
  /** Added to the net's own `state { stage }`, as Caffe's Net constructor does. */
  stages?: string[];
}

export interface FilterOptions {
  /** The weights by layer name, to learn a data layer's channel count from the layer that reads it. */
  weights?: Map<string, Tensor[]>;
  /** Shapes for data-layer tops that the prototxt cannot tell (e.g. a Data layer without crop_size), by top name. */
  dataShapes?: Record<string, number[]>;
}

interface ResolvedState {
  phase: Phase;
  level: number;
  stages: string[];
}

/** Caffe's FilterNet for `state`, then the inference conversions (see `toInference`). Returns a new net. */
export function filterNet(net: NetParameter, state: FilterState = {}, notes: string[] = [], opts: FilterOptions = {}): NetParameter {
  const selected = selectLayers(net, state, notes);
  return toInference(selected, notes, opts);
}

/** The layers whose include / exclude rules let them in under `state` (Net::FilterNet), nothing else changed. */
export function selectLayers(net: NetParameter, state: FilterState = {}, notes: string[] = []): NetParameter {
  const resolved = resolveState(net, state);
  const layer = (net.layer ?? []).filter((l) => layerIncluded(l, resolved));
  for (const l of layer) {
    if (l.phase !== undefined && l.phase !== resolved.phase)
      notes.push(`layer '${l.name}' (${l.type}) sets phase: ${l.phase}, so it behaves as in ${l.phase} although the net runs in ${resolved.phase}`);
  }
  refuseFilteredBottoms(net, layer, resolved);
  const out: NetParameter = { ...net, layer, state: { phase: resolved.phase, level: resolved.level } };
  if (resolved.stages.length) out.state!.stage = resolved.stages;
  return out;
}

/**
 * A kept layer reading a blob that only a left-out layer makes (a train net's TRAIN-only data layer, loaded for
 * TEST): said with the layer and its rule, and the phase that keeps it. Other missing blobs are the graph's error.
 */
function refuseFilteredBottoms(net: NetParameter, kept: LayerParameter[], state: ResolvedState): void {
  const keptSet = new Set(kept);
  const produced = new Set<string>((net.input as string[] | undefined) ?? []);
  const leftOut = new Map<string, LayerParameter>();
  for (const l of net.layer ?? []) {
    if (!keptSet.has(l)) {
      for (const t of l.top ?? []) if (!produced.has(t) && !leftOut.has(t)) leftOut.set(t, l);
      continue;
    }
    for (const b of l.bottom ?? []) {
      const maker = produced.has(b) ? undefined : leftOut.get(b);
      if (!maker) continue;
      const rules = [...(maker.include ?? []).map((r) => ['include', r] as const), ...(maker.exclude ?? []).map((r) => ['exclude', r] as const)];
      const other = state.phase === 'TEST' ? 'TRAIN' : 'TEST';
      const inOther = layerIncluded(maker, { ...state, phase: other });
      throw new CremaError(`layer '${l.name}' (${l.type}): bottom '${b}' is made only by layer '${maker.name}' (${maker.type}), which ${state.phase} leaves out (${rules.map(([k, r]) => `${k} { ${formatPrototxt(r, 'NetStateRule').trim().split('\n').join(' ')} }`).join(', ')})` +
        (inOther ? `: this net is for ${other} (options.phase ${other})` : ''));
    }
    for (const t of l.top ?? []) produced.add(t);
  }
}

function resolveState(net: NetParameter, state: FilterState): ResolvedState {
  // From the library these are any values: 'BOGUS' matched no rule, NaN no level (Caffe's enum and int refuse them).
  if (state.phase !== undefined && state.phase !== 'TRAIN' && state.phase !== 'TEST')
    throw new CremaError(`phase '${String(state.phase)}': expected TRAIN or TEST`);
  if (state.level !== undefined && !Number.isSafeInteger(state.level)) throw new CremaError(`level ${String(state.level)}: expected a whole number`);
  return {
    phase: state.phase ?? 'TEST',
    level: state.level ?? net.state?.level ?? 0,
    stages: [...(net.state?.stage ?? []), ...(state.stages ?? [])],
  };
}

function layerIncluded(l: LayerParameter, state: ResolvedState): boolean {
  const include = l.include ?? [], exclude = l.exclude ?? [];
  if (include.length && exclude.length)
    throw new CremaError(`layer '${l.name}' (${l.type}) has both include and exclude rules; Caffe allows only one kind`);
  // Without include rules a layer is in unless an exclude rule matches; with them, it is in if one matches.
  if (include.length === 0) return !exclude.some((rule) => stateMeetsRule(state, rule));
  return include.some((rule) => stateMeetsRule(state, rule));
}

/** Caffe's StateMeetsRule: every condition the rule sets must hold. */
export function stateMeetsRule(state: ResolvedState, rule: NetStateRule): boolean {
  if (rule.phase !== undefined && rule.phase !== state.phase) return false;
  if (rule.min_level !== undefined && state.level < rule.min_level) return false;
  if (rule.max_level !== undefined && state.level > rule.max_level) return false;
  if ((rule.stage ?? []).some((s) => !state.stages.includes(s))) return false;
  if ((rule.not_stage ?? []).some((s) => state.stages.includes(s))) return false;
  return true;
}

// ---------------------------------------------------------------- inference conversions

// AnnotatedData and VideoData: the SSD fork's (its test nets' images with their boxes, its webcam demos);
// DenseImageData: caffe-segnet's (SegNet's images and label images); ImageSegData: DeepLab v2's (its images, label
// images and each image's size).
const DATA_TYPES = new Set(['Data', 'ImageData', 'HDF5Data', 'MemoryData', 'WindowData', 'DummyData', 'AnnotatedData', 'VideoData', 'DenseImageData', 'ImageSegData', 'VideoWithVoxelTruthData', 'VideoSegmentationData']);

// DetectionEvaluate: the SSD fork's mAP of its test nets, an Accuracy for detections; SegAccuracy: DeepLab v2's, for
// label images. A Python layer is a loss when it weighs its top in the loss (pycaffe's EuclideanLossLayer example:
// loss_weight: 1), as Caffe tells losses apart.
const isLossLayer = (l: LayerParameter): boolean =>
  l.type === 'Accuracy' || l.type === 'DetectionEvaluate' || l.type === 'SegAccuracy' || l.type.endsWith('Loss') || (l.type === 'Python' && ((l.loss_weight as number[] | undefined) ?? []).some((w) => w !== 0));

/**
 * A Python layer without bottoms is a data layer (its shapes are known only to its Python code). A DummyData whose
 * fillers are all constant (an LSTM's cont of ones, zeros) computes what Caffe computes, as a layer, unless the
 * data shapes option names one of its tops; one that draws random values is a placeholder for data: an input.
 */
const isDataLayer = (l: LayerParameter, opts: FilterOptions): boolean => {
  if (l.type === 'DummyData') {
    const fillers = paramsOf<{ data_filler: { type?: string }[] }>(l, 'dummy_data_param').data_filler;
    return fillers.some((f) => (f.type ?? 'constant') !== 'constant') || (l.top ?? []).some((t) => opts.dataShapes?.[t] !== undefined);
  }
  return DATA_TYPES.has(l.type) || (l.type === 'Python' && !(l.bottom?.length));
};

/**
 * Makes a filtered net runnable for inference: SoftmaxWithLoss becomes Softmax, other loss and Accuracy
 * layers go, data layers become Input layers of the shape they would give (without the extra tops, labels,
 * that no remaining layer reads), and Input tops that only the removed layers read go. Each change is noted.
 */
function toInference(net: NetParameter, notes: string[] = [], opts: FilterOptions = {}): NetParameter {
  const layers = net.layer ?? [];
  // Caffe's LayerRegistry refuses a layer without a type ("Unknown layer type: "), once filtering kept it.
  const untyped = layers.find((l) => typeof l.type !== 'string' || l.type === '');
  if (untyped) throw new CremaError(`layer '${untyped.name ?? '(no name)'}' has no type (Caffe: "Unknown layer type: ")`);
  const readBefore = blobsRead(layers);
  const kept = replaceLossLayers(layers, notes);
  const readAfter = blobsRead(kept);
  // Blobs some removed layer read and no remaining layer reads: the labels.
  const orphaned = (blob: string) => readBefore.has(blob) && !readAfter.has(blob);
  // A data layer's extra tops (labels) go when no remaining layer reads them.
  const unread = (blob: string) => !readAfter.has(blob);
  // Each blob's readers, by index: a data layer looks up the next one (a slice of the later layers per data layer
  // was quadratic in a net of many).
  const readers = new Map<string, number[]>();
  kept.forEach((l, j) => {
    for (const b of l.bottom ?? []) {
      const r = readers.get(b) ?? [];
      if (r.at(-1) !== j) r.push(j);
      readers.set(b, r);
    }
  });
  const readerAfter = (i: number) => (blob: string): LayerParameter | undefined => {
    const j = readers.get(blob)?.find((k) => k > i);
    return j === undefined ? undefined : kept[j];
  };
  const out = kept.map((l, i) => {
    if (isDataLayer(l, opts)) return dataToInput(l, readerAfter(i), unread, notes, opts);
    if (l.type === 'Input') return shapedInputs(dropOrphanedInputs(l, orphaned, notes), opts);
    return l;
  });
  return { ...net, layer: out };
}

function blobsRead(layers: LayerParameter[]): Set<string> {
  return new Set(layers.flatMap((l) => l.bottom ?? []));
}

/**
 * The file writers of lmb-freiburg's Caffe (dispflownet-release, flownet2): no top, a side effect only (DispNet's
 * deploy templates end in a PFMWriter of the disparity; `crema disparity` writes what it writes). DeepLab v2's
 * MatWrite likewise (its test nets write the scores, fc8_interp, to a .mat file an image: mat_write_layer.cpp).
 */
const WRITER_TYPES = new Set(['PFMWriter', 'FLOWriter', 'FloatWriter', 'ImgWriter', 'MatWrite']);

function replaceLossLayers(layers: LayerParameter[], notes: string[]): LayerParameter[] {
  const softmaxLosses = layers.filter((l) => l.type === 'SoftmaxWithLoss');
  const names = new Set(layers.map((l) => l.name));
  const blobs = new Set(layers.flatMap((l) => [...(l.top ?? []), ...(l.bottom ?? [])]));
  // A lone SoftmaxWithLoss becomes the 'prob' Softmax that deploy files end with, when that name is free.
  const useProb = softmaxLosses.length === 1 && !names.has('prob') && !blobs.has('prob');
  const dropped: string[] = [], writers: string[] = [];
  const kept: LayerParameter[] = [];
  for (const l of layers) {
    if (WRITER_TYPES.has(l.type) && !(l.top ?? []).length) {
      writers.push(`${l.name} (${l.type})`);
      continue;
    }
    if (l.type === 'SoftmaxWithLoss') {
      const softmax = softmaxFromLoss(l, useProb);
      notes.push(`SoftmaxWithLoss layer '${l.name}' became Softmax layer '${softmax.name}' (top '${softmax.top![0]}'), without its label input`);
      kept.push(softmax);
    } else if (isLossLayer(l)) {
      dropped.push(`${l.name} (${l.type})`);
    } else {
      kept.push(l);
    }
  }
  if (dropped.length) notes.push(`dropped the loss / accuracy layers, which need labels: ${dropped.join(', ')}`);
  if (writers.length) notes.push(`dropped the layers that write their bottom to files (the blobs stay): ${writers.join(', ')}`);
  return kept;
}

function softmaxFromLoss(l: LayerParameter, useProb: boolean): LayerParameter {
  const bottom = l.bottom?.[0];
  if (bottom === undefined) throw new CremaError(`layer '${l.name}' (SoftmaxWithLoss) has no bottom`);
  const name = useProb ? 'prob' : l.name;
  const top = useProb ? 'prob' : (l.top?.[0] ?? l.name);
  const out: LayerParameter = { name, type: 'Softmax', bottom: [bottom], top: [top] };
  if (l.softmax_param !== undefined) out.softmax_param = l.softmax_param;
  return out;
}

function dropOrphanedInputs(l: LayerParameter, orphaned: (blob: string) => boolean, notes: string[]): LayerParameter {
  const tops = l.top ?? [];
  const keep = tops.map((t, i) => i === 0 || !orphaned(t));
  if (keep.every(Boolean)) return l;
  const inputParam = l.input_param as Message | undefined;
  const shapes: unknown[] = inputParam?.shape ?? [];
  notes.push(`Input layer '${l.name}': dropped top(s) ${tops.filter((_, i) => !keep[i]).join(', ')}, read only by removed loss layers`);
  const out: LayerParameter = { ...l, top: tops.filter((_, i) => keep[i]) };
  // One shape serves every top when only one is given.
  if (shapes.length > 1) out.input_param = { ...inputParam, shape: shapes.filter((_, i) => keep[i]) };
  return out;
}

/**
 * An Input layer with the shapes the data shapes option gives its tops (the net made at another input size from the
 * start: an FPN's 800 x 1312 blobs, 1.8 GB, never allocated for a run at 128 x 192).
 */
function shapedInputs(l: LayerParameter, opts: FilterOptions): LayerParameter {
  const tops = l.top ?? [];
  if (!tops.some((t) => opts.dataShapes?.[t])) return l;
  const shapes = ((l.input_param as Message | undefined)?.shape ?? []) as { dim?: number[] }[];
  // One shape serves every top when only one is given.
  const shape = tops.map((t, i) => ({ dim: opts.dataShapes?.[t] ?? (shapes[i] ?? shapes[0])?.dim ?? [] }));
  return { ...l, input_param: { ...(l.input_param as Message | undefined), shape } };
}

/** The first layer after a data layer that reads a blob. */
type Reader = (blob: string) => LayerParameter | undefined;

/** A data layer as the Input layer of the shape its data would have. Extra tops no remaining layer reads go. */
function dataToInput(
  l: LayerParameter, readerOf: Reader, unread: (blob: string) => boolean, notes: string[], opts: FilterOptions,
): LayerParameter {
  const tops = l.top ?? [];
  if (tops.length === 0) throw new CremaError(`layer '${l.name}' (${l.type}) has no top`);
  const shapes = dataShapes(l, readerOf, notes, opts);
  const keptTops: string[] = [], keptShapes: number[][] = [];
  tops.forEach((t, i) => {
    if (i > 0 && unread(t)) return;
    const shape = opts.dataShapes?.[t] ?? shapes[i];
    if (!shape) throw new CremaError(`layer '${l.name}' (${l.type}): the shape of its top '${t}' cannot be known from the prototxt; give it (${dataShapeHint(t)})`);
    keptTops.push(t);
    keptShapes.push(shape);
  });
  const dropped = tops.filter((t) => !keptTops.includes(t));
  notes.push(`${l.type} layer '${l.name}' became an Input layer: ${keptTops.map((t, i) => `${t} [${keptShapes[i].join(', ')}]`).join(', ')}` +
    (dropped.length ? `; dropped its top(s) ${dropped.join(', ')}, which no remaining layer reads` : ''));
  return { name: l.name, type: 'Input', top: keptTops, input_param: { shape: keptShapes.map((dim) => ({ dim })) } };
}

/** The shapes of a data layer's tops as far as the prototxt (and the weights) tell; undefined where unknown. */
function dataShapes(l: LayerParameter, readerOf: Reader, notes: string[], opts: FilterOptions): (number[] | undefined)[] {
  const top0 = l.top![0];
  const given = opts.dataShapes?.[top0];
  // A label of Data or ImageData is one value an image (DispNet's ImageData labels, read by a Silence).
  if (given) return l.type === 'Data' || l.type === 'ImageData' ? [given, [given[0]]] : l.type === 'ImageSegData' ? imageSegShapes(given) : [given];
  const transform = paramsOf(l, 'transform_param');
  const crop: number = transform.crop_size;
  switch (l.type) {
    case 'Data':
    case 'AnnotatedData':
    case 'VideoData': {
      // C3D's VideoData (clips of new_length frames); the SSD fork's (a camera) is sized as its Data is.
      const video = l.video_data_param as Message | undefined;
      if (video && TSN_FIELDS.some((f) => video[f] !== undefined)) return tsnSnippetShapes(l, transform);
      const clip = ['video_data_param', 'image_data_param'].find((f) => (l[f] as Message | undefined)?.new_length !== undefined);
      if (clip) return c3dClipShapes(l, transform, clip);
      const p = paramsOf(l, 'data_param');
      const n = requireBatch(l, p.batch_size, 'data_param.batch_size');
      const size = transformedSize(transform);
      if (!size) {
        const from = l.type === 'VideoData' ? 'a camera or a video' : 'a database';
        throw unknownImageSize(l, `its images come from ${from} and transform_param.crop_size is not set${l.type === 'Data' ? '' : ', nor a resize_param of height and width (WARP or FIT_LARGE_SIZE_AND_PAD)'}`);
      }
      const c = transform.force_gray ? 1 : transform.force_color ? 3 : channelsFor(l, readerOf, notes, opts);
      // AnnotatedData's labels are boxes, one row of 8 per box of the batch: the count is the data's.
      return [[n, c, ...size], l.type === 'Data' ? [n] : undefined];
    }
    case 'ImageData': {
      const p = paramsOf(l, 'image_data_param');
      const c = p.is_color ? 3 : 1;
      const [h, w] = crop ? [crop, crop] : [p.new_height, p.new_width];
      if (!h || !w) throw unknownImageSize(l, 'neither transform_param.crop_size nor image_data_param.new_height / new_width is set');
      return [[p.batch_size, c, h, w], [p.batch_size]];
    }
    case 'DenseImageData': {
      // caffe-segnet's DataLayerSetUp: crop_size, else crop_height x crop_width, else the images' size (new_height x
      // new_width when set); the labels are [N, 1, H, W].
      const p = paramsOf(l, 'dense_image_data_param');
      const n = requireBatch(l, p.batch_size, 'dense_image_data_param.batch_size');
      const [h, w] = crop ? [crop, crop] : p.crop_height && p.crop_width ? [p.crop_height, p.crop_width] : [p.new_height, p.new_width];
      if (!h || !w) throw unknownImageSize(l, 'its images come from files and neither transform_param.crop_size nor dense_image_data_param.crop_height / crop_width or new_height / new_width is set');
      return [[n, p.is_color ? 3 : 1, h, w], [n, 1, h, w]];
    }
    case 'ImageSegData': {
      // DeepLab v2's DataLayerSetUp (image_seg_data_layer.cpp): crop_size, else crop_height x crop_width, else the
      // first image's size (new_height x new_width when set).
      const p = paramsOf(l, 'image_data_param');
      const n = requireBatch(l, p.batch_size, 'image_data_param.batch_size');
      const [h, w] = crop ? [crop, crop] : transform.crop_height && transform.crop_width ? [transform.crop_height, transform.crop_width] : [p.new_height, p.new_width];
      if (!h || !w) throw unknownImageSize(l, 'its images come from files and neither transform_param.crop_size nor crop_height / crop_width nor image_data_param.new_height / new_width is set');
      return imageSegShapes([n, p.is_color ? 3 : 1, h, w]);
    }
    case 'VideoWithVoxelTruthData':
    case 'VideoSegmentationData': {
      // facebook/C3D v1.0's video-to-voxel nets: clips and their per-voxel truth read from binary blobs, whose
      // first file gives the channels (the clip's and the truth's: num_truth_channels of them, the segmentation's
      // one) and the length.
      const truth = l.type === 'VideoSegmentationData' ? 1 : paramsOf(l, 'image_data_param').num_truth_channels;
      throw unknownImageSize(l, `its clips' channels and length come from its data files (${truth} truth channel${truth === 1 ? '' : 's'} after the clip's)`, 'N, C, L, H, W');
    }
    case 'WindowData': {
      const p = paramsOf(l, 'window_data_param');
      const n = requireBatch(l, p.batch_size, 'window_data_param.batch_size');
      if (!crop) throw unknownImageSize(l, 'transform_param.crop_size is not set');
      return [[n, 3, crop, crop], [n]];
    }
    case 'MemoryData': {
      const p = paramsOf(l, 'memory_data_param');
      const dims = [p.batch_size, p.channels, p.height, p.width];
      if (dims.some((d) => !d)) throw new CremaError(`layer '${l.name}' (MemoryData) needs batch_size, channels, height and width in memory_data_param`);
      return [dims, [p.batch_size]];
    }
    case 'DummyData':
      return dummyDataShapes(l);
    default: // HDF5Data, Python: the shapes live in the data files / the Python code.
      throw unknownImageSize(l, 'its shapes are set by its data source, not the prototxt');
  }
}

/** DeepLab v2's ImageSegData tops: the images, their label images [N, 1, H, W], each image's (height, width) [N, 1, 1, 2]. */
function imageSegShapes(data: number[]): number[][] {
  const [n, , h, w] = data;
  return [data, [n, 1, h, w], [n, 1, 1, 2]];
}

/** The fields only TSN's VideoData (yjxiong/caffe, action_recog) has: they tell it from C3D's. */
const TSN_FIELDS = ['num_segments', 'modality', 'name_pattern', 'encoded', 'grayscale'];

/**
 * TSN's VideoData (yjxiong/caffe, action_recog: video_data_layer.cpp): num_segments snippets of new_length frames
 * stacked as channels, N x (c new_length num_segments) x H x W, c = 2 for FLOW (its default: x and y), else 3 (1 when
 * grayscale); H x W the crop, else new_height x new_width; the labels one a video.
 */
function tsnSnippetShapes(l: LayerParameter, transform: Message): number[][] {
  const { p, n, h, w } = videoSize(l, transform, 'video_data_param');
  const c = p.modality === 'FLOW' ? 2 : p.grayscale ? 1 : 3;
  const length: number = (l.video_data_param as Message).new_length ?? 1; // TSN's default (C3D's field here has none)
  return [[n, c * length * p.num_segments, h, w], [n]];
}

/**
 * facebook/C3D's VideoData (new_length frames a clip, in v1.1's video_data_param or v1.0's image_data_param):
 * N x C x new_length x H x W, H x W the transformer's crop, else the frames' new_height x new_width (its
 * DataTransformer::InferBlobShape of a VolumeDatum); the labels one a clip.
 */
function c3dClipShapes(l: LayerParameter, transform: Message, field: string): number[][] {
  const { p, n, h, w } = videoSize(l, transform, field);
  return [[n, p.is_color ? 3 : 1, p.new_length, h, w], [n]];
}

/** A video layer's settings (`field`), batch and frame size: the transformer's crop, else new_height x new_width. */
function videoSize(l: LayerParameter, transform: Message, field: string): { p: Message; n: number; h: number; w: number } {
  const p = paramsOf(l, field);
  const crop: number = transform.crop_size;
  const [h, w]: number[] = crop ? [crop, crop] : [p.new_height, p.new_width];
  if (!h || !w) throw unknownImageSize(l, `its frames come from videos and neither transform_param.crop_size nor ${field}.new_height / new_width is set`);
  return { p, n: requireBatch(l, p.batch_size, `${field}.batch_size`), h, w };
}

/**
 * The (height, width) a data transformer gives every image, when the prototxt alone tells: a crop (crop_size, or the
 * SSD fork's crop_h / crop_w), else the fork's resize_param to height x width (WARP, or FIT_LARGE_SIZE_AND_PAD's
 * padding); FIT_SMALL_SIZE keeps each image's aspect (the fork's InferNewSize), so its size is the image's.
 * eric612/MobileNet-YOLO's several resize_param (multi-scale training): the first, as its set-up sizes the net.
 */
function transformedSize(t: Message): [number, number] | undefined {
  const h: number = t.crop_size || t.crop_h, w: number = t.crop_size || t.crop_w;
  const r = (t.resize_param as Message[] | undefined)?.[0];
  const resized = r && r.resize_mode !== 'FIT_SMALL_SIZE' && r.height && r.width ? [r.height as number, r.width as number] : undefined;
  const size = [h || resized?.[0], w || resized?.[1]];
  return size[0] && size[1] ? [size[0], size[1]] : undefined;
}

function requireBatch(l: LayerParameter, n: number | undefined, field: string): number {
  if (!n) throw new CremaError(`layer '${l.name}' (${l.type}) has no ${field}`);
  return n;
}

function unknownImageSize(l: LayerParameter, why: string, dims?: string): CremaError {
  return new CremaError(`layer '${l.name}' (${l.type}): cannot turn it into an Input layer: ${why}; give the shape of '${l.top![0]}' (${dataShapeHint(l.top![0], dims)})`);
}

/** The option that gives a data top's shape, in the library's words (the CLI says `--data-shape TOP=N,C,H,W`). */
const dataShapeHint = (top: string, dims = 'N, C, H, W'): string => `options.dataShapes: { '${top}': [${dims}] }`;

/**
 * DummyDataLayer's shapes: `shape` (one for all tops, or one per top), else num / channels / height / width (also
 * the layer's own, src/layers/dummy_data.ts).
 */
export function dummyDataShapes(l: LayerParameter): number[][] {
  const p = paramsOf(l, 'dummy_data_param');
  const nTop = l.top!.length;
  const pick = <T>(list: T[], i: number): T => list[list.length === 1 ? 0 : i];
  const bad = (why: string) => new CremaError(`layer '${l.name}' (DummyData): ${why}`);
  if (p.shape.length && p.num.length + p.channels.length + p.height.length + p.width.length) throw bad('gives both shape and the legacy num / channels / height / width; give one');
  if (p.shape.length) {
    if (p.shape.length !== 1 && p.shape.length !== nTop) throw bad(`gives ${p.shape.length} shapes for ${nTop} tops`);
    return l.top!.map((_, i) => [...(pick(p.shape as { dim?: number[] }[], i).dim ?? [])]);
  }
  const legacy = [p.num, p.channels, p.height, p.width] as number[][];
  if (legacy.some((list) => list.length !== 1 && list.length !== nTop)) throw bad('num, channels, height and width must each be given once or once per top');
  return l.top!.map((_, i) => legacy.map((list) => pick(list, i)));
}

/**
 * A Data layer's channel count is in its database, not the prototxt: learn it from the weights of the
 * convolution that reads the data, else assume 3 (colour images) and say so.
 */
function channelsFor(l: LayerParameter, readerOf: Reader, notes: string[], opts: FilterOptions): number {
  const reader = readerOf(l.top![0]);
  const w = reader && opts.weights?.get(reader.name)?.[0];
  if (reader && w && (reader.type === 'Convolution' || reader.type === 'Deconvolution') && w.dims.length >= 3) {
    // Convolution weights are (Cout, Cin/group, ...); Deconvolution weights are (Cin, Cout/group, ...).
    const group: number = paramsOf(reader, 'convolution_param').group;
    const channels = reader.type === 'Convolution' ? w.dims[1] * group : w.dims[0];
    notes.push(`${l.type} layer '${l.name}': took ${channels} channel(s) from the weights of '${reader.name}' (the prototxt cannot say)`);
    return channels;
  }
  notes.push(`${l.type} layer '${l.name}': assumed 3 channels (the prototxt cannot say, and no weights tell)`);
  return 3;
}
