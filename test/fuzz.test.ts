// Robustness: damaged caffemodels and random prototxt text either read or fail with a CremaError
// (with file:line:col for text) — never a RangeError, a hang or a giant allocation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { readBlobProto } from '../src/caffe/binaryproto.js';
import { encodeCaffemodel, readCaffemodel } from '../src/caffe/caffemodel.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { messageType } from '../src/caffe/schema.js';
import { readHdf5Weights } from '../src/caffe/hdf5.js';
import { tensorFromBlob } from '../src/caffe/load.js';
import { filterNet } from '../src/caffe/phase.js';
import type { BlobProto } from '../src/caffe/types.js';
import type { Message } from '../src/caffe/message.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { decodeMessage, encodeMessage } from '../src/caffe/wire.js';
import { buildGraph } from '../src/graph/graph.js';
import type { Tensor } from '../src/tensor.js';
import { parseNpy } from '../src/util/npy.js';
import { fileSource } from '../src/util/files.js';
import { CremaError } from '../src/util/errors.js';
import { legacyBlob, len, packedFloats, str, uint, unpackedFloats } from './helpers/wire.js';

/** Runs fn; returns 'ok' or the CremaError's message, and rethrows anything else. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof CremaError) return e.message;
    throw e;
  }
}

/** A small but varied caffemodel: V2 layers with shaped blobs and params, then V1 layers with legacy blobs. */
function sampleModel(): Uint8Array {
  const v2: Message = {
    name: 'fuzz',
    input: ['data'],
    input_shape: [{ dim: [1, 3, 4, 4] }],
    layer: [
      {
        name: 'conv',
        type: 'Convolution',
        bottom: ['data'],
        top: ['conv'],
        blobs: [
          { shape: { dim: [2, 3, 1, 1] }, data: new Float32Array([1, 2, 3, 4, 5, 6]) },
          { shape: { dim: [2] }, data: new Float32Array([0.5, -0.5]) },
        ],
        convolution_param: { num_output: 2, kernel_size: [1], axis: -1 },
        include: [{ phase: 'TEST', stage: ['a'] }],
      },
      { name: 'pool', type: 'Pooling', pooling_param: { pool: 'AVE', round_mode: 'FLOOR' } },
    ],
  };
  const v1 = [
    ...len(2, [...str(4, 'ip'), ...uint(5, 14), ...len(6, legacyBlob([1, 1, 2, 2], packedFloats(5, [1, 2, 3, 4])))]),
    ...len(2, [...len(1, [...str(1, 'v0'), ...len(50, legacyBlob([1, 1, 1, 2], unpackedFloats(5, [7, 8])))])]),
  ];
  return new Uint8Array([...encodeCaffemodel(v2), ...v1]);
}

const model = sampleModel();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('caffemodel reader on damaged input', () => {
  test('the sample itself reads', () => {
    const net = readCaffemodel(model, 'm');
    expect(net.layer).toHaveLength(2);
    expect(net.layers).toHaveLength(2);
  });

  test('every truncation reads or fails with a CremaError naming the file', () => {
    let failures = 0;
    for (let cut = 0; cut < model.length; cut++) {
      const msg = outcome(() => readCaffemodel(model.subarray(0, cut), 'cut.caffemodel'));
      if (msg !== 'ok') {
        failures++;
        expect(msg).toMatch(/^cut\.caffemodel: /);
      }
    }
    // most cuts land inside a field
    expect(failures).toBeGreaterThan(model.length / 2);
  });

  test('truncations read through a file window behave like in memory', () => {
    const file = path.join(tmp, 'cut.caffemodel');
    const fd = fs.openSync(file, 'w+');
    try {
      for (let cut = 0; cut < model.length; cut += 7) {
        fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, model.subarray(0, cut), 0, cut, 0);
        const type = messageType('NetParameter');
        const fromFile = outcome(() => decodeMessage(type, fileSource(fd, cut, 16), 'cut.caffemodel'));
        const fromMemory = outcome(() => decodeMessage(type, { size: cut, windowSize: Infinity, window: () => ({ buf: model.subarray(0, cut), base: 0 }), copy: (p, d) => d.set(model.subarray(p, p + d.length)) }, 'cut.caffemodel'));
        expect(fromFile).toBe(fromMemory);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  test('random bit flips and byte changes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(model.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
        (edits) => {
          const bytes = model.slice();
          for (const [at, v, flipBit] of edits) bytes[at] = flipBit ? bytes[at] ^ (1 << (v & 7)) : v;
          const msg = outcome(() => readCaffemodel(bytes, 'flip.caffemodel'));
          if (msg !== 'ok') expect(msg).toMatch(/^flip\.caffemodel: /);
        },
      ),
      { numRuns: 1500, seed: 1234 },
    );
  });

  test('random garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const msg = outcome(() => readCaffemodel(bytes, 'junk'));
        if (msg !== 'ok') expect(msg).toMatch(/^junk: /);
        const blob = outcome(() => readBlobProto(bytes, 'junk'));
        if (blob !== 'ok') expect(blob).toMatch(/^junk: /);
      }),
      { numRuns: 1500, seed: 99 },
    );
  });

  test('garbage that starts like a caffemodel', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const bytes = new Uint8Array([...model.subarray(0, 40), ...tail]);
        const msg = outcome(() => readCaffemodel(bytes, 'junk'));
        if (msg !== 'ok') expect(msg).toMatch(/^junk: /);
      }),
      { numRuns: 1000, seed: 7 },
    );
  });
});

// Token soup from the pieces a prototxt is made of, plus some it should not contain.
const TOKENS = [
  'name', 'layer', 'layers', 'type', 'bottom', 'top', 'input_dim', 'input_shape', 'dim', 'convolution_param',
  'num_output', 'kernel_size', 'pooling_param', 'pool', 'MAX', 'AVE', 'lrn_param', 'norm_region', 'WITHIN_CHANNEL',
  'include', 'phase', 'TEST', 'blobs', 'data', 'shape', 'global_pooling', 'true', 'False', 'prior_box_param',
  'power_param', 'shift', 'inf', 'nan', 'CONVOLUTION',
  '{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '+', '.', '/',
  '0', '1', '-1', '3', '1.5', '1e-4', '0x1f', '010', '4294967296', '99999999999999999999', '.5', '1.0f',
  '"conv1"', "'x'", '"a\\nb"', '"\\x4"', '"\\q"', '"open', '# comment\n', '\n', '@', '`', '\\', '12ab',
];

describe('prototxt parser on token soup', () => {
  test('parses or fails with file:line:col', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }), fc.boolean(), (tokens, lenient) => {
        const text = tokens.join(' ');
        const msg = outcome(() => parsePrototxt(text, 'soup.prototxt', { lenient, warn: () => {} }));
        if (msg !== 'ok') expect(msg).toMatch(/^soup\.prototxt:\d+:\d+: \S/);
      }),
      { numRuns: 3000, seed: 42 },
    );
  });

  test('valid nets with one token removed or inserted', () => {
    const valid =
      'name: "n" input: "data" input_dim: [1, 3, 8, 8]\n' +
      'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }\n' +
      'layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE global_pooling: true } }\n';
    const words = valid.split(/(\s+)/);
    fc.assert(
      fc.property(fc.nat(words.length - 1), fc.constantFrom(...TOKENS, ''), (at, insert) => {
        const text = [...words.slice(0, at), insert, ...words.slice(at + 1)].join('');
        const msg = outcome(() => parsePrototxt(text, 'edit.prototxt'));
        if (msg !== 'ok') expect(msg).toMatch(/^edit\.prototxt:\d+:\d+: \S/);
      }),
      { numRuns: 1500, seed: 5 },
    );
  });

  test('random unicode text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'grapheme' }), (text) => {
        const msg = outcome(() => parsePrototxt(text, 'u.prototxt'));
        if (msg !== 'ok') expect(msg).toMatch(/^u\.prototxt:\d+:\d+: \S/);
      }),
      { numRuns: 1500, seed: 3 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Structure-aware: well-formed files with crafted lengths, ranks, repeated fields and long tokens (issue 13). Each
// reads, or fails with a one-line CremaError naming the file whose quotations are cut (clipMessage).

/** A CremaError's message stays one short line, whatever the input's tokens. */
function expectShortLine(msg: string, prefix: string): void {
  expect(msg.startsWith(prefix)).toBe(true);
  expect(msg).not.toContain('\n');
  expect(msg.length).toBeLessThan(2000);
}

const dimArb = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(2 ** 31, 2 ** 40, 2 ** 53 - 1));

describe('structure-aware: caffemodel and binaryproto blobs with crafted shapes and lengths', () => {
  test('ranks up to 40, huge or zero dims, data and double_data of any length', () => {
    fc.assert(
      fc.property(
        fc.array(dimArb, { maxLength: 40 }), fc.boolean(), fc.nat(6), fc.nat(6), fc.boolean(),
        (dims, legacy, nData, nDouble, asBinaryproto) => {
          const blob: Message = legacy && dims.length <= 4 ? Object.fromEntries(['num', 'channels', 'height', 'width'].slice(0, dims.length).map((k, i) => [k, dims[i]])) : { shape: { dim: dims } };
          if (nData) blob.data = new Float32Array(nData).fill(1);
          if (nDouble) blob.double_data = new Float64Array(nDouble).fill(2);
          const read = (): BlobProto => asBinaryproto
            ? readBlobProto(encodeMessage(messageType('BlobProto'), blob), 'b.binaryproto')
            : readCaffemodel(encodeCaffemodel({ name: 'n', layer: [{ name: 'l', type: 'Scale', blobs: [blob] }] }), 'b.caffemodel').layer[0].blobs[0];
          let t: Tensor | undefined;
          const msg = outcome(() => (t = tensorFromBlob(read(), 'b')));
          if (msg !== 'ok') return expectShortLine(msg, 'b');
          // What reads is what Caffe's FromProto would take: at most 32 axes, double_data first, count == values.
          expect(t!.dims.length).toBeLessThanOrEqual(32);
          expect([...t!.data]).toEqual(new Array(t!.size).fill(nDouble ? 2 : 1));
        },
      ),
      { numRuns: 600, seed: 13 },
    );
  });
});

describe('structure-aware: prototxt with long tokens, repeated fields and crafted ranks, through the whole load', () => {
  const name = fc.oneof(fc.constantFrom('data', 'a', 'b', '\\377', ''), fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)));
  const layer = fc.record({
    name,
    type: fc.constantFrom('ReLU', 'Slice', 'Pooling', 'LRN', 'Nope', ''),
    bottoms: fc.array(name, { maxLength: 3 }),
    tops: fc.array(name, { maxLength: 3 }),
    param: fc.constantFrom('', 'pooling_param { kernel_size: 2 }', 'pooling_param { kernel_size: 4294967295 }',
      'lrn_param { local_size: 2147483648 }', 'lrn_param { alpha: 0x }', 'name: "again"', 'pooling_param { kernel_size: 100000000 pad: 99999999 }'),
  });
  test('parse, upgrade, filter and build the graph: a net or a one-line error', () => {
    fc.assert(
      fc.property(fc.array(dimArb, { maxLength: 40 }), fc.array(layer, { maxLength: 4 }), (dims, layers) => {
        const text = `input: "data" input_shape { dim: [${dims.join(', ')}] }\n` + layers.map((l) =>
          `layer { name: "${l.name}" ${l.type ? `type: "${l.type}"` : ''} ${l.bottoms.map((b) => `bottom: "${b}"`).join(' ')} ${l.tops.map((t) => `top: "${t}"`).join(' ')} ${l.param} }`).join('\n');
        const msg = outcome(() => buildGraph(filterNet(upgradeNet(parsePrototxt(text, 's.prototxt'), 's.prototxt'))));
        if (msg !== 'ok') expectShortLine(msg, '');
      }),
      { numRuns: 300, seed: 21 },
    );
  });
});

describe('structure-aware: .npy headers with repeated keys, odd values and crafted shapes', () => {
  const value = fc.oneof(
    fc.constantFrom("'<f4'", "'>f8'", "'|u1'", "'<c8'", 'True', 'False', '0', "'fortran_order'", '"shape"', '()', '[2]', '(True,)'),
    fc.array(dimArb, { maxLength: 40 }).map((d) => `(${d.join(', ')}${d.length === 1 ? ',' : ''})`),
  );
  const entry = fc.tuple(fc.constantFrom("'descr'", "'fortran_order'", "'shape'", "'x'", '"descr"'), value);
  test('reads as numpy would, or fails naming the file', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), fc.nat(64), (entries, dataBytes) => {
        const header = `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}, }`;
        const h = header + ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
        const pre = Buffer.alloc(10);
        pre.write('\x93NUMPY', 0, 'latin1');
        pre[6] = 1;
        pre.writeUInt16LE(h.length, 8);
        let t: Tensor | undefined;
        const msg = outcome(() => (t = parseNpy(Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.alloc(dataBytes)]), 'f.npy')));
        if (msg !== 'ok') return expectShortLine(msg, 'f.npy: ');
        // The shape read is the last 'shape' given, as Python's dict keeps it.
        const last = entries.filter(([k]) => k === "'shape'").at(-1)![1];
        expect(`(${t!.dims.join(', ')}${t!.dims.length === 1 ? ',' : ''})`).toBe(last);
      }),
      { numRuns: 1500, seed: 8 },
    );
  });
});

describe('structure-aware: HDF5 weights declaring crafted shapes', () => {
  test('a dataset resized to any shape without data: read when the file can hold it, else refused before reading', async () => {
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 3 }), async (shape) => {
        const file = path.join(tmp, 'fuzz.caffemodel.h5');
        const h5 = new h5wasm.File(file, 'w');
        const d = h5.create_group('data').create_group('l').create_dataset({
          name: '0', data: new Float32Array(1), shape: shape.map(() => 1), maxshape: shape.map(() => null), chunks: shape.map(() => 64),
        });
        d.resize(shape);
        h5.close();
        let weights: Map<string, Tensor[]> | undefined;
        try {
          weights = await readHdf5Weights(file);
        } catch (e) {
          expect(e).toBeInstanceOf(CremaError);
          return expectShortLine((e as Error).message, file);
        }
        expect(weights.get('l')![0].dims).toEqual(shape);
        expect(shape.reduce((a, b) => a * b, 1) * 4).toBeLessThanOrEqual(16 * fs.statSync(file).size + 16 * 2 ** 20);
      }),
      { numRuns: 25, seed: 4 },
    );
  });
});
