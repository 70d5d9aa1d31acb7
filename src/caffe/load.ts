// The one way a net comes in: prototxt (any version) -> parse -> upgrade -> phase filter & inference form,
// plus its weights (.caffemodel of any version, or Caffe's HDF5) as tensors by layer name.
import { prototxtFilled } from '../layers/layer.js';
import { platform } from '../platform.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { checkNames } from '../util/options.js';
import { listSome } from '../util/names.js';
import { type Resolved, type Source, kindOf, prototxtText, resolveSource, withSource } from '../util/source.js';
import { DIALECTS, type Dialect, isDialect } from './dialects.js';
import { blobDims, blobValues, checkBlob, isHdf5Source, readCaffemodelSource } from './caffemodel.js';
import { type Phase, filterNet } from './phase.js';
import { parsePrototxt } from './prototxt.js';
import type { BlobProto, FloatDestination, LayerParameter, NetParameter } from './types.js';
import { shareParams } from './share.js';
import { upgradeNet } from './upgrade.js';

export interface LoadOptions {
  /** Which phase's layers to keep (include / exclude rules); TEST by default. */
  phase?: Phase;
  /** NetState level for min_level / max_level rules (default: the net's own, else 0). */
  level?: number;
  /** NetState stages, added to the net's own `state { stage }`. */
  stages?: string[];
  /** Skip prototxt fields and enum values the schema lacks (a fork's: `region_param`, `engine: MKL2017`), each told to `warn`, instead of failing. */
  lenient?: boolean;
  warn?: (msg: string) => void;
  /**
   * Shapes for data-layer tops the prototxt cannot tell (e.g. a Data layer without crop_size), by top name; for an
   * Input's top, the shape to make the net at instead of the prototxt's (nothing is allocated at that one).
   */
  dataShapes?: Record<string, number[]>;
  /**
   * The Caffe the net was built for, where a fork changes what a BVLC layer computes: 'yolo', the YOLO ports'
   * (ChenYingpeng/caffe-yolov3, darknet2caffe: yolov3-tiny's 2 x 2 stride-1 Pooling keeps the plane's size).
   * Default: BVLC Caffe 1.0.
   */
  dialect?: Dialect;
  /**
   * The text of makefile/frcnn's JSON config (its tools' --default_c file) for FrcnnProposal layers: their anchors,
   * feat_stride and test_rpn_* keys. Default: the fork's examples/FRCNN/config/default_config.json.
   */
  frcnnConfig?: string;
}

/**
 * @internal What crema's own callers add to a load, apart from the public options. `into`: the arrays a caffemodel's
 * float runs are read into (Net.load: the kernels' wasm memory). `dialectOf`: without `dialect`, the dialect to build
 * the net in, chosen from the net as loaded (upgraded and filtered, before it is built), with the note saying why;
 * undefined for the one its file implies. Edges' rule for HED's Crops (edgesDialectOf), decided in the one load
 * rather than from a parse of its own.
 */
export interface LoadHooks {
  into?: FloatDestination;
  dialectOf?: DialectOf;
}

/** @internal LoadHooks.dialectOf. */
export type DialectOf = (net: NetParameter) => { dialect: Dialect; note: string } | undefined;

export interface LoadedNet {
  /** Upgraded to V2, filtered for the phase, data layers as Input layers, loss layers gone. */
  net: NetParameter;
  /** The prototxt's path, when it was given as one. */
  file?: string;
  /** The weights' label (a path as given, or what the bytes are), when weights were given. */
  weightsFile?: string;
  /** Each layer's blobs by layer name (dims as stored; legacy blobs are 4-D). */
  weights: Map<string, Tensor[]>;
  /** What loading noticed that may matter: dropped layers, data layers made inputs, unused or missing weights. */
  notes: string[];
  /** The format upgrades applied (V0/V1 to V2, net-level inputs to an Input layer), as Caffe logs them. */
  upgrades: string[];
  /** The dialect the net is in: the one asked for, else one only its file's form can be (a V1 CROP: 'hed'). */
  dialect?: Dialect;
}

/**
 * @internal
 * Reads a net and (optionally) its weights: each a file path or the file's bytes; the prototxt may also be its
 * text. Throws CremaError naming the file (or what was given: "weights (Uint8Array, 1.2 MB)") on bad input.
 * `hooks`: crema's own (LoadHooks).
 */
export async function loadNet(prototxt: Source, weightsSource?: Source, opts: LoadOptions = {}, hooks: LoadHooks = {}): Promise<LoadedNet> {
  checkLoadOptions(opts);
  const notes: string[] = [], upgrades: string[] = [];
  const { text, label: prototxtLabel, path: prototxtPath } = prototxtText(prototxt);
  const parsed = parsePrototxt(text, prototxtLabel, { lenient: opts.lenient, warn: opts.warn });
  const implied: string[] = []; // impliedDialect's note, unless dialectOf chooses
  let dialect = opts.dialect ?? impliedDialect(parsed, implied);
  const full = upgradeNet(parsed, prototxtLabel, upgrades);
  // Blobs written into the prototxt itself count as weights too; the weights file overrides them.
  const protoWeights = weightsFromNet(full, prototxtLabel);
  const weights = new Map(protoWeights);
  let fileWeights: Map<string, Tensor[]> | undefined;
  const weightsFile = weightsSource === undefined ? undefined : resolveSource('weights', weightsSource);
  if (weightsFile) {
    fileWeights = await readWeights(weightsFile, upgrades, hooks.into);
    for (const [name, blobs] of fileWeights) weights.set(name, blobs);
  }
  const weightsPath = weightsFile?.label;
  const net = namingFile(prototxtLabel, () =>
    filterNet(full, { phase: opts.phase, level: opts.level, stages: opts.stages }, notes, { weights, dataShapes: opts.dataShapes }));
  const chosen = opts.dialect === undefined ? hooks.dialectOf?.(net) : undefined;
  if (chosen) dialect = chosen.dialect;
  notes.unshift(...(chosen ? [chosen.note] : implied));
  const own = new Map<string, Tensor[]>();
  for (const l of net.layer ?? []) {
    const w = weights.get(l.name);
    if (w?.length) own.set(l.name, w);
  }
  const used = shareParams(net.layer ?? [], own, { prototxt: protoWeights, file: fileWeights }, weightsPath ?? prototxtLabel);
  checkBlobIndices(used, weightsPath ?? prototxtLabel);
  if (fileWeights) noteUnusedWeights(fileWeights, net, weightsPath!, notes);
  noteMissingWeights(net, used, weightsPath, notes);
  return { net, weights: used, notes, upgrades, file: prototxtPath, ...(weightsPath ? { weightsFile: weightsPath } : {}), ...(dialect ? { dialect } : {}) };
}

/** Layer types only lmb-freiburg's Caffe has (flownet2's, and dispflownet-release's before it): their nets are in its dialect. */
const FLOWNET_TYPES = ['Correlation', 'Correlation1D', 'FlowWarp', 'Resample', 'ChannelNorm', 'Accum', 'DataAugmentation'];

/** Of those, what marks a DispNet net (dispflownet-release's models): its 1-D correlation, or its disparity writer. */
const DISPNET_TYPES = ['Correlation1D', 'PFMWriter'];

/**
 * The dialect a net's file can only be in, whose Crop is FCN's of 2015 (aligning by coordinate maps: 'hed'): a V1
 * layer of type CROP (BVLC's V1 types have none: its Crop came after them), or a V2 net with CRF-RNN's
 * MultiStageMeanfield, whose Caffe (torrvision/caffe) has only that Crop.
 */
function impliedDialect(net: NetParameter, notes: string[]): Dialect | undefined {
  type Named = { name?: string; type?: unknown };
  const flownet = ((net.layer ?? []) as Named[]).find((l) => FLOWNET_TYPES.includes(l.type as string));
  if (flownet) {
    const dispnet = ((net.layer ?? []) as Named[]).find((l) => DISPNET_TYPES.includes(l.type as string));
    const whose = dispnet ? `a DispNet net (${String(dispnet.type)} '${dispnet.name ?? ''}') of dispflownet's Caffe (lmb-freiburg/dispflownet-release)` : "a net of FlowNet 2.0's Caffe (lmb-freiburg/flownet2)";
    notes.push(`${String(flownet.type)} '${flownet.name ?? ''}': ${whose}, loaded in the flownet dialect (its Eltwise takes one bottom)`);
    return 'flownet';
  }
  const v1Crops = ((net.layers ?? []) as Named[]).filter((l) => l.type === 'CROP' || l.type === 40);
  const crf = ((net.layer ?? []) as Named[]).some((l) => l.type === 'MultiStageMeanfield');
  const crops = crf ? ((net.layer ?? []) as Named[]).filter((l) => l.type === 'Crop') : v1Crops;
  if (!crops.length) return undefined;
  const why = crf ? "a net of CRF-RNN's Caffe (MultiStageMeanfield), whose Crop is FCN's of 2015" : "V1 type CROP: FCN's Caffe of 2015 (HED's, CRF-RNN's)";
  notes.push(`Crop ${crops.map((l) => `'${l.name ?? ''}'`).join(', ')}: ${why}, which aligns its bottoms by the layers' coordinate maps: loaded in the hed dialect`);
  return 'hed';
}

/** The options' values, named as options (not as faults of the prototxt, whose path a later check would give). */
function checkLoadOptions(opts: LoadOptions): void {
  const { phase, level } = opts as { phase?: unknown; level?: unknown };
  if (phase !== undefined && phase !== 'TRAIN' && phase !== 'TEST')
    throw new CremaError(`options.phase: expected 'TRAIN' or 'TEST', got ${typeof phase === 'string' ? `'${phase}'` : kindOf(phase)}`);
  if (level !== undefined && !Number.isSafeInteger(level))
    throw new CremaError(`options.level: expected a whole number, got ${typeof level === 'number' ? level : kindOf(level)}`);
  checkNames(opts.stages, 'options.stages');
  const { dialect } = opts as { dialect?: unknown };
  if (dialect !== undefined && !isDialect(dialect))
    throw new CremaError(`options.dialect: expected ${DIALECTS.map((d) => `'${d}'`).join(', ').replace(/, (?=[^,]*$)/, ' or ')}, got ${typeof dialect === 'string' ? `'${dialect}'` : kindOf(dialect)}`);
}

/** Runs `fn`, prefixing the file to the CremaErrors it throws about the net's layers (which name no file). */
function namingFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CremaError) throw new CremaError(`${file}: ${err.message}`);
    throw err;
  }
}

/** A prototxt (a path, its bytes or its text) parsed and upgraded to V2 (not filtered). */
export function readNetPrototxt(source: Source, notes: string[] = [], opts: Pick<LoadOptions, 'lenient' | 'warn'> = {}): NetParameter {
  const { text, label } = prototxtText(source);
  const parsed = parsePrototxt(text, label, { lenient: opts.lenient, warn: opts.warn });
  return upgradeNet(parsed, label, notes);
}

/** The weights of a .caffemodel (any version) or Caffe HDF5 weights, by layer name; told apart by content, as Caffe does. */
export async function readWeightsFile(source: Source, notes: string[] = []): Promise<Map<string, Tensor[]>> {
  return readWeights(resolveSource('weights', source), notes);
}

async function readWeights(r: Resolved, notes: string[], into?: FloatDestination): Promise<Map<string, Tensor[]>> {
  if (withSource(r, isHdf5Source)) return platform().readHdf5Weights(r.bytes ?? r.path, r.label);
  const net = upgradeNet(withSource(r, (src) => readCaffemodelSource(src, r.label, into)), r.label, notes);
  return weightsFromNet(net, r.label);
}

/**
 * Each layer's blobs as tensors, by layer name, in the order Caffe copies them into a net (the file's): a later
 * layer of the same name wins, as in Caffe's copy, and takes its place in that order (shared blobs: share.ts).
 */
function weightsFromNet(net: NetParameter, file: string): Map<string, Tensor[]> {
  const weights = new Map<string, Tensor[]>();
  for (const l of net.layer ?? []) {
    if (!l.blobs?.length) continue;
    weights.delete(l.name);
    weights.set(l.name, l.blobs.map((b, i) => tensorFromBlob(b, `${file}: layer '${l.name}' blob ${i}`)));
  }
  return weights;
}

/** The first index left out of a layer's blobs (a sparse array: HDF5's groups may skip a shared blob), else -1. */
export function missingBlob(blobs: readonly (Tensor | undefined)[]): number {
  return Array.from(blobs, (b) => b).findIndex((b) => b === undefined);
}

/**
 * A blob left out before the layer's last one (Caffe's HDF5 snapshots leave out the blobs a layer shares, which
 * the owner's fill): refused when nothing filled it, as Caffe refuses it ("Incompatible number of blobs").
 */
function checkBlobIndices(weights: Map<string, Tensor[]>, file: string): void {
  for (const [name, blobs] of weights) {
    const hole = missingBlob(blobs);
    if (hole >= 0)
      throw new CremaError(`${file}: layer '${name}' has no blob ${hole} but has blob ${blobs.length - 1} (only a blob the layer shares with another by param name may be left out)`);
  }
}

/**
 * A BlobProto as a Tensor, as Caffe's Blob::FromProto reads it: the legacy num/channels/height/width (4-D) when
 * any of them is set, else `shape.dim`; values from `double_data` when it has any, else `data`. A blob with values and no shape
 * at all becomes 1-D. `what` names the blob in errors.
 */
export function tensorFromBlob(blob: BlobProto, what: string): Tensor {
  checkBlob(blob, what);
  const values = blobValues(blob);
  const dims = blobDims(blob) ?? [values.length]; // shape {} is a scalar: [] (count 1)
  return new Tensor([...dims], values instanceof Float32Array ? values : Float32Array.from(values));
}

/** Layer types that cannot run without weights (Scale and Bias take theirs from a second bottom instead). */
export function needsWeights(l: LayerParameter): boolean {
  const bottoms = l.bottom?.length ?? 0;
  switch (l.type) {
    case 'Convolution': case 'Deconvolution': case 'InnerProduct': case 'BatchNorm': case 'PReLU': case 'Embed':
    case 'ConvolutionDepthwise': case 'DepthwiseConvolution': case 'Convolution3D': case 'Deconvolution3D':
      return true;
    case 'Scale':
      return bottoms < 2;
    case 'Bias':
      return bottoms === 1;
    default:
      return false;
  }
}

function noteUnusedWeights(fileWeights: Map<string, Tensor[]>, net: NetParameter, file: string, notes: string[]): void {
  const names = new Set((net.layer ?? []).map((l) => l.name));
  const unused = [...fileWeights.keys()].filter((n) => !names.has(n) && fileWeights.get(n)!.length > 0);
  if (unused.length) notes.push(`${file}: weights file has layers the net does not use: ${listSome(unused)}`);
}

function noteMissingWeights(net: NetParameter, used: Map<string, Tensor[]>, file: string | undefined, notes: string[]): void {
  const without = (net.layer ?? []).filter((l) => needsWeights(l) && !used.has(l.name));
  const filled = without.filter(prototxtFilled).map((l) => l.name), missing = without.filter((l) => !prototxtFilled(l)).map((l) => l.name);
  if (filled.length)
    notes.push(`${file ?? 'no weights given'}: ${listSome(filled)} take${filled.length === 1 ? 's' : ''} the prototxt's fillers, as Caffe fills a layer the weights leave out`);
  if (!missing.length) return;
  notes.push(file === undefined
    ? `no weights given: layers that need weights have none: ${listSome(missing)}`
    : `${file}: layers that need weights got none: ${listSome(missing)}`);
}
