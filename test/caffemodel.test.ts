import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readBlobProto, readBlobProtoFile } from '../src/caffe/binaryproto.js';
import { encodeCaffemodel, readCaffemodel, readCaffemodelFile } from '../src/caffe/caffemodel.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { messageType } from '../src/caffe/schema.js';
import type { BlobProto } from '../src/caffe/types.js';
import type { Message } from '../src/caffe/message.js';
import { decodeMessage, encodeMessage, memorySource } from '../src/caffe/wire.js';
import { fileSource } from '../src/util/files.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';
import { f64, legacyBlob, len, packedFloats, str, tag, uint, unpackedFloats, varint } from './helpers/wire.js';
import { cli, errorOf } from './helpers/cli.js';
import { upgradeCaffemodel } from '../src/api.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-caffemodel-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


const bytes = (...parts: number[][]): Uint8Array => new Uint8Array(parts.flat());

/** A V2 net using most kinds of field the schema has. */
function sampleNet(): Message {
  return {
    name: 'sample',
    input: ['data'],
    input_shape: [{ dim: [1, 3, -1, 9007199254740991] }],
    force_backward: true,
    state: { phase: 'TEST', level: -3, stage: ['deploy'] },
    layer: [
      {
        name: 'conv1',
        type: 'Convolution',
        bottom: ['data'],
        top: ['conv1'],
        phase: 'TEST',
        loss_weight: [0.5, 2],
        param: [{ lr_mult: 1 }, { lr_mult: 2, decay_mult: 0 }],
        propagate_down: [true, false],
        blobs: [
          { shape: { dim: [2, 3, 1, 1] }, data: new Float32Array([1, -2, 3.5, Infinity, -0, 1e-30]) },
          { num: 1, channels: 1, height: 1, width: 2, data: new Float32Array([0.25, 7]), diff: new Float32Array([1, 2]) },
          { shape: { dim: [2] }, double_data: new Float64Array([Math.PI, -1e300]) },
        ],
        convolution_param: { num_output: 2, kernel_size: [1, 1], bias_term: false, axis: -1, engine: 'CAFFE' },
        include: [{ phase: 'TEST', min_level: 0, not_stage: ['train'] }],
      },
      { name: 'prob', type: 'Softmax', bottom: ['conv1'], top: ['prob'], softmax_param: { axis: -2 } },
    ],
  };
}

describe('encode / decode', () => {
  test('round trip of a V2 net keeps every value and type', () => {
    const net = sampleNet();
    const back = readCaffemodel(encodeCaffemodel(net), 'sample.caffemodel');
    expect(back).toEqual(net);
    expect(back.layer[0].blobs[0].data).toBeInstanceOf(Float32Array);
    expect(back.layer[0].blobs[2].double_data).toBeInstanceOf(Float64Array);
  });

  test('agrees with protobufjs in both directions', () => {
    const type = messageType('NetParameter');
    const net = sampleNet();
    const ours = encodeCaffemodel(net);
    const theirs = type.toObject(type.decode(ours), { enums: String, longs: Number, arrays: false });
    expect(theirs.layer[0].blobs[0].data).toEqual(Array.from(net.layer[0].blobs[0].data));
    expect(theirs.input_shape[0].dim).toEqual([1, 3, -1, 9007199254740991]);
    expect(theirs.layer[0].convolution_param).toEqual({ num_output: 2, kernel_size: [1, 1], bias_term: false, axis: -1, engine: 'CAFFE' });
    expect(theirs.state).toEqual({ phase: 'TEST', level: -3, stage: ['deploy'] });
    // and protobufjs' encoding of the same object decodes to the same thing with ours
    const reencoded = type.encode(type.fromObject(theirs)).finish();
    expect(readCaffemodel(reencoded, 'x')).toEqual(net);
  });

  test('V1 layers with unpacked floats, V0 nested layers, split packed runs and unknown fields', () => {
    const v1Blob = legacyBlob([1, 1, 1, 3], unpackedFloats(5, [1, 2, 3]));
    const splitBlob = legacyBlob([1, 1, 2, 2], [...packedFloats(5, [1, 2]), ...packedFloats(5, [3, 4])]);
    const v0 = [...str(1, 'old'), ...str(2, 'conv'), ...uint(3, 4), ...len(50, legacyBlob([1, 1, 1, 1], packedFloats(5, [9])))];
    const unknown = [
      ...uint(900, 123456789), // varint
      ...tag(901, 1), ...f64(1.5), // fixed64
      ...len(902, [1, 2, 3]), // bytes
      ...tag(903, 5), 0, 0, 0, 0, // fixed32
      ...tag(904, 3), ...uint(1, 5), ...tag(2, 3), ...tag(2, 4), ...tag(904, 4), // nested groups
    ];
    const file = bytes(
      str(1, 'LeNet'),
      unknown,
      len(2, [...str(4, 'conv1'), ...uint(5, 4), ...unknown, ...len(6, v1Blob), ...len(6, splitBlob), ...str(2, 'data')]),
      len(2, [...len(1, v0), ...uint(5, 999)]), // an unknown enum number is dropped, as proto2 does
      uint(4, 10),
      uint(4, 2 ** 32 - 1), // int32 written as uint32: wraps to -1
    );
    const net = readCaffemodel(file, 'v1.caffemodel');
    expect(net).toEqual({
      name: 'LeNet',
      layers: [
        {
          name: 'conv1',
          type: 'CONVOLUTION',
          blobs: [
            { num: 1, channels: 1, height: 1, width: 3, data: new Float32Array([1, 2, 3]) },
            { num: 1, channels: 1, height: 2, width: 2, data: new Float32Array([1, 2, 3, 4]) },
          ],
          bottom: ['data'],
        },
        { layer: { name: 'old', type: 'conv', num_output: 4, blobs: [{ num: 1, channels: 1, height: 1, width: 1, data: new Float32Array([9]) }] } },
      ],
      input_dim: [10, -1],
    });
  });

  test('float data mixing unpacked values and packed runs keeps every value, in order', () => {
    const mixed = legacyBlob([1, 1, 1, 6], [...unpackedFloats(5, [1]), ...packedFloats(5, [2, 3]), ...unpackedFloats(5, [4, 5]), ...packedFloats(5, [6])]);
    expect(readBlobProto(bytes(mixed), 'mixed.binaryproto').data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
  });

  test('a file read through a tiny window gives the same net as one in memory', () => {
    const net = sampleNet();
    const encoded = encodeCaffemodel(net);
    const file = path.join(tmp, 'window.caffemodel');
    fs.writeFileSync(file, encoded);
    expect(readCaffemodelFile(file)).toEqual(net);
    const fd = fs.openSync(file, 'r');
    try {
      for (const window of [16, 17, 31, 64]) {
        expect(decodeMessage(messageType('NetParameter'), fileSource(fd, encoded.length, window), file)).toEqual(net);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  test('other message types encode and decode (SolverParameter)', () => {
    const type = messageType('SolverParameter');
    const solver = { net: 'a.prototxt', base_lr: Math.fround(0.01), max_iter: 1000, solver_mode: 'GPU', test_iter: [1, 2] };
    const enc = encodeMessage(type, solver);
    expect(type.toObject(type.decode(enc), { enums: String })).toEqual(solver);
    expect(decodeMessage(type, memorySource(enc), 'solver.bin')).toEqual(solver);
    expect(decodeMessage(type, memorySource(new Uint8Array()), 'empty.bin')).toEqual({});
  });
});

test("makefile/frcnn's binary deformable_convolution_param (229, deformable_group 19) is read as crema's (999999, 25) and written back at crema's numbers", () => {
  // its caffe.proto: LayerParameter.deformable_convolution_param = 229, DeformableConvolutionParameter.deformable_group = 19
  const layer = (name: string, param: number[]) => len(100, [...str(1, name), ...str(2, 'DeformableConvolution'), ...len(229, param)]);
  const bytes = Uint8Array.from([...str(1, 'frcnn'),
    ...layer('dc1', [...uint(1, 4), ...uint(4, 3), ...uint(19, 2), ...uint(25, 7)]), // 25 is nothing there: skipped
    ...layer('dc2', [...uint(1, 8), ...uint(4, 1)])]);
  const net = readCaffemodel(bytes, 'frcnn.caffemodel');
  const params = (net.layer as Message[]).map((l) => l.deformable_convolution_param);
  expect(params).toEqual([{ num_output: 4, kernel_size: [3], deformable_group: 2 }, { num_output: 8, kernel_size: [1] }]);
  expect((readCaffemodel(encodeCaffemodel(net), 'again.caffemodel').layer as Message[]).map((l) => l.deformable_convolution_param)).toEqual(params);
  // 229 elsewhere than in a LayerParameter (here a NetParameter's) is not this field: skipped as unknown
  expect(decodeMessage(messageType('NetParameter'), memorySource(Uint8Array.from([...str(1, 'n'), ...len(229, uint(1, 4))])), 'n')).toEqual({ name: 'n' });
});

test("upgrading such a caffemodel says the field numbers changed (crema upgrade, upgradeCaffemodel), not 'unchanged in content'; crema's own numbers say nothing", async () => {
  const layer = (name: string, at: number) => len(100, [...str(1, name), ...str(2, 'DeformableConvolution'), ...len(at, [...uint(1, 4), ...uint(4, 3)])]);
  const frcnn = path.join(tmp, 'frcnn.caffemodel'), own = path.join(tmp, 'own.caffemodel'), written = path.join(tmp, 'frcnn-v2.caffemodel');
  fs.writeFileSync(frcnn, Uint8Array.from([...str(1, 'frcnn'), ...layer('dc1', 229), ...layer('dc2', 229), ...layer('dc3', 999999)]));
  fs.writeFileSync(own, Uint8Array.from([...str(1, 'own'), ...layer('dc3', 999999)]));
  const note = `${frcnn}: layer 'dc1' and 1 more had makefile/frcnn's deformable_convolution_param numbers (field 229, deformable_group 19): written at crema's (999999, 25), which that fork's Caffe does not read`;
  expect(await cli('upgrade', frcnn, written)).toEqual({ code: 0, stdout: '', stderr: `note: ${note}\nwrote ${written}` });
  expect(upgradeCaffemodel(frcnn).notes).toEqual([note]);
  expect(await cli('upgrade', own, written)).toEqual({ code: 0, stdout: '', stderr: `note: ${own} was already in the current format; wrote it unchanged in content\nwrote ${written}` });
});

describe('caffemodel errors', () => {
  test('empty and non-protobuf files', () => {
    expect(errorOf(() => readCaffemodel(new Uint8Array(), 'w.caffemodel'))).toBe('w.caffemodel: empty file, not a caffemodel');
    const prototxt = new TextEncoder().encode('name: "AlexNet"\nlayer {\n  name: "data"\n}\n');
    expect(errorOf(() => readCaffemodel(prototxt, 'w.caffemodel'))).toBe('w.caffemodel: this is a text file (a .prototxt?), not a binary caffemodel');
    const jpeg = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]);
    expect(errorOf(() => readCaffemodel(jpeg, 'cat.jpg'))).toBe('cat.jpg: this is a JPEG image, not a binary caffemodel');
    const h5 = bytes([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(errorOf(() => readCaffemodel(h5, 'w.h5'))).toBe('w.h5: this is an HDF5 file (a .caffemodel.h5?), not a binary caffemodel');
    expect(errorOf(() => readCaffemodel(bytes(str(1, 'just a name')), 'n.caffemodel'))).toBe('n.caffemodel: no layers in it: not a caffemodel');
    fs.writeFileSync(path.join(tmp, 'empty.caffemodel'), '');
    expect(errorOf(() => readCaffemodelFile(path.join(tmp, 'empty.caffemodel')))).toBe(`${tmp}/empty.caffemodel: empty file, not a caffemodel`);
    expect(errorOf(() => readCaffemodelFile(path.join(tmp, 'missing.caffemodel')))).toBe(`${tmp}/missing.caffemodel: no such file`);
    expect(errorOf(() => readCaffemodelFile(tmp))).toBe(`${tmp}: is a directory`);
  });

  test('broken wire data names the byte', () => {
    const r = (...parts: number[][]): string => errorOf(() => readCaffemodel(bytes(...parts), 'w.caffemodel'));
    expect(r(str(1, 'n'), [0x0f])).toBe('w.caffemodel: bad wire type 7 (field 1) at byte 3');
    expect(r(str(1, 'n'), [0x2e, 1])).toBe('w.caffemodel: bad wire type 6 (field 5) at byte 3');
    expect(r([0x28], Array(11).fill(0xff))).toBe('w.caffemodel: varint longer than 10 bytes at byte 1');
    expect(r([0x28, 0xff, 0xff])).toBe('w.caffemodel: truncated file: varint runs past the end of the file at byte 1');
    expect(r([0x07, 1])).toBe('w.caffemodel: invalid field number 0 at byte 0');
    expect(r([0xa2, 0x06, 0x05, ...str(1, 'x')])).toBe('w.caffemodel: truncated file: field of length 5 runs past the end of the file at byte 2');
    // a length that fits in the file but not in its enclosing layer
    expect(r([0xa2, 0x06, 0x03, ...tag(1, 2), 0x09, 0x41], str(1, 'tail-of-file'))).toBe(
      'w.caffemodel: field of length 9 runs past the end of its enclosing message (byte 6) at byte 4',
    );
    // a blob claiming 2^40 bytes of floats: refused before any allocation
    expect(r([0xa2, 0x06, 0x09, ...tag(7, 2), 0x07, ...tag(5, 2), ...varint(2 ** 40)])).toBe(
      'w.caffemodel: truncated file: field of length 1099511627776 runs past the end of the file at byte 6',
    );
    expect(r([0xa2, 0x06, 0x06, ...tag(7, 2), 0x04, ...tag(5, 2), 0x02, 0, 0])).toBe(
      'w.caffemodel: packed data of 2 bytes is not a whole number of values at byte 5',
    );
    expect(r(tag(904, 3), uint(1, 5))).toBe('w.caffemodel: truncated file: group 904 runs past the end of the file at byte 0');
    expect(r(tag(904, 3), tag(905, 4))).toBe('w.caffemodel: end-group 905 does not match group 904 at byte 2');
    expect(r(tag(905, 4))).toBe('w.caffemodel: unexpected end-group (field 905) at byte 0');
    expect(r(len(100, [...tag(7, 2), ...varint(13), ...tag(7, 2), ...varint(11), ...len(1, varint(2 ** 60))]))).toBe(
      'w.caffemodel: 64-bit integer too large for a JS number at byte 9',
    );
  });

  test('a blob whose data does not fill its shape', () => {
    const blob = [...len(7, [...len(1, [...varint(2), ...varint(3)])]), ...packedFloats(5, [1, 2, 3, 4, 5])];
    const net = bytes(len(100, [...str(1, 'fc'), ...len(7, blob)]));
    expect(errorOf(() => readCaffemodel(net, 'w.caffemodel'))).toBe("w.caffemodel: layer 'fc' blob 0: shape [2, 3] holds 6 values but the blob has 5");
    const legacy = bytes(len(2, [...str(4, 'ip'), ...len(6, legacyBlob([1, 1, 3, 1], packedFloats(5, [1, 2])))]));
    expect(errorOf(() => readCaffemodel(legacy, 'w.caffemodel'))).toBe("w.caffemodel: layer 'ip' blob 0: shape [1, 1, 3, 1] holds 3 values but the blob has 2");
    // Caffe reads the legacy dims first when both forms are present
    const both = bytes(len(100, [...str(1, 'fc'), ...len(7, [...legacyBlob([1, 1, 1, 2], packedFloats(5, [1, 2])), ...len(7, len(1, [3]))])]));
    expect(readCaffemodel(both, 'w').layer[0].blobs[0].data).toEqual(new Float32Array([1, 2]));
    const empty = bytes(len(100, [...str(1, 'fc'), ...len(7, len(7, len(1, [...varint(1e9), ...varint(1e9)])))]));
    expect(errorOf(() => readCaffemodel(empty, 'w.caffemodel'))).toBe(
      "w.caffemodel: layer 'fc' blob 0: shape [1000000000, 1000000000] holds 1000000000000000000 values but the blob has 0",
    );
    const negative = bytes(len(100, [...str(1, 'fc'), ...len(7, [...len(7, len(1, varint(-2))), ...packedFloats(5, [1])])]));
    expect(errorOf(() => readCaffemodel(negative, 'w.caffemodel'))).toBe("w.caffemodel: layer 'fc' blob 0: bad shape [-2]");
    // shape {} is a scalar (Scale with num_axes: 0 writes one); a bare list takes its shape from the layer
    const scalar = bytes(len(100, [...str(1, 's'), ...len(7, [...len(7, []), ...packedFloats(5, [2])]), ...len(7, packedFloats(5, [1, 2, 3]))]));
    expect(readCaffemodel(scalar, 'w').layer[0].blobs).toEqual([{ shape: {}, data: new Float32Array([2]) }, { data: new Float32Array([1, 2, 3]) }]);
  });
});

describe('binaryproto', () => {
  const mean = bytes(legacyBlob([1, 3, 2, 2], packedFloats(5, [104, 117, 123, 104, 117, 123, 104, 117, 123, 1, 2, 3])));

  test('reads a mean file in memory and from disk', () => {
    const blob = readBlobProto(mean, 'mean.binaryproto');
    expect(blob).toEqual({ num: 1, channels: 3, height: 2, width: 2, data: new Float32Array([104, 117, 123, 104, 117, 123, 104, 117, 123, 1, 2, 3]) });
    const file = path.join(tmp, 'mean.binaryproto');
    fs.writeFileSync(file, mean);
    expect(readBlobProtoFile(file)).toEqual(blob);
    // the shape-based form, as newer Caffe writes it
    const nd: BlobProto = { shape: { dim: [3, 1, 1] }, data: new Float32Array([1, 2, 3]) };
    expect(readBlobProto(encodeMessage(messageType('BlobProto'), nd), 'm')).toEqual(nd);
  });

  test("reads C3D v1.0's mean clip: its BlobProto's five dims (width a varint at field 5), its data at field 6", () => {
    const values = Array.from({ length: 12 }, (_, i) => i / 4);
    const clip = bytes([...uint(1, 1), ...uint(2, 3), ...uint(3, 2), ...uint(4, 1), ...uint(5, 2), ...packedFloats(6, values)]);
    expect(readBlobProto(clip, 'sport1m_mean.binaryproto')).toEqual({ shape: { dim: [1, 3, 2, 1, 2] }, data: Float32Array.from(values) });
    // its count is checked as any blob's
    const short = bytes([...uint(1, 1), ...uint(2, 3), ...uint(3, 2), ...uint(4, 1), ...uint(5, 3), ...packedFloats(6, values)]);
    expect(() => readBlobProto(short, 'clip.binaryproto')).toThrow('clip.binaryproto: shape [1, 3, 2, 1, 3] holds 18 values but the blob has 12');
  });

  test('errors', () => {
    expect(errorOf(() => readBlobProto(new Uint8Array(), 'm.binaryproto'))).toBe('m.binaryproto: empty file, not a binaryproto');
    expect(errorOf(() => readBlobProto(bytes(uint(1, 1), uint(2, 3)), 'm.binaryproto'))).toBe('m.binaryproto: the blob has no data: not a binaryproto');
    expect(errorOf(() => readBlobProto(mean.slice(0, mean.length - 3), 'm.binaryproto'))).toBe(
      'm.binaryproto: truncated file: field of length 48 runs past the end of the file at byte 9',
    );
    const short = bytes(legacyBlob([1, 3, 2, 2], packedFloats(5, [1, 2])));
    expect(errorOf(() => readBlobProto(short, 'm.binaryproto'))).toBe('m.binaryproto: shape [1, 3, 2, 2] holds 12 values but the blob has 2');
  });
});

/** Output shape of each top in a V1 deploy net (Convolution, Pooling, ReLU, LRN, InnerProduct). */
function walkShapes(net: Message): Map<string, number[]> {
  const shapes = new Map<string, number[]>([[net.input[0], net.input_dim as number[]]]);
  for (const l of net.layers as Message[]) {
    const [n, c, h, w] = shapes.get(l.bottom[0])!;
    let out: number[];
    if (l.type === 'CONVOLUTION') {
      const p = l.convolution_param;
      const k = p.kernel_size[0];
      const pad = p.pad?.[0] ?? 0;
      const s = p.stride?.[0] ?? 1;
      out = [n, p.num_output, Math.floor((h + 2 * pad - k) / s) + 1, Math.floor((w + 2 * pad - k) / s) + 1];
    } else if (l.type === 'POOLING') {
      const p = l.pooling_param;
      const s = p.stride ?? 1;
      out = [n, c, Math.ceil((h - p.kernel_size) / s) + 1, Math.ceil((w - p.kernel_size) / s) + 1];
    } else if (l.type === 'INNER_PRODUCT') out = [n, l.inner_product_param.num_output, 1, 1];
    else out = [n, c, h, w];
    shapes.set(l.top[0], out);
  }
  return shapes;
}

describe.skipIf(sharedMissing())('shared models', () => {
  test.each(['lenet', 'cifar10_quick', 'cifar10_full'])('trained %s: every blob matches its layer in deploy.prototxt', (model) => {
    const dir = path.join(sharedDir!, 'models/trained', model);
    const deploy = parsePrototxt(fs.readFileSync(path.join(dir, 'deploy.prototxt'), 'utf8'), 'deploy.prototxt');
    const weights = readCaffemodelFile(path.join(dir, 'weights.caffemodel'));
    expect(weights.layers.length).toBeGreaterThan(0);
    expect(weights.layer).toBeUndefined();
    const shapes = walkShapes(deploy);
    const byName = new Map((weights.layers as Message[]).map((l) => [l.name, l]));
    let checked = 0;
    for (const l of deploy.layers as Message[]) {
      const blobs = (byName.get(l.name)?.blobs ?? []) as BlobProto[];
      const [, c, h, w] = shapes.get(l.bottom[0])!;
      const legacy = (b: BlobProto): number[] => [b.num!, b.channels!, b.height!, b.width!];
      if (l.type === 'CONVOLUTION') {
        const p = l.convolution_param;
        expect(blobs.map(legacy)).toEqual([[p.num_output, c, p.kernel_size[0], p.kernel_size[0]], [1, 1, 1, p.num_output]]);
      } else if (l.type === 'INNER_PRODUCT') {
        const p = l.inner_product_param;
        expect(blobs.map(legacy)).toEqual([[1, 1, p.num_output, c * h * w], [1, 1, 1, p.num_output]]);
      } else {
        expect(blobs).toEqual([]);
        continue;
      }
      for (const b of blobs) {
        expect(b.data).toBeInstanceOf(Float32Array);
        expect(b.data!.length).toBe(b.num! * b.channels! * b.height! * b.width!);
        expect(b.data!.every(Number.isFinite)).toBe(true);
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  test('every sweep weights.caffemodel reads, blob for blob like protobufjs', () => {
    const type = messageType('NetParameter');
    const dir = path.join(sharedDir!, 'reference/sweep');
    let files = 0;
    for (const c of fs.readdirSync(dir)) {
      const file = path.join(dir, c, 'weights.caffemodel');
      if (!fs.existsSync(file)) continue;
      const ours = readCaffemodelFile(file);
      const theirs = type.toObject(type.decode(fs.readFileSync(file)), { enums: String, longs: Number });
      const flat = (net: Message): number[][] =>
        [...(net.layer ?? []), ...(net.layers ?? [])].flatMap((l: Message) => (l.blobs ?? []).map((b: Message) => Array.from(b.data ?? [])));
      expect(flat(ours)).toEqual(flat(theirs));
      files++;
    }
    expect(files).toBeGreaterThan(10);
  });

  test.each([[''], ['--v1']])('generated SqueezeNet 1.1 %s: layers and shapes as spec.json says', (flag) => {
    const specPath = path.join(sharedDir!, 'reference/zoo/squeezenet_v1.1/spec.json');
    const out = path.join(tmp, `squeezenet${flag}.caffemodel`);
    const args = [path.join(sharedDir!, 'tools/hashweights.mjs'), 'model', specPath, out, '--salt', 'dev'];
    execFileSync(process.execPath, flag ? [...args, flag] : args);
    const spec = JSON.parse(fs.readFileSync(specPath, 'utf8')) as { layers: { name: string; blobs: number[][] }[] };
    const net = readCaffemodelFile(out);
    const layers = (flag ? net.layers : net.layer) as Message[];
    expect(layers.map((l) => l.name)).toEqual(spec.layers.map((l) => l.name));
    for (const [i, l] of layers.entries()) {
      const dims = (l.blobs as BlobProto[]).map((b) => (b.shape ? b.shape.dim : [b.num, b.channels, b.height, b.width]));
      const want = spec.layers[i].blobs.map((s) => (flag ? [1, 1, 1, 1, ...s].slice(-4) : s));
      expect(dims).toEqual(want);
    }
    // protobufjs agrees on every float
    const type = messageType('NetParameter');
    const theirs = type.decode(fs.readFileSync(out)) as unknown as Message;
    const tl = (flag ? theirs.layers : theirs.layer) as Message[];
    let values = 0;
    for (const [i, l] of layers.entries()) {
      for (const [j, b] of (l.blobs as BlobProto[]).entries()) {
        const want = tl[i].blobs[j].data as number[];
        expect(b.data!.length).toBe(want.length);
        let differ = 0;
        for (let k = 0; k < want.length; k++) if (b.data![k] !== want[k]) differ++;
        expect(differ).toBe(0);
        values += want.length;
      }
    }
    expect(values).toBeGreaterThan(1_000_000);
  });
});
