// Upgrades old NetParameters (prototxt or caffemodel) to the V2 form, as Caffe's
// src/caffe/util/upgrade_proto.cpp (UpgradeNetAsNeeded) does, on the plain objects of types.ts:
//   V0 (`layers { layer { type: "conv" } }`, padding layers) -> V1 (`layers { type: CONVOLUTION }`)
//   old data-transformation fields in data_param & co. -> transform_param
//   V1 -> V2 (`layer { type: "Convolution" param { lr_mult decay_mult } }`)
//   net-level `input` + `input_dim` / `input_shape` -> an Input layer at the front
//   BatchNorm layers with three param specs -> lr_mult = decay_mult = 0
// Same order as Caffe, so the result equals what `upgrade_net_proto_text` writes.
import type { BlobShape, LayerParameter, NetParameter } from './types.js';
import type { Message } from './message.js';
import { CremaError } from '../util/errors.js';

/**
 * The V2 form of `net` (a new object; typed-array blob data is shared, not copied). Idempotent on V2 nets.
 * `file` names the source in errors; each upgrade done is described in `notes`.
 */
export function upgradeNet(net: Message, file: string, notes: string[] = []): NetParameter {
  let out = cloneMessage(net);
  if (needsV0Upgrade(out)) {
    out = upgradeV0Net(out, file);
    notes.push(`${file}: upgraded V0 layers (layers { layer { ... } }) to V1`);
  }
  if (needsDataUpgrade(out)) {
    upgradeDataTransformation(out);
    notes.push(`${file}: moved the old data transformation fields (scale, mean_file, crop_size, mirror) to transform_param`);
  }
  if ((out.layers?.length ?? 0) > 0) {
    out = upgradeV1Net(out, file);
    notes.push(`${file}: upgraded V1 layers (layers { type: ENUM }) to V2 (layer { type: "Name" })`);
  }
  if ((out.input?.length ?? 0) > 0 || 'input_dim' in out || 'input_shape' in out) {
    upgradeNetInput(out, file, notes);
  }
  if (needsBatchNormUpgrade(out)) {
    upgradeBatchNorm(out);
    notes.push(`${file}: BatchNorm layers with 3 param specs: set their lr_mult and decay_mult to 0`);
  }
  return out as NetParameter;
}

/** A deep copy of a plain message; typed arrays (blob data) are shared, since nothing here changes them. */
function cloneMessage<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => cloneMessage(v)) as T;
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const out: Message = {};
    for (const [k, v] of Object.entries(value)) out[k] = cloneMessage(v);
    return out as T;
  }
  return value;
}

const has = (msg: Message | undefined, field: string): boolean => msg !== undefined && msg[field] !== undefined;

/** Gets (creating when absent) the sub-message `field` of `msg`. */
function sub(msg: Message, field: string): Message {
  return (msg[field] ??= {}) as Message;
}

// ---------------------------------------------------------------- V0 -> V1

function needsV0Upgrade(net: Message): boolean {
  return (net.layers ?? []).some((l: Message) => has(l, 'layer'));
}

function upgradeV0Net(v0: Message, file: string): Message {
  const padded = foldV0PaddingLayers(v0, file);
  // Caffe keeps only these net fields from a V0 net.
  const out: Message = {};
  if (has(padded, 'name')) out.name = padded.name;
  out.layers = (padded.layers ?? []).map((l: Message) => upgradeV0Layer(l, file));
  if (padded.input?.length) out.input = padded.input;
  if (padded.input_dim?.length) out.input_dim = padded.input_dim;
  if (has(padded, 'force_backward')) out.force_backward = padded.force_backward;
  return out;
}

const v0Name = (l: Message): string => l.layer?.name ?? l.name ?? '?';

/**
 * Removes V0 "padding" layers, giving their pad to the conv or pool layer they feed (UpgradeV0PaddingLayers).
 */
function foldV0PaddingLayers(net: Message, file: string): Message {
  const layers: Message[] = net.layers ?? [];
  const kept: Message[] = [];
  // Blob name -> index of the layer that last wrote it (-1: a net input).
  const lastWriter = new Map<string, number>();
  for (const name of net.input ?? []) lastWriter.set(name, -1);
  layers.forEach((conn, i) => {
    const type = conn.layer?.type;
    if (type !== 'padding') kept.push(conn);
    (conn.bottom ?? []).forEach((blob: string, j: number) => {
      const writer = lastWriter.get(blob);
      if (writer === undefined) throw new CremaError(`${file}: V0 layer '${v0Name(conn)}' reads blob '${blob}', which no earlier layer produces`);
      if (writer === -1) return;
      const source = layers[writer];
      if (source.layer?.type !== 'padding') return;
      const refuse = (why: string) => new CremaError(`${file}: V0 padding layer '${v0Name(source)}' feeds layer '${v0Name(conn)}': ${why}`);
      if (type !== 'conv' && type !== 'pool') throw refuse(`a padding layer may only feed a conv or pool layer, not '${type}'`);
      if ((conn.bottom?.length ?? 0) !== 1) throw refuse('the padded layer must take exactly one bottom');
      if ((source.bottom?.length ?? 0) !== 1 || (source.top?.length ?? 0) !== 1)
        throw refuse('the padding layer must take one bottom and give one top');
      const target = kept[kept.length - 1];
      sub(target, 'layer').pad = source.layer.pad ?? 0;
      target.bottom[j] = source.bottom[0];
    });
    for (const blob of conn.top ?? []) lastWriter.set(blob, i);
  });
  return { ...net, layers: kept };
}

const V0_TYPES: Record<string, string> = {
  accuracy: 'ACCURACY', bnll: 'BNLL', concat: 'CONCAT', conv: 'CONVOLUTION', data: 'DATA', dropout: 'DROPOUT',
  euclidean_loss: 'EUCLIDEAN_LOSS', flatten: 'FLATTEN', hdf5_data: 'HDF5_DATA', hdf5_output: 'HDF5_OUTPUT',
  im2col: 'IM2COL', images: 'IMAGE_DATA', infogain_loss: 'INFOGAIN_LOSS', innerproduct: 'INNER_PRODUCT', lrn: 'LRN',
  multinomial_logistic_loss: 'MULTINOMIAL_LOGISTIC_LOSS', pool: 'POOLING', relu: 'RELU', sigmoid: 'SIGMOID',
  softmax: 'SOFTMAX', softmax_loss: 'SOFTMAX_LOSS', split: 'SPLIT', tanh: 'TANH', window_data: 'WINDOW_DATA',
};

/**
 * Where each V0 field goes in V1, by V0 layer type: [param message, field, repeated in the target].
 * A type missing from a field's entry is an error (Caffe logs it and marks the net not fully compatible).
 */
type Target = [param: string, field: string, repeated?: boolean];
const V0_FIELDS: Record<string, Record<string, Target>> = {
  num_output: { conv: ['convolution_param', 'num_output'], innerproduct: ['inner_product_param', 'num_output'] },
  biasterm: { conv: ['convolution_param', 'bias_term'], innerproduct: ['inner_product_param', 'bias_term'] },
  weight_filler: { conv: ['convolution_param', 'weight_filler'], innerproduct: ['inner_product_param', 'weight_filler'] },
  bias_filler: { conv: ['convolution_param', 'bias_filler'], innerproduct: ['inner_product_param', 'bias_filler'] },
  pad: { conv: ['convolution_param', 'pad', true], pool: ['pooling_param', 'pad'] },
  kernelsize: { conv: ['convolution_param', 'kernel_size', true], pool: ['pooling_param', 'kernel_size'] },
  group: { conv: ['convolution_param', 'group'] },
  stride: { conv: ['convolution_param', 'stride', true], pool: ['pooling_param', 'stride'] },
  pool: { pool: ['pooling_param', 'pool'] },
  dropout_ratio: { dropout: ['dropout_param', 'dropout_ratio'] },
  local_size: { lrn: ['lrn_param', 'local_size'] },
  alpha: { lrn: ['lrn_param', 'alpha'] },
  beta: { lrn: ['lrn_param', 'beta'] },
  k: { lrn: ['lrn_param', 'k'] },
  source: {
    data: ['data_param', 'source'], hdf5_data: ['hdf5_data_param', 'source'], images: ['image_data_param', 'source'],
    window_data: ['window_data_param', 'source'], infogain_loss: ['infogain_loss_param', 'source'],
  },
  batchsize: {
    data: ['data_param', 'batch_size'], hdf5_data: ['hdf5_data_param', 'batch_size'],
    images: ['image_data_param', 'batch_size'], window_data: ['window_data_param', 'batch_size'],
  },
  rand_skip: { data: ['data_param', 'rand_skip'], images: ['image_data_param', 'rand_skip'] },
  shuffle_images: { images: ['image_data_param', 'shuffle'] },
  new_height: { images: ['image_data_param', 'new_height'] },
  new_width: { images: ['image_data_param', 'new_width'] },
  concat_dim: { concat: ['concat_param', 'concat_dim'] },
  det_fg_threshold: { window_data: ['window_data_param', 'fg_threshold'] },
  det_bg_threshold: { window_data: ['window_data_param', 'bg_threshold'] },
  det_fg_fraction: { window_data: ['window_data_param', 'fg_fraction'] },
  det_context_pad: { window_data: ['window_data_param', 'context_pad'] },
  det_crop_mode: { window_data: ['window_data_param', 'crop_mode'] },
  hdf5_output_param: { hdf5_output: ['hdf5_output_param', ''] },
};

/** V0 fields that go to transform_param whatever the layer type. */
const V0_TRANSFORM_FIELDS: Record<string, string> = { scale: 'scale', meanfile: 'mean_file', cropsize: 'crop_size', mirror: 'mirror' };

function upgradeV0Layer(conn: Message, file: string): Message {
  const out: Message = {};
  if (conn.bottom?.length) out.bottom = [...conn.bottom];
  if (conn.top?.length) out.top = [...conn.top];
  const v0: Message | undefined = conn.layer;
  if (!v0) return out;
  if (has(v0, 'name')) out.name = v0.name;
  const type: string = v0.type ?? '';
  if (has(v0, 'type')) {
    const v1 = V0_TYPES[type];
    if (!v1) throw new CremaError(`${file}: V0 layer '${v0Name(conn)}' has unknown type '${type}'`);
    out.type = v1;
  }
  if (v0.blobs?.length) out.blobs = v0.blobs;
  if (v0.blobs_lr?.length) out.blobs_lr = [...v0.blobs_lr];
  if (v0.weight_decay?.length) out.weight_decay = [...v0.weight_decay];
  for (const [field, targets] of Object.entries(V0_FIELDS)) {
    if (!has(v0, field)) continue;
    const target = targets[type];
    if (!target) throw new CremaError(`${file}: V0 layer '${v0Name(conn)}' of type '${type}' has parameter '${field}', which that type does not take`);
    const [param, name, repeated] = target;
    if (name === '') out[param] = v0[field];
    else if (repeated) (sub(out, param)[name] ??= []).push(v0[field]);
    else sub(out, param)[name] = v0[field];
  }
  for (const [field, name] of Object.entries(V0_TRANSFORM_FIELDS)) if (has(v0, field)) sub(out, 'transform_param')[name] = v0[field];
  return out;
}

// ---------------------------------------------------------------- data transformation fields (V1)

const DATA_UPGRADE_TYPES: Record<string, string> = {
  DATA: 'data_param', IMAGE_DATA: 'image_data_param', WINDOW_DATA: 'window_data_param', VIDEO_DATA: 'image_data_param', VIDEO_WITH_VOXEL_TRUTH_DATA: 'image_data_param',
  VIDEO_SEGMENTATION_DATA: 'image_data_param',
};
const TRANSFORM_FIELDS = ['scale', 'mean_file', 'crop_size', 'mirror'];

function needsDataUpgrade(net: Message): boolean {
  return (net.layers ?? []).some((l: Message) => {
    const param = DATA_UPGRADE_TYPES[l.type];
    return param !== undefined && TRANSFORM_FIELDS.some((f) => has(l[param], f));
  });
}

function upgradeDataTransformation(net: Message): void {
  for (const l of net.layers ?? []) {
    const param = DATA_UPGRADE_TYPES[l.type];
    if (!param || !l[param]) continue;
    for (const f of TRANSFORM_FIELDS) {
      if (!has(l[param], f)) continue;
      sub(l, 'transform_param')[f] = l[param][f];
      delete l[param][f];
    }
  }
}

// ---------------------------------------------------------------- V1 -> V2

/** V1LayerParameter.LayerType -> the V2 type string (UpgradeV1LayerType). */
export const V1_LAYER_TYPES: Readonly<Record<string, string>> = {
  NONE: '', ABSVAL: 'AbsVal', ACCURACY: 'Accuracy', ARGMAX: 'ArgMax', BNLL: 'BNLL', CONCAT: 'Concat',
  CONTRASTIVE_LOSS: 'ContrastiveLoss', CONVOLUTION: 'Convolution', DECONVOLUTION: 'Deconvolution', DATA: 'Data',
  DROPOUT: 'Dropout', DUMMY_DATA: 'DummyData', EUCLIDEAN_LOSS: 'EuclideanLoss', ELTWISE: 'Eltwise', EXP: 'Exp',
  FLATTEN: 'Flatten', HDF5_DATA: 'HDF5Data', HDF5_OUTPUT: 'HDF5Output', HINGE_LOSS: 'HingeLoss', IM2COL: 'Im2col',
  IMAGE_DATA: 'ImageData', INFOGAIN_LOSS: 'InfogainLoss', INNER_PRODUCT: 'InnerProduct', LRN: 'LRN',
  MEMORY_DATA: 'MemoryData', MULTINOMIAL_LOGISTIC_LOSS: 'MultinomialLogisticLoss', MVN: 'MVN', POOLING: 'Pooling',
  POWER: 'Power', RELU: 'ReLU', SIGMOID: 'Sigmoid', SIGMOID_CROSS_ENTROPY_LOSS: 'SigmoidCrossEntropyLoss',
  SILENCE: 'Silence', SOFTMAX: 'Softmax', SOFTMAX_LOSS: 'SoftmaxWithLoss', SPLIT: 'Split', SLICE: 'Slice',
  TANH: 'TanH', WINDOW_DATA: 'WindowData', THRESHOLD: 'Threshold', CROP: 'Crop', // CROP: FCN's Caffe of 2015 (the hed dialect's Crop)
  // facebook/C3D v1.0's (VideoWithVoxelTruthData, VideoSegmentationData: its video-to-voxel nets' clips and truth)
  CONVOLUTION3D: 'Convolution3D', POOLING3D: 'Pooling3D', VIDEO_DATA: 'VideoData', DECONVOLUTION3D: 'Deconvolution3D',
  VIDEO_WITH_VOXEL_TRUTH_DATA: 'VideoWithVoxelTruthData', VIDEO_SEGMENTATION_DATA: 'VideoSegmentationData', VOXEL_SOFTMAX: 'VoxelWiseSoftmax',
  VOXEL_SOFTMAX_LOSS: 'VoxelWiseSoftmaxLoss',
};

/** The *_param messages a V1 layer may hold, in V2 field order; each is carried over unchanged. */
const V1_PARAMS = [
  'transform_param', 'loss_param', 'accuracy_param', 'argmax_param', 'concat_param', 'contrastive_loss_param', 'convolution_param', 'data_param',
  'dropout_param', 'dummy_data_param', 'eltwise_param', 'exp_param', 'hdf5_data_param', 'hdf5_output_param',
  'hinge_loss_param', 'image_data_param', 'infogain_loss_param', 'inner_product_param', 'lrn_param',
  'memory_data_param', 'mvn_param', 'pooling_param', 'power_param', 'relu_param', 'sigmoid_param', 'softmax_param',
  'slice_param', 'tanh_param', 'threshold_param', 'window_data_param',
];

export function mixedLayersMessage(file: string): string {
  return `${file}: the net mixes V2 'layer' and V1 'layers' definitions, which Caffe refuses to upgrade; ` +
    `write every layer as layer { type: "Name" ... } (not layers { type: NAME ... })`;
}

function upgradeV1Net(v1: Message, file: string): Message {
  if ((v1.layer?.length ?? 0) > 0) throw new CremaError(mixedLayersMessage(file));
  const out: Message = { ...v1 };
  delete out.layers;
  out.layer = (v1.layers as Message[]).map((l, i) => upgradeV1Layer(l, i, file));
  return out;
}

function upgradeV1Layer(v1: Message, index: number, file: string): LayerParameter {
  // Keys in LayerParameter's field order, the order Caffe writes them in.
  const out: Message = {};
  if (has(v1, 'name')) out.name = v1.name;
  if (has(v1, 'type')) out.type = v1LayerType(v1.type, v1.name ?? `#${index}`, file);
  if (v1.bottom?.length) out.bottom = [...v1.bottom];
  if (v1.top?.length) out.top = [...v1.top];
  if (v1.loss_weight?.length) out.loss_weight = [...v1.loss_weight];
  const params: Message[] = [];
  const param = (i: number): Message => {
    while (params.length <= i) params.push({});
    return params[i];
  };
  (v1.param ?? []).forEach((name: string, i: number) => (param(i).name = name));
  (v1.blob_share_mode ?? []).forEach((mode: string | number, i: number) => (param(i).share_mode = shareMode(mode, v1.name, file)));
  (v1.blobs_lr ?? []).forEach((lr: number, i: number) => (param(i).lr_mult = lr));
  (v1.weight_decay ?? []).forEach((decay: number, i: number) => (param(i).decay_mult = decay));
  if (params.length) out.param = params;
  if (v1.blobs?.length) out.blobs = v1.blobs;
  if (v1.include?.length) out.include = v1.include;
  if (v1.exclude?.length) out.exclude = v1.exclude;
  for (const p of V1_PARAMS) if (has(v1, p)) out[p] = v1[p];
  if (has(v1, 'layer')) throw new CremaError(`${file}: V1 layer '${v1.name ?? `#${index}`}' also holds a V0 layer definition`);
  return out as LayerParameter;
}

function v1LayerType(type: string | number, layer: string, file: string): string {
  const name = typeof type === 'number' ? V1_TYPE_BY_NUMBER[type] : type;
  const v2 = name === undefined ? undefined : V1_LAYER_TYPES[name];
  if (v2 === undefined) throw new CremaError(`${file}: V1 layer '${layer}' has unknown type ${type}`);
  return v2;
}

/** The V1 LayerType enum's numbers, for readers that keep an unknown-to-them enum value as a number. */
const V1_TYPE_BY_NUMBER: Record<number, string> = {
  0: 'NONE', 35: 'ABSVAL', 1: 'ACCURACY', 30: 'ARGMAX', 2: 'BNLL', 3: 'CONCAT', 37: 'CONTRASTIVE_LOSS', 4: 'CONVOLUTION',
  5: 'DATA', 39: 'DECONVOLUTION', 6: 'DROPOUT', 32: 'DUMMY_DATA', 7: 'EUCLIDEAN_LOSS', 25: 'ELTWISE', 38: 'EXP',
  8: 'FLATTEN', 9: 'HDF5_DATA', 10: 'HDF5_OUTPUT', 28: 'HINGE_LOSS', 11: 'IM2COL', 12: 'IMAGE_DATA', 13: 'INFOGAIN_LOSS',
  14: 'INNER_PRODUCT', 15: 'LRN', 29: 'MEMORY_DATA', 16: 'MULTINOMIAL_LOGISTIC_LOSS', 34: 'MVN', 17: 'POOLING',
  26: 'POWER', 18: 'RELU', 19: 'SIGMOID', 27: 'SIGMOID_CROSS_ENTROPY_LOSS', 36: 'SILENCE', 20: 'SOFTMAX',
  21: 'SOFTMAX_LOSS', 22: 'SPLIT', 33: 'SLICE', 23: 'TANH', 24: 'WINDOW_DATA', 31: 'THRESHOLD', 40: 'CROP',
  10030: 'CONVOLUTION3D', 10031: 'POOLING3D', 10033: 'VIDEO_DATA', 10034: 'DECONVOLUTION3D',
  10035: 'VIDEO_SEGMENTATION_DATA', 10036: 'VOXEL_SOFTMAX', 10037: 'VOXEL_SOFTMAX_LOSS', 10038: 'VIDEO_WITH_VOXEL_TRUTH_DATA',
};

function shareMode(mode: string | number, layer: string | undefined, file: string): string {
  if (mode === 'STRICT' || mode === 0) return 'STRICT';
  if (mode === 'PERMISSIVE' || mode === 1) return 'PERMISSIVE';
  throw new CremaError(`${file}: V1 layer '${layer ?? '?'}' has unknown blob_share_mode ${mode}`);
}

// ---------------------------------------------------------------- net inputs -> Input layer

function upgradeNetInput(net: Message, file: string, notes: string[]): void {
  const inputs: string[] = net.input ?? [];
  const shapes: BlobShape[] | undefined = net.input_shape?.length ? net.input_shape : undefined;
  const dims: number[] | undefined = net.input_dim?.length ? net.input_dim : undefined;
  delete net.input;
  delete net.input_shape;
  delete net.input_dim;
  // An input without shape or dims is a legacy caffemodel's leftover: dropping it is enough.
  if (!shapes && !dims) return;
  if (shapes && shapes.length !== inputs.length)
    throw new CremaError(`${file}: the net has ${inputs.length} input(s) but ${shapes.length} input_shape(s)`);
  if (!shapes && dims!.length !== 4 * inputs.length)
    throw new CremaError(`${file}: the net has ${inputs.length} input(s) but ${dims!.length} input_dim values (4 per input expected)`);
  const shape = inputs.map((_, i) => (shapes ? { dim: [...(shapes[i].dim ?? [])] } : { dim: dims!.slice(4 * i, 4 * i + 4) }));
  const layer: LayerParameter = { name: 'input', type: 'Input', top: [...inputs], input_param: { shape } };
  net.layer = [layer, ...(net.layer ?? [])];
  notes.push(`${file}: turned the net-level inputs (${inputs.join(', ')}) into an Input layer`);
}

// ---------------------------------------------------------------- BatchNorm param specs

// Caffe checks only the count; requiring a nonzero multiplier too keeps upgradeNet's notes empty on a net it already upgraded.
function needsBatchNormUpgrade(net: Message): boolean {
  return (net.layer ?? []).some((l: Message) => l.type === 'BatchNorm' && l.param?.length === 3 &&
    l.param.some((p: Message) => p.lr_mult !== 0 || p.decay_mult !== 0));
}

function upgradeBatchNorm(net: Message): void {
  for (const l of net.layer ?? []) {
    if (l.type !== 'BatchNorm' || l.param?.length !== 3) continue;
    for (const p of l.param) {
      p.lr_mult = 0;
      p.decay_mult = 0;
    }
  }
}
