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
import { messageType } from '../src/caffe/schema.js';
import { encodeMessage } from '../src/caffe/wire.js';
import { readMean } from '../src/image/mean.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { clip, clipMessage } from '../src/util/errors.js';
import { encodeNpy } from '../src/util/npy.js';
import { errorOf } from './helpers/cli.js';

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
    expect((e as Error).name).toBe('CremaError');
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
    expect(msg).toBe(`long.prototxt:1:1: NetParameter has unknown field '${'x'.repeat(60)}… (5,000,000 characters)'`);
    expect(clip('short')).toBe('short');
    // An apostrophe after a letter opens no quotation; an unquoted run is cut at 200.
    expect(clipMessage(`Caffe's '${'y'.repeat(70)}' and ${'9'.repeat(250)}`))
      .toBe(`Caffe's '${'y'.repeat(60)}… (70 characters)' and ${'9'.repeat(200)}… (250 characters)`);
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
    expect(r.error).toBe(`crema: layer '${'x'.repeat(60)}… (10,000,000 characters)': unknown layer type 'Nope'; crema runs: ${r.error.split('crema runs: ')[1]}`);
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
