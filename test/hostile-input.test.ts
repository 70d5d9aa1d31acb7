// Hostile and odd input (issue 13): crafted files that made crema hang, allocate gigabytes or throw an internal
// error, and odd nets where crema answered differently from real Caffe. Each case: the exact message, or real
// Caffe's numbers; the big ones run the CLI in a child process whose peak memory must stay under 1 GB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { loadNet } from '../src/caffe/load.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { messageType } from '../src/caffe/schema.js';
import { encodeMessage } from '../src/caffe/wire.js';
import { readMean } from '../src/image/mean.js';
import { benchNet } from '../src/bench/bench-net.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { CremaError, clip, clipMessage } from '../src/util/errors.js';
import { encodeNpy, parseNpy } from '../src/util/npy.js';
import { cli, errorOf } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-hostile-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
}

/** The CremaError message of an async call. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CremaError); // LayerError is one too
    return (e as Error).message;
  }
  throw new Error('expected a CremaError');
}

const INPUT = 'input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n';

/** `crema ARGS` in a child process: exit code, stderr's last line before the memory report, peak memory (MB). */
function crema(...args: string[]): { code: number | null; error: string; maxrssMB: number } {
  const r = spawnSync('node', ['test/helpers/maxrss.mjs', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const lines = r.stderr.split('\n').filter(Boolean);
  const rss = Number(/maxrss-kb (\d+)/.exec(r.stderr)?.[1]) / 1024;
  return { code: r.status, error: lines.filter((l) => !l.startsWith('maxrss-kb')).at(-1) ?? '', maxrssMB: rss };
}

describe('one-line errors where internal errors escaped', () => {
  test("'alpha: 0x' is a bad number, not a BigInt SyntaxError", () => {
    expect(errorOf(() => parsePrototxt('lrn_param { alpha: 0x }', 'n.prototxt', { typeName: 'LayerParameter' })))
      .toBe("n.prototxt:1:20: bad number '0x'");
  });

  test.each([
    ['V2', `${INPUT}layer { name: "r" bottom: "data" top: "r" }`],
    ['V1', 'input: "data" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\nlayers { name: "r" bottom: "data" top: "r" }'],
    ['V0', 'input: "data" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\nlayers { layer { name: "r" } bottom: "data" top: "r" }'],
  ])('a %s layer without a type is refused as Caffe refuses it', async (v, text) => {
    const f = file(`notype-${v}.prototxt`, text);
    // Caffe 1.0, all three: Check failed: registry.count(type) == 1 (0 vs. 1) Unknown layer type:  (known types: ...
    expect(await rejection(loadNet(f))).toBe(`${f}: layer 'r' has no type (Caffe: "Unknown layer type: ")`);
  });

  test('a layer without a type that the phase drops is no error (Caffe filters before it creates layers)', async () => {
    const f = file('notype-train.prototxt', `${INPUT}layer { name: "r" bottom: "data" top: "r" include { phase: TRAIN } }`);
    expect((await loadNet(f)).net.layer!.map((l) => l.name)).toEqual(['input']);
  });

  test('a mean .binaryproto without a shape is refused (was a tensor size Error)', () => {
    const f = file('noshape.binaryproto', encodeMessage(messageType('BlobProto'), { data: new Float32Array([1, 2, 3]) }));
    expect(errorOf(() => readMean(f, { channels: 3, height: 4, width: 4 })))
      .toBe(`${f}: the mean blob has 3 values but no shape (num, channels, height, width or shape { dim })`);
  });

  test('a quotation in an error is cut at 60 characters, whatever its length (one helper, in every CremaError)', () => {
    const name = 'x'.repeat(5_000_000);
    const msg = errorOf(() => parsePrototxt(`${name}: 1`, 'long.prototxt'));
    expect(msg).toBe(`long.prototxt:1:1: NetParameter has unknown field '${'x'.repeat(60)}… (5,000,000 characters)' (options.lenient skips it)`);
    expect(clip('short')).toBe('short');
    // An apostrophe after a letter opens no quotation; an unquoted run is cut at 200.
    expect(clipMessage(`Caffe's '${'y'.repeat(70)}' and ${'9'.repeat(250)}`))
      .toBe(`Caffe's '${'y'.repeat(60)}… (70 characters)' and ${'9'.repeat(200)}… (250 characters)`);
  });
});

describe('a bottom of another rank than the (N, C, H, W) a layer reads: one line naming it (need4d), at 2, 3 and 5 axes', () => {
  const input = (name: string, dims: number[]) => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }\n`;
  const layers: [string, string][] = [
    ['Pooling', 'layer { name: "l" type: "Pooling" bottom: "x" top: "l" pooling_param { pool: MAX kernel_size: 1 } }'],
    ['Interp', 'layer { name: "l" type: "Interp" bottom: "x" top: "l" interp_param { zoom_factor: 2 } }'],
    ['Reorg', 'layer { name: "l" type: "Reorg" bottom: "x" top: "l" reorg_param { stride: 2 } }'],
    ['Upsample', 'layer { name: "l" type: "Upsample" bottom: "x" top: "l" upsample_param { scale: 2 } }'],
    ['PriorBox', 'layer { name: "l" type: "PriorBox" bottom: "x" bottom: "x" top: "l" prior_box_param { min_size: 2 } }'],
  ];
  test.each(layers.flatMap(([type, text]) => [[2, 4], [1, 2, 4], [1, 2, 4, 4, 4]].map((dims) => [type, text, dims] as const)))('%s at %j', (type, text, dims) => {
    const role = type === 'PriorBox' ? ' (the feature map)' : '';
    expect(errorOf(() => Net.fromNetParameter(parsePrototxt(input('x', [...dims]) + text, 'n.prototxt') as NetParameter, new Map())))
      .toBe(`layer 'l' (${type}): bottom 0${role} must be 4-D (N, C, H, W), got [${dims.join(', ')}]`);
  });
});

describe("Caffe's refusals and answers", () => {
  test.each([
    ['LRN', 'lrn_param { local_size: 4294967295 }', 'local_size', 'Check failed: size_ % 2 == 1 (-1 vs. 1) LRN only supports odd values for local_size'],
    ['Convolution', 'convolution_param { num_output: 1 kernel_size: 1 stride: 4294967295 }', 'stride', 'Check failed: stride_data[i] > 0 (-1 vs. 0) Stride dimensions must be nonzero.'],
    ['Pooling', 'pooling_param { kernel_size: 4294967295 }', 'kernel_size', 'Check failed: kernel_h_ > 0 (-1 vs. 0) Filter dimensions cannot be zero.'],
  ])('%s: a uint32 setting above 2^31 - 1 is refused, as Caffe (reading it into an int as -1) refuses it', (type, param, field, caffeSays) => {
    const text = `${INPUT}layer { name: "x" type: "${type}" bottom: "data" top: "x" ${param} }`;
    const col = text.split('\n')[1].indexOf('4294967295') + 1;
    expect(caffeSays).toContain('-1'); // real Caffe 1.0's words, for the record
    expect(errorOf(() => parsePrototxt(text, 'big.prototxt')))
      .toBe(`big.prototxt:2:${col}: '${field}: 4294967295' is above 2147483647: Caffe reads it into an int as -1 and refuses it`);
  });

  test.each([2147483647, 134217727])('LRN local_size %i across 3 channels is refused, as Caffe refuses it (before ONNX export)', async (n) => {
    // Caffe 1.0: 2147483647: Check failed: shape[i] >= 0 (-2147483647 vs. 0); 134217727: blob size exceeds INT_MAX.
    const f = file(`lrn-${n}.prototxt`, `${INPUT}layer { name: "n" type: "LRN" bottom: "data" top: "n" lrn_param { local_size: ${n} } }`);
    expect(await rejection(Net.load(f))).toBe(`layer 'n' (LRN): local_size ${n}: Caffe's padded blob of squares, ${n + 2} x 4 x 4, would exceed INT_MAX values, and Caffe refuses it`);
  });

  test('2^31 - 1 itself still reads (Caffe takes it; the layer then judges it)', () => {
    const net = parsePrototxt('layer { name: "p" type: "Pooling" pooling_param { kernel_size: 2147483647 } }', 'p.prototxt');
    expect(net.layer[0].pooling_param.kernel_size).toBe(2147483647);
  });

  test('invalid UTF-8 in a string is refused (two such names would both decode to U+FFFD and be wired together)', () => {
    // Caffe compares the bytes: "Unknown bottom blob '\377' (layer 'r2', bottom index 0)" for this net.
    const text = `${INPUT}layer { name: "r" type: "ReLU" bottom: "data" top: "\\377" }\nlayer { name: "r2" type: "ReLU" bottom: "\\376" top: "r2" }`;
    expect(errorOf(() => parsePrototxt(text, 'u.prototxt')))
      .toBe('u.prototxt:2:52: string is not valid UTF-8 (crema reads names as UTF-8 text; Caffe compares their bytes)');
  });

  test('a Slice with a repeated top, and an input declared twice, are refused with Caffe\'s words', async () => {
    const slice = file('slice.prototxt', 'input: "data" input_shape { dim: 1 dim: 4 }\nlayer { name: "s" type: "Slice" bottom: "data" top: "a" top: "a" }');
    expect(await rejection(Net.load(slice)))
      .toBe(`layer 's' (Slice): top 'a' is given twice (Caffe: "Top blob 'a' produced by multiple sources.")`);
    const twice = file('twice.prototxt', 'input: "data" input: "data" input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4 input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n' +
      'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }');
    expect(await rejection(Net.load(twice)))
      .toBe(`layer 'input' (Input): top 'data' is given twice (Caffe: "Top blob 'data' produced by multiple sources.")`);
  });

  test('a blob with both data and double_data: the values are double_data, as real Caffe reads them', async () => {
    const net = file('dd.prototxt', 'input: "data" input_shape { dim: 1 dim: 2 dim: 1 dim: 1 }\nlayer { name: "sc" type: "Scale" bottom: "data" top: "sc" }');
    const weights = file('dd.caffemodel', encodeCaffemodel({
      name: 'dd',
      layer: [{ name: 'sc', type: 'Scale', blobs: [{ shape: { dim: [2] }, data: new Float32Array([1, 1]), double_data: new Float64Array([2, 3]) }] }],
    }));
    const n = await Net.load(net, weights, { threads: 1 });
    const out = n.forward({ data: new Tensor([1, 2, 1, 1], new Float32Array([5, 7])) });
    expect([...out.sc.data]).toEqual([10, 21]); // caffe-ref forward: [10. 21.]
  });

  test('a weights blob of 10^6 axes is refused at once (Caffe: kMaxBlobAxes = 32), before any walk over its axes', async () => {
    const net = file('ip.prototxt', 'input: "data" input_shape { dim: 1 dim: 1 }\nlayer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 1 bias_term: false } }');
    const w = file('axes.caffemodel', encodeCaffemodel({
      name: 'a', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: new Array(1_000_000).fill(1) }, data: new Float32Array([1]) }] }],
    }));
    expect(await rejection(loadNet(net, w))).toBe(`${w}: layer 'ip' blob 0: a shape of 1,000,000 axes; Caffe allows at most 32 (kMaxBlobAxes)`);
  });

  test('an input of 33 axes is refused as Caffe refuses it', async () => {
    const f = file('axes.prototxt', `input: "data" input_shape { dim: [${new Array(33).fill(1).join(',')}] }`);
    expect(await rejection(Net.load(f))).toBe("layer 'input' (Input): top 'data' would have 33 axes; Caffe allows at most 32 (kMaxBlobAxes)");
  });
});

/** A .npy v1.0 with the given header text and data bytes (the header padded as numpy pads it). */
function npy(header: string, data: Uint8Array = new Uint8Array(12)): Uint8Array {
  const h = header + ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), data]);
}

describe('.npy headers are read as numpy reads them (a Python dict literal), not by regex', () => {
  test("'shape' given twice: the last wins, as in Python (numpy 2.4: shape (3,))", () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const t = parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (3,), }", data), 'x.npy');
    expect(t.dims).toEqual([3]);
    expect([...t.data]).toEqual([1, 2, 3]);
  });

  test("'fortran_order' inside a string value is no fortran_order: the extra key is refused, as numpy refuses it", () => {
    const header = `{'descr': '<f4', 'shape': (2,), 'x': "'fortran_order': False", 'fortran_order': True}`;
    expect(errorOf(() => parseNpy(npy(header), 'f.npy'))).toBe(
      `f.npy: the header's keys are [descr, fortran_order, shape, x]; numpy reads exactly descr, fortran_order and shape: ${header}`);
  });

  test.each([
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 'fortran_order is not a valid bool'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 'shape is not a tuple of integers'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (True,), }", 'shape is not a tuple of integers'],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 'cannot read the header at character 59: text after the dict'],
  ])('%s is refused, as numpy refuses it', (header, why) => {
    expect(errorOf(() => parseNpy(npy(header), 'h.npy'))).toBe(`h.npy: ${why}: ${header}`);
  });

  test("Python 2's longs (2L) and double quotes read, as numpy reads them", () => {
    expect(parseNpy(npy('{"descr": "<f4", "fortran_order": False, "shape": (3L,), }'), 'p.npy').dims).toEqual([3]);
  });

  test('an input of batch 0 is refused by name', async () => {
    const f = file('b0.prototxt', INPUT);
    const input = file('b0.npy', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3, 4, 4), }", new Uint8Array(0)));
    const r = crema('run', f, '--input', input);
    expect(r.error).toBe(`crema: ${input}: shape [0, 3, 4, 4] holds no values: an input needs at least one item`);
  });
});

describe('flags and options with garbage values are refused, not used as NaN', () => {
  test('--level abc, --seed abc, phase BOGUS', async () => {
    const net = file('flags.prototxt', `${INPUT}layer { name: "r" type: "ReLU" bottom: "data" top: "r" }`);
    // yargs reads abc as NaN; the message shows what was typed.
    expect((await cli('info', net, '--level', 'abc')).stderr).toBe("crema: --level 'abc': expected a whole number");
    expect((await cli('verify', net, '--seed', 'abc')).stderr).toBe("crema: --seed 'abc': expected a whole number");
    expect((await cli('run', net, '--threads=two')).stderr).toBe("crema: --threads must be a whole number from 0 to 256, got 'two'");
    expect((await cli('bench', net, '--iterations', 'many')).stderr).toBe("crema: --iterations must be a whole number from 1 to 100000, got 'many'");
    expect((await cli('ui', '--port', 'http')).stderr).toBe("crema: --port must be an integer from 0 to 65535, got 'http'");
    // named as the options they are (were blamed on the prototxt: `${net}: phase 'BOGUS': …`)
    expect(await rejection(Net.load(net, undefined, { phase: 'BOGUS' as 'TEST' }))).toBe("options.phase: expected 'TRAIN' or 'TEST', got 'BOGUS'");
    expect(await rejection(Net.load(net, undefined, { level: 1.5 }))).toBe('options.level: expected a whole number, got 1.5');
  });

  test('bench of a net without layers says there is nothing to time (was a TypeError); run likewise (printed nothing, exit 0)', async () => {
    const nolayers = file('nolayers.prototxt', 'name: "n"\n');
    const r = await cli('bench', nolayers);
    expect([r.code, r.stderr]).toEqual([2, `crema: ${nolayers}: the net has no layers: nothing to time`]);
    const run = await cli('run', nolayers);
    expect([run.code, run.stdout, run.stderr]).toEqual([2, '', `crema: ${nolayers}: the net has no layers: nothing to run`]);
  });

  test('bench of a net with only inputs says there is nothing to time (timed an empty forward, exit 0)', async () => {
    const legacy = file('only-inputs.prototxt', 'name: "n"\ninput: "data"\ninput_shape { dim: 1 dim: 3 }\n');
    const layer = file('only-input-layer.prototxt', 'name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }\n');
    for (const net of [legacy, layer]) {
      for (const backend of ['native', 'onnx', 'both']) {
        const r = await cli('bench', net, '--backend', backend, '--iterations', '1');
        expect([r.code, r.stdout, r.stderr], `${net} ${backend}`).toEqual([2, '', `crema: ${net}: the net has only inputs (no layer besides Input): nothing to time`]);
      }
    }
    const net = await Net.load(layer);
    expect(await rejection(benchNet(net, { backends: ['native'], threads: 1, iterations: 1, warmup: 0, batch: 1 }))).toBe(
      'the net has only inputs (no layer besides Input): nothing to time',
    );
  });

  test('an empty prototxt file is refused as such by every command (run printed nothing, exit 0)', async () => {
    const empty = file('empty.prototxt', ' \n');
    for (const command of ['run', 'info', 'bench', 'verify']) {
      const r = await cli(command, empty);
      expect([r.code, r.stdout, r.stderr], command).toEqual([2, '', `crema: ${empty}: empty file, not a prototxt`]);
    }
  });

  test('draw refuses by name to lay out more than 4,000 layers (Graphviz overflowed its stack at 7,000); .dot has no limit', async () => {
    let text = INPUT, prev = 'data';
    for (let i = 0; i < 4001; i++) {
      text += `layer { name: "l${i}" type: "ReLU" bottom: "${prev}" top: "b${i}" }\n`;
      prev = `b${i}`;
    }
    const f = file('draw.prototxt', text);
    const r = await cli('draw', f, '-o', path.join(tmp, 'draw.svg'));
    expect([r.code, r.stderr]).toEqual([2, `crema: ${f}: 4,002 layers are more than crema lays out (4,000: Graphviz's layout runs out of stack on long chains); write -o net.dot and lay it out with a system Graphviz (dot -Tsvg)`]);
    expect((await cli('draw', f, '-o', path.join(tmp, 'draw.dot'))).code).toBe(0);
  });
});

describe('memory bombs: sizes checked before anything is allocated', () => {
  test('Pooling with kernel 10^8 and pad 10^8 - 1: the top size is refused before the window tables (2.4 GB)', () => {
    const f = file('poolbomb.prototxt', 'input: "data" input_shape { dim: 1 dim: 1 dim: 4 dim: 4 }\n' +
      'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 100000000 pad: 99999999 } }');
    const r = crema('info', f);
    // Caffe 1.0: Check failed: shape[i] <= 0x7fffffff / count_ (100000001 vs. 21) blob size exceeds INT_MAX
    expect(r.error).toBe("crema: layer 'p' (Pooling): top 'p' would have shape [1, 1, 100000003, 100000003], which is not a sane blob size");
    expect(r.maxrssMB).toBeLessThan(1024);
  });

  test('a small .caffemodel.h5 declaring a 20000 x 20000 dataset is refused before reading it (1.6 GB)', async () => {
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    const w = path.join(tmp, 'bomb.caffemodel.h5');
    const h5 = new h5wasm.File(w, 'w');
    // A chunked dataset resized without writing: HDF5 stores no chunk, so the file stays small.
    const d = h5.create_group('data').create_group('ip').create_dataset({ name: '0', data: new Float32Array([1]), shape: [1, 1], maxshape: [null, null], chunks: [100, 100] });
    d.resize([20000, 20000]);
    h5.close();
    expect(fs.statSync(w).size).toBeLessThan(100_000);
    const net = file('ip-h5.prototxt', 'input: "data" input_shape { dim: 1 dim: 20000 }\nlayer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 20000 bias_term: false } }');
    const r = crema('info', net, w);
    expect(r.error).toBe(`crema: ${w}: layer 'ip' blob 0: declares shape [20000, 20000] (1,525.9 MB), more than a file of its size can hold (crema reads at most 16 times the file's size in values, for compressed datasets)`);
    expect(r.maxrssMB).toBeLessThan(1024);
  });
});

describe('crafted big inputs: refused or run within 1 GB (child process, peak memory measured)', () => {
  test('10 MB of ";" (the tokenizer kept an object per character: 50 MB took 4.8 GB)', () => {
    const f = file('semi.prototxt', ';'.repeat(10_000_000));
    const r = crema('info', f);
    expect(r.error).toBe(`crema: ${f}:1:1: expected a field name, got ';'`);
    expect(r.code).toBe(2);
    expect(r.maxrssMB).toBeLessThan(1024);
  });

  test('a 10 MB name (3 GB at 50 MB: an array entry per byte)', () => {
    const f = file('name.prototxt', `name: "${'n'.repeat(10_000_000)}"\nlayer { name: "${'x'.repeat(10_000_000)}" type: "Nope" }`);
    const r = crema('info', f);
    expect(r.error).toBe(`crema: layer '${'x'.repeat(60)}… (10,000,000 characters)': unknown layer type 'Nope'; crema knows ${r.error.split('crema knows ')[1]}`);
    expect(r.maxrssMB).toBeLessThan(1024);
  });

  test('a chain of 10^5 layers runs (graph building, upgrading and phase filtering are linear)', () => {
    let text = 'input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n', prev = 'data';
    for (let i = 0; i < 100_000; i++) {
      text += `layers { name: "l${i}" type: RELU bottom: "${prev}" top: "b${i}" }\n`;
      prev = `b${i}`;
    }
    const f = file('chain.prototxt', text);
    const input = file('chain-in.npy', encodeNpy(new Tensor([1, 1, 2, 2], new Float32Array([-1, 2, -3, 4]))));
    const r = crema('run', f, '--input', input, '--threads', '1');
    expect(r.code).toBe(0);
    expect(r.maxrssMB).toBeLessThan(1024);
  });

  test('a Slice of 10^5 tops is refused by its size (crema allows 65,536 tops or bottoms a layer)', () => {
    let tops = '';
    for (let i = 0; i < 100_000; i++) tops += ` top: "t${i}"`;
    const f = file('slice-big.prototxt', `input: "data" input_shape { dim: 1 dim: 100000 }\nlayer { name: "s" type: "Slice" bottom: "data"${tops} }`);
    const r = crema('info', f);
    expect(r.error).toBe("crema: layer 's' (Slice): has 100,000 tops and 1 bottoms; crema allows at most 65,536 of each");
    expect(r.maxrssMB).toBeLessThan(1024);
  });

  test('an input of 3 * 10^6 dims is refused (3 GB at 7.5 M dims)', () => {
    const f = file('dims.prototxt', `input: "data" input_shape { dim: [${'1,'.repeat(3_000_000)}1] }`);
    const r = crema('info', f);
    expect(r.error).toBe("crema: layer 'input' (Input): top 'data' would have 3,000,001 axes; Caffe allows at most 32 (kMaxBlobAxes)");
    expect(r.maxrssMB).toBeLessThan(1024);
  });
});

// V8 reserves about 10 GB of address space for any wasm memory, whatever its maximum: under a virtual memory limit
// below that (`ulimit -v`, some containers and shared hosts) every load ended in "internal error: RangeError:
// WebAssembly.Memory(): could not allocate memory" and a stack. Now the TypeScript kernels run, said once.
describe('a virtual memory limit too small for the wasm memory', () => {
  const args = ['bin/crema.js', 'classify', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', 'test/fixtures/images/photo40x50.jpg', '--json'];
  const run = (limitKB?: number) => spawnSync('bash', ['-c', `${limitKB ? `ulimit -v ${limitKB} && ` : ''}exec "$0" "$@"`, process.execPath, ...args], { encoding: 'utf8', env: { ...process.env, CREMA_KERNELS: '' } });
  const probs = (stdout: string) => (JSON.parse(stdout) as { images: { top: { label: string; prob: number }[] }[] }).images[0].top;

  test('the JavaScript kernels run instead (cifar10_full, LRN WITHIN_CHANNEL): one line on stderr, the same classes within 1e-5', () => {
    const limited = run(3_000_000), free = run();
    expect([free.status, free.stderr]).toEqual([0, '']);
    expect(limited.stderr).toBe("crema: the WebAssembly kernels' memory could not be reserved (WebAssembly.Memory(): could not allocate memory; it takes about 10 GB of address space: is a virtual memory limit set, ulimit -v?): the JavaScript kernels run instead, slower\n");
    expect(limited.status).toBe(0);
    const want = probs(free.stdout), got = probs(limited.stdout);
    expect(got.map((t) => t.label)).toEqual(want.map((t) => t.label));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i].prob - want[i].prob)).toBeLessThanOrEqual(1e-5);
  });

  test("net.run's worker thread is told: the line once a process (it was said again by each net's worker), the same numbers as forward", () => {
    const script = `import { Net } from './dist/index.js';
      const files = ['models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel'];
      const x = Float32Array.from({ length: 3072 }, (_, i) => Math.sin(i));
      const a = await Net.load(...files), b = await Net.load(...files);
      const want = Float32Array.from(a.forward({ data: x }).prob.data);
      const got = [(await a.run({ data: x })).prob.data, (await b.run({ data: x })).prob.data];
      console.log(JSON.stringify(got.map((p) => Math.max(...p.map((v, i) => Math.abs(v - want[i]))))));
      await Promise.all([a.dispose(), b.dispose()]);`;
    const r = spawnSync('bash', ['-c', 'ulimit -v 3000000 && exec "$0" "$@"', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CREMA_KERNELS: '' } });
    expect(r.stderr).toBe("crema: the WebAssembly kernels' memory could not be reserved (WebAssembly.Memory(): could not allocate memory; it takes about 10 GB of address space: is a virtual memory limit set, ulimit -v?): the JavaScript kernels run instead, slower\n");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([0, 0]); // the worker runs the same TypeScript kernels
  });
});
