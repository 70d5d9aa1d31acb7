import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filterNet, selectLayers, stateMeetsRule } from '../src/caffe/phase.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { LayerParameter, NetParameter } from '../src/caffe/types.js';
import type { Message } from '../src/caffe/message.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { Tensor } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readNet = (file: string): NetParameter => upgradeNet(parsePrototxt(fs.readFileSync(file, 'utf8'), file), file);
const names = (net: NetParameter) => net.layer!.map((l) => l.name);

describe('stateMeetsRule (Caffe\'s Net::StateMeetsRule)', () => {
  const state = { phase: 'TEST' as const, level: 2, stages: ['a', 'b'] };
  const cases: [Message, boolean][] = [
    [{}, true],
    [{ phase: 'TEST' }, true],
    [{ phase: 'TRAIN' }, false],
    [{ min_level: 2 }, true],
    [{ min_level: 3 }, false],
    [{ max_level: 2 }, true],
    [{ max_level: 1 }, false],
    [{ stage: ['a'] }, true],
    [{ stage: ['a', 'b'] }, true],
    [{ stage: ['a', 'c'] }, false], // every stage of the rule must be in the state
    [{ not_stage: ['c'] }, true],
    [{ not_stage: ['c', 'b'] }, false], // no not_stage may be in the state
    [{ phase: 'TEST', min_level: 1, max_level: 3, stage: ['b'], not_stage: ['z'] }, true],
    [{ phase: 'TEST', min_level: 1, max_level: 3, stage: ['b'], not_stage: ['a'] }, false],
  ];
  for (const [rule, meets] of cases) it(`${JSON.stringify(rule)} -> ${meets}`, () => expect(stateMeetsRule(state, rule)).toBe(meets));
});

describe('selectLayers (Caffe\'s Net::FilterNet)', () => {
  const layer = (name: string, rules: Message = {}): LayerParameter => ({ name, type: 'ReLU', ...rules });
  const net: NetParameter = {
    layer: [
      layer('always'),
      layer('train_only', { include: [{ phase: 'TRAIN' }] }),
      layer('test_only', { include: [{ phase: 'TEST' }] }),
      layer('not_test', { exclude: [{ phase: 'TEST' }] }),
      layer('train_or_deep', { include: [{ phase: 'TRAIN' }, { min_level: 5 }] }), // any include rule lets it in
      layer('val_stage', { include: [{ stage: ['val'] }] }),
      layer('not_deploy', { exclude: [{ stage: ['deploy'] }] }),
      layer('shallow', { include: [{ max_level: 0 }] }),
    ],
  };

  it('keeps TEST layers by default', () => {
    expect(names(selectLayers(net))).toEqual(['always', 'test_only', 'not_deploy', 'shallow']);
  });
  it('TRAIN', () => {
    expect(names(selectLayers(net, { phase: 'TRAIN' }))).toEqual(['always', 'train_only', 'not_test', 'train_or_deep', 'not_deploy', 'shallow']);
  });
  it('level', () => {
    expect(names(selectLayers(net, { level: 5 }))).toEqual(['always', 'test_only', 'train_or_deep', 'not_deploy']);
  });
  it('stages', () => {
    expect(names(selectLayers(net, { stages: ['val', 'deploy'] }))).toEqual(['always', 'test_only', 'val_stage', 'shallow']);
  });
  it('the net\'s own state gives the level and stages (stages given add to them)', () => {
    const withState = { ...net, state: { phase: 'TRAIN' as const, level: 5, stage: ['val'] } };
    expect(names(selectLayers(withState))).toEqual(['always', 'test_only', 'train_or_deep', 'val_stage', 'not_deploy']);
    expect(names(selectLayers(withState, { stages: ['deploy'] }))).toEqual(['always', 'test_only', 'train_or_deep', 'val_stage']);
    expect(names(selectLayers(withState, { level: 0 }))).toEqual(['always', 'test_only', 'val_stage', 'not_deploy', 'shallow']);
  });
  it('refuses a layer with both include and exclude rules', () => {
    const bad = { layer: [layer('both', { include: [{ phase: 'TEST' }], exclude: [{ stage: ['x'] }] })] };
    expect(() => selectLayers(bad)).toThrow(CremaError);
    expect(() => selectLayers(bad)).toThrow("layer 'both' (ReLU) has both include and exclude rules; Caffe allows only one kind");
  });
  it('notes a layer whose own phase field differs from the net\'s', () => {
    const notes: string[] = [];
    selectLayers({ layer: [{ name: 'drop', type: 'Dropout', phase: 'TRAIN' }] }, {}, notes);
    expect(notes).toEqual(["layer 'drop' (Dropout) sets phase: TRAIN, so it behaves as in TRAIN although the net runs in TEST"]);
  });
});

/** A layer without the things only training reads (fillers), for comparing graphs. */
function withoutFillers(l: LayerParameter): LayerParameter {
  const out: Message = {};
  for (const [k, v] of Object.entries(l)) {
    if (k.endsWith('_param') && v && typeof v === 'object') {
      const { weight_filler: _w, bias_filler: _b, ...rest } = v as Message;
      out[k] = rest;
    } else out[k] = v;
  }
  return out as LayerParameter;
}

describe('AlexNet train_val -> the deploy graph', () => {
  const trainVal = readNet(path.join(repo, 'models/zoo/alexnet_train_val.prototxt'));
  const deploy = readNet(path.join(repo, 'models/zoo/alexnet.prototxt'));
  const deployWithBatch = (n: number) =>
    deploy.layer!.map((l) => (l.type === 'Input' ? { ...l, input_param: { shape: [{ dim: [n, 3, 227, 227] }] } } : l));

  it('TEST gives exactly the deploy net\'s layers, with the TEST data layer\'s batch (50) and crop (227)', () => {
    const notes: string[] = [];
    const test = filterNet(trainVal, { phase: 'TEST' }, notes);
    expect(test.layer!.map(withoutFillers)).toEqual(deployWithBatch(50));
    expect(notes).toEqual([
      "SoftmaxWithLoss layer 'loss' became Softmax layer 'prob' (top 'prob'), without its label input",
      'dropped the loss / accuracy layers, which need labels: accuracy (Accuracy)',
      "Data layer 'data': assumed 3 channels (the prototxt cannot say, and no weights tell)",
      "Data layer 'data' became an Input layer: data [50, 3, 227, 227]; dropped its top(s) label, which no remaining layer reads",
    ]);
  });

  it('TRAIN gives the train graph: the TRAIN data layer (batch 256), no Accuracy', () => {
    const notes: string[] = [];
    const train = filterNet(trainVal, { phase: 'TRAIN' }, notes);
    expect(train.layer!.map(withoutFillers)).toEqual(deployWithBatch(256));
    expect(notes).not.toContain('dropped the loss / accuracy layers, which need labels: accuracy (Accuracy)');
    // Without the inference conversions, TRAIN keeps the loss and drops the TEST-only accuracy.
    const raw = selectLayers(trainVal, { phase: 'TRAIN' });
    expect(names(raw).slice(-2)).toEqual(['fc8', 'loss']);
    expect((raw.layer![0] as Message).data_param.batch_size).toBe(256);
  });

  it('takes the data layer\'s channels from the weights of the convolution reading it', () => {
    const notes: string[] = [];
    const weights = new Map([['conv1', [Tensor.zeros([96, 1, 11, 11])]]]);
    const test = filterNet(trainVal, { phase: 'TEST' }, notes, { weights });
    expect(test.layer![0].input_param).toEqual({ shape: [{ dim: [50, 1, 227, 227] }] });
    expect(notes).toContain("Data layer 'data': took 1 channel(s) from the weights of 'conv1' (the prototxt cannot say)");
  });
});

describe('data layers become Input layers', () => {
  const conv = (bottom: string): LayerParameter => ({ name: `conv_${bottom}`, type: 'Convolution', bottom: [bottom], top: [`c_${bottom}`] });
  const accuracy = (bottom: string, label: string): LayerParameter => ({ name: `acc_${bottom}`, type: 'Accuracy', bottom: [bottom, label], top: [`acc_${bottom}`] });
  const inputOf = (l: LayerParameter) => ({ name: l.name, type: l.type, top: l.top, shapes: (l.input_param as Message | undefined)?.shape?.map((s: Message) => s.dim) });
  const convert = (data: LayerParameter, extra: LayerParameter[] = [], opts = {}) => {
    const notes: string[] = [];
    const net = filterNet({ layer: [data, conv(data.top![0]), ...extra] }, {}, notes, opts);
    return { input: inputOf(net.layer![0]), notes, net };
  };

  it('ImageData: batch_size, color, new_height / new_width, or crop_size', () => {
    const l = { name: 'img', type: 'ImageData', top: ['d', 'lab'], image_data_param: { batch_size: 4, new_height: 30, new_width: 40 } };
    expect(convert(l).input).toEqual({ name: 'img', type: 'Input', top: ['d'], shapes: [[4, 3, 30, 40]] });
    expect(convert({ ...l, transform_param: { crop_size: 24 }, image_data_param: { ...l.image_data_param, is_color: false } }).input.shapes).toEqual([[4, 1, 24, 24]]);
  });

  it("ImageData with yihui-he/caffe-pro's new_dim and bicubic (channel-pruning's temp/resnet-50-cp.prototxt, its TEST data layer as published)", () => {
    const text = `layer { name: "data" type: "ImageData" top: "data" top: "label" include { phase: TEST }
      image_data_param { new_dim: 256 bicubic: true shuffle: true batch_size: 10 source: "path/to/ilsvrc12/sourceval.txt" }
      transform_param { crop_size: 224 mean_file: "temp/bgr.binaryproto" } }`;
    const data = parsePrototxt(text, 'resnet-50-cp.prototxt').layer![0] as LayerParameter;
    expect(data.image_data_param).toMatchObject({ new_dim: 256, bicubic: true });
    expect(convert(data).input).toEqual({ name: 'data', type: 'Input', top: ['data'], shapes: [[10, 3, 224, 224]] });
  });

  it('MemoryData: its own four numbers, and a label some remaining layer still reads is kept', () => {
    const l = { name: 'mem', type: 'MemoryData', top: ['d', 'lab'], memory_data_param: { batch_size: 2, channels: 5, height: 6, width: 7 } };
    const silence = { name: 's', type: 'Silence', bottom: ['lab'] };
    expect(convert(l, [silence]).input).toEqual({ name: 'mem', type: 'Input', top: ['d', 'lab'], shapes: [[2, 5, 6, 7], [2]] });
  });

  it('DummyData of random values: shape per top, or one shape for all, or the legacy num/channels/height/width', () => {
    const both = { name: 'dd', type: 'DummyData', top: ['x', 'y'], dummy_data_param: { data_filler: [{ type: 'gaussian' }] } };
    const keepY = { name: 's', type: 'Silence', bottom: ['y'] };
    const random = both.dummy_data_param;
    expect(convert({ ...both, dummy_data_param: { ...random, shape: [{ dim: [1, 2] }, { dim: [3] }] } }, [keepY]).input.shapes).toEqual([[1, 2], [3]]);
    expect(convert({ ...both, dummy_data_param: { ...random, shape: [{ dim: [1, 2] }] } }, [keepY]).input.shapes).toEqual([[1, 2], [1, 2]]);
    expect(convert({ ...both, dummy_data_param: { ...random, num: [2], channels: [3, 1], height: [4], width: [5] } }, [keepY]).input.shapes).toEqual([[2, 3, 4, 5], [2, 1, 4, 5]]);
    expect(() => convert({ ...both, dummy_data_param: { ...random, shape: [{ dim: [1, 2] }], num: [2] } }, [keepY])).toThrow(
      "layer 'dd' (DummyData): gives both shape and the legacy num / channels / height / width; give one");
  });

  it('DummyData of constants stays a layer (Caffe computes them: an LSTM\'s cont of ones), unless the data shapes option names it', () => {
    const ones = { name: 'ones', type: 'DummyData', top: ['cont'], dummy_data_param: { shape: [{ dim: [3, 2] }], data_filler: [{ value: 1 }] } };
    expect(convert(ones).net.layer![0]).toEqual(ones);
    expect(convert({ ...ones, dummy_data_param: { shape: [{ dim: [3, 2] }] } }).notes).toEqual([]);
    expect(convert(ones, [], { dataShapes: { cont: [5, 2] } }).input).toEqual({ name: 'ones', type: 'Input', top: ['cont'], shapes: [[5, 2]] });
  });

  it('WindowData: batch, 3 channels, crop', () => {
    const l = { name: 'win', type: 'WindowData', top: ['d', 'lab'], window_data_param: { batch_size: 8 }, transform_param: { crop_size: 16 } };
    expect(convert(l, [accuracy('c_d', 'lab')]).input).toEqual({ name: 'win', type: 'Input', top: ['d'], shapes: [[8, 3, 16, 16]] });
  });

  it("the SSD fork's AnnotatedData and VideoData: the size its transformer gives (crop, else resize_param), boxes and DetectionEvaluate dropped", () => {
    const evaluate = { name: 'eval', type: 'DetectionEvaluate', bottom: ['det', 'label'], top: ['map'], detection_evaluate_param: { num_classes: 21 } };
    const det = { name: 'det', type: 'ReLU', bottom: ['data'], top: ['det'] };
    const anno = (transform: Message, type = 'AnnotatedData') => ({ name: 'd', type, top: ['data', 'label'], data_param: { batch_size: 8 }, transform_param: transform });
    const resize = (mode: string, height = 300, width = 400) => ({ resize_param: [{ resize_mode: mode, height, width }] });
    const { input, notes, net } = convert(anno({ ...resize('WARP'), force_color: true }), [det, evaluate]);
    expect(input).toEqual({ name: 'd', type: 'Input', top: ['data'], shapes: [[8, 3, 300, 400]] });
    expect(names(net)).toEqual(['d', 'conv_data', 'det']);
    expect(notes).toEqual([
      'dropped the loss / accuracy layers, which need labels: eval (DetectionEvaluate)',
      "AnnotatedData layer 'd' became an Input layer: data [8, 3, 300, 400]; dropped its top(s) label, which no remaining layer reads",
    ]);
    // the fork's InferBlobShape: a crop after the resize wins, crop_size over crop_h / crop_w; FIT_LARGE_SIZE_AND_PAD pads to the size
    expect(convert(anno({ ...resize('WARP'), crop_h: 200, crop_w: 100, force_gray: true }), [det]).input.shapes).toEqual([[8, 1, 200, 100]]);
    expect(convert(anno({ crop_size: 64, crop_h: 200, crop_w: 100, force_gray: true }), [det]).input.shapes).toEqual([[8, 1, 64, 64]]);
    expect(convert(anno({ ...resize('FIT_LARGE_SIZE_AND_PAD', 512, 512), force_gray: true }), [det]).input.shapes).toEqual([[8, 1, 512, 512]]);
    expect(convert(anno({ ...resize('WARP'), force_color: true }, 'VideoData'), [det]).input.shapes).toEqual([[8, 3, 300, 400]]);
    // eric612/MobileNet-YOLO's multi-scale training: several resize_param, the first sizes the net
    const scales = { resize_param: [...resize('WARP', 416, 416).resize_param, ...resize('WARP', 608, 608).resize_param], force_color: true };
    expect(convert(anno(scales), [det]).input.shapes).toEqual([[8, 3, 416, 416]]);
    // FIT_SMALL_SIZE keeps each image's aspect: its size is the image's
    expect(() => convert(anno(resize('FIT_SMALL_SIZE')), [det])).toThrow(
      "layer 'd' (AnnotatedData): cannot turn it into an Input layer: its images come from a database and transform_param.crop_size is not set, nor a resize_param of height and width (WARP or FIT_LARGE_SIZE_AND_PAD); give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })",
    );
    expect(() => convert(anno({}, 'VideoData'), [det])).toThrow("layer 'd' (VideoData): cannot turn it into an Input layer: its images come from a camera or a video and");
    expect(convert(anno({}), [det], { dataShapes: { data: [1, 3, 32, 32] } }).input.shapes).toEqual([[1, 3, 32, 32]]);
  });

  it("video clips: C3D's VideoData (N x C x new_length x H x W) and TSN's (snippets stacked as channels), told apart by TSN's fields", () => {
    const video = (param: Message, transform: Message = { crop_size: 112 }) => ({ name: 'v', type: 'VideoData', top: ['data', 'label'], video_data_param: param, transform_param: transform });
    // C3D v1.1: batch x 3 (1 when not is_color) x new_length x crop, else its frames' new_height x new_width
    expect(convert(video({ batch_size: 2, new_length: 8, new_height: 128, new_width: 171 })).input.shapes).toEqual([[2, 3, 8, 112, 112]]);
    expect(convert(video({ batch_size: 2, new_length: 16, new_height: 128, new_width: 171, is_color: false }, {})).input.shapes).toEqual([[2, 1, 16, 128, 171]]);
    // TSN (yjxiong/caffe action_recog): c x new_length x num_segments channels, c = 2 for FLOW (its default), 3 for RGB
    expect(convert(video({ batch_size: 1, new_length: 5, num_segments: 3, modality: 'FLOW' }, { crop_size: 224 })).input.shapes).toEqual([[1, 30, 224, 224]]);
    expect(convert(video({ batch_size: 4, new_length: 1, num_segments: 3, modality: 'RGB' }, { crop_size: 224 })).input.shapes).toEqual([[4, 9, 224, 224]]);
    expect(convert(video({ batch_size: 1, num_segments: 25, grayscale: true, modality: 'RGB', new_height: 256, new_width: 340 }, {})).input.shapes).toEqual([[1, 25, 256, 340]]);
    expect(() => convert(video({ batch_size: 1, new_length: 8 }, {}))).toThrow(
      "layer 'v' (VideoData): cannot turn it into an Input layer: its frames come from videos and neither transform_param.crop_size nor video_data_param.new_height / new_width is set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })");
  });

  it("caffe-segnet's DenseImageData: crop_size, else crop_height x crop_width, else new_height x new_width; labels [N, 1, H, W]", () => {
    const l = { name: 'dense', type: 'DenseImageData', top: ['d', 'lab'], dense_image_data_param: { batch_size: 2, new_height: 360, new_width: 480 } };
    const keepLabel = { name: 's', type: 'Silence', bottom: ['lab'] };
    expect(convert(l, [keepLabel]).input).toEqual({ name: 'dense', type: 'Input', top: ['d', 'lab'], shapes: [[2, 3, 360, 480], [2, 1, 360, 480]] });
    expect(convert({ ...l, dense_image_data_param: { ...l.dense_image_data_param, crop_height: 200, crop_width: 100, is_color: false } }).input.shapes).toEqual([[2, 1, 200, 100]]);
    expect(convert({ ...l, transform_param: { crop_size: 64 }, dense_image_data_param: { ...l.dense_image_data_param, crop_height: 200, crop_width: 100 } }).input.shapes).toEqual([[2, 3, 64, 64]]);
    // SegNet's segnet_inference.prototxt: the size is its images'
    const segnet = { name: 'data', type: 'DenseImageData', top: ['data', 'label'], dense_image_data_param: { source: 'test.txt', batch_size: 1 } };
    expect(() => convert(segnet)).toThrow(
      "layer 'data' (DenseImageData): cannot turn it into an Input layer: its images come from files and neither transform_param.crop_size nor dense_image_data_param.crop_height / crop_width or new_height / new_width is set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })");
    expect(convert(segnet, [], { dataShapes: { data: [1, 3, 360, 480] } }).input).toEqual({ name: 'data', type: 'Input', top: ['data'], shapes: [[1, 3, 360, 480]] });
  });

  it("DeepLab v2's ImageSegData: crop_size, else crop_height x crop_width, else new_height x new_width; labels [N, 1, H, W], sizes [N, 1, 1, 2]", () => {
    const l = { name: 'data', type: 'ImageSegData', top: ['data', 'label', 'data_dim'], image_data_param: { batch_size: 2, new_height: 300, new_width: 400, label_type: 'NONE' } };
    const silence = { name: 's', type: 'Silence', bottom: ['label', 'data_dim'] };
    expect(convert(l, [silence]).input).toEqual({ name: 'data', type: 'Input', top: ['data', 'label', 'data_dim'], shapes: [[2, 3, 300, 400], [2, 1, 300, 400], [2, 1, 1, 2]] });
    expect(convert({ ...l, transform_param: { crop_height: 321, crop_width: 257 } }).input.shapes).toEqual([[2, 3, 321, 257]]);
    expect(convert({ ...l, transform_param: { crop_size: 513 }, image_data_param: { ...l.image_data_param, is_color: false } }).input.shapes).toEqual([[2, 1, 513, 513]]);
    // the images' own size: given, the label and size tops follow it
    const own = { ...l, image_data_param: { batch_size: 1 } };
    expect(() => convert(own)).toThrow(
      "layer 'data' (ImageSegData): cannot turn it into an Input layer: its images come from files and neither transform_param.crop_size nor crop_height / crop_width nor image_data_param.new_height / new_width is set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })");
    expect(convert(own, [silence], { dataShapes: { data: [1, 3, 64, 48] } }).input.shapes).toEqual([[1, 3, 64, 48], [1, 1, 64, 48], [1, 1, 1, 2]]);
  });

  it("DeepLab v2's SegAccuracy goes with the accuracy layers, its MatWrite with the writers", () => {
    const data = { name: 'data', type: 'ImageSegData', top: ['data', 'label', 'data_dim'], transform_param: { crop_size: 8 }, image_data_param: { batch_size: 1 } };
    const notes: string[] = [];
    const net = filterNet({ layer: [data, conv('data'),
      { name: 'accuracy', type: 'SegAccuracy', bottom: ['c_data', 'label'], top: ['acc'], seg_accuracy_param: { ignore_label: [255] } },
      { name: 'mat', type: 'MatWrite', bottom: ['c_data'], mat_write_param: { prefix: 'features/' } }] }, {}, notes);
    expect(names(net)).toEqual(['data', 'conv_data']);
    expect(notes).toContain('dropped the loss / accuracy layers, which need labels: accuracy (SegAccuracy)');
    expect(notes).toContain('dropped the layers that write their bottom to files (the blobs stay): mat (MatWrite)');
    expect(notes).toContain("ImageSegData layer 'data' became an Input layer: data [1, 3, 8, 8]; dropped its top(s) label, data_dim, which no remaining layer reads");
  });

  it("a train net's TRAIN-only data layer, loaded for TEST: the error names the layer, its rule and the phase that keeps it", () => {
    const train: NetParameter = {
      layer: [
        { name: 'data', type: 'AnnotatedData', top: ['data', 'label'], include: [{ phase: 'TRAIN' }], data_param: { batch_size: 2 }, transform_param: { crop_size: 8 } },
        { name: 'conv', type: 'Convolution', bottom: ['data'], top: ['conv'], convolution_param: { num_output: 2, kernel_size: [3] } },
      ],
    };
    expect(() => filterNet(train)).toThrow(
      "layer 'conv' (Convolution): bottom 'data' is made only by layer 'data' (AnnotatedData), which TEST leaves out (include { phase: TRAIN }): this net is for TRAIN (options.phase TRAIN)");
    expect(filterNet(train, { phase: 'TRAIN' }).layer!.map((l) => l.type)).toEqual(['Input', 'Convolution']);
    // a stage rule: no phase keeps it
    const staged = { layer: [{ ...train.layer![0], include: [{ stage: ['big'] }] }, train.layer![1]] };
    expect(() => filterNet(staged)).toThrow("bottom 'data' is made only by layer 'data' (AnnotatedData), which TEST leaves out (include { stage: \"big\" })");
    expect(filterNet(staged, { stages: ['big'] }).layer).toHaveLength(2);
  });

  it('drops label tops that only removed layers read, also from Input layers', () => {
    const input = { name: 'in', type: 'Input', top: ['d', 'lab'], input_param: { shape: [{ dim: [1, 3, 8, 8] }, { dim: [1] }] } };
    const { input: out, notes } = convert(input, [accuracy('c_d', 'lab')]);
    expect(out).toEqual({ name: 'in', type: 'Input', top: ['d'], shapes: [[1, 3, 8, 8]] });
    expect(notes).toContain("Input layer 'in': dropped top(s) lab, read only by removed loss layers");
  });

  it('refuses a data layer whose image size the prototxt does not give, unless told', () => {
    const mnist = { name: 'mnist', type: 'Data', top: ['data', 'label'], data_param: { batch_size: 64, source: 'lmdb' }, transform_param: { scale: 0.00390625 } };
    expect(() => convert(mnist)).toThrow(
      "layer 'mnist' (Data): cannot turn it into an Input layer: its images come from a database and transform_param.crop_size is not set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })",
    );
    expect(convert(mnist, [], { dataShapes: { data: [64, 1, 28, 28] } }).input.shapes).toEqual([[64, 1, 28, 28]]);
    const h5 = { name: 'h5', type: 'HDF5Data', top: ['data'], hdf5_data_param: { batch_size: 2, source: 'x' } };
    expect(() => convert(h5)).toThrow("layer 'h5' (HDF5Data): cannot turn it into an Input layer: its shapes are set by its data source, not the prototxt; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })");
    const py = { name: 'py', type: 'Python', top: ['data'], python_param: { module: 'm', layer: 'L' } };
    expect(() => convert(py)).toThrow("layer 'py' (Python): cannot turn it into an Input layer");
  });

  it("a Python layer that weighs its top in the loss (pycaffe's EuclideanLossLayer) goes with the losses; others stay", () => {
    const input = { name: 'in', type: 'Input', top: ['x', 'y'], input_param: { shape: [{ dim: [2, 3] }] } };
    const python = (name: string, extra: { loss_weight?: number[] } = {}): LayerParameter =>
      ({ name, type: 'Python', bottom: ['x', 'y'], top: [name], python_param: { module: 'pyloss', layer: 'EuclideanLossLayer' }, ...extra });
    const notes: string[] = [];
    const net = filterNet({ layer: [input, python('loss', { loss_weight: [1] }), python('other'), python('zero', { loss_weight: [0] })] }, {}, notes);
    expect(names(net)).toEqual(['in', 'other', 'zero']);
    expect(notes).toContain('dropped the loss / accuracy layers, which need labels: loss (Python)');
  });

  it("py-faster-rcnn's SmoothL1Loss with its smooth_l1_loss_param (caffe-fast-rcnn's field) parses and goes", () => {
    const notes: string[] = [];
    const net = filterNet(parsePrototxt(`
      layer { name: "in" type: "Input" top: "pred" top: "target" input_param { shape { dim: 1 dim: 8 } shape { dim: 1 dim: 8 } } }
      layer { name: "rpn_loss_bbox" type: "SmoothL1Loss" bottom: "pred" bottom: "target" top: "rpn_loss_bbox" loss_weight: 1 smooth_l1_loss_param { sigma: 3.0 } }
      layer { name: "score" type: "ReLU" bottom: "pred" top: "score" }`, 'train.prototxt') as NetParameter, {}, notes);
    expect(names(net)).toEqual(['in', 'score']);
    expect(notes).toContain('dropped the loss / accuracy layers, which need labels: rpn_loss_bbox (SmoothL1Loss)');
  });

  it('several SoftmaxWithLoss layers keep their names; other losses go', () => {
    const input = { name: 'in', type: 'Input', top: ['x', 'label'], input_param: { shape: [{ dim: [1, 4] }, { dim: [1] }] } };
    const net: NetParameter = {
      layer: [
        input,
        { name: 'loss1', type: 'SoftmaxWithLoss', bottom: ['x', 'label'], top: ['loss1'], softmax_param: { axis: 1 }, loss_weight: [0.3] },
        { name: 'loss2', type: 'SoftmaxWithLoss', bottom: ['x', 'label'], top: ['loss2'] },
        { name: 'euc', type: 'EuclideanLoss', bottom: ['x', 'x'], top: ['euc'] },
      ],
    };
    const out = filterNet(net);
    expect(out.layer).toEqual([
      { name: 'in', type: 'Input', top: ['x'], input_param: { shape: [{ dim: [1, 4] }] } },
      { name: 'loss1', type: 'Softmax', bottom: ['x'], top: ['loss1'], softmax_param: { axis: 1 } },
      { name: 'loss2', type: 'Softmax', bottom: ['x'], top: ['loss2'] },
    ]);
  });
});
