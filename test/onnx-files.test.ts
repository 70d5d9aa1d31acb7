// `crema convert` writes the model from chunks whose tensors are the net's own memory (never one buffer of the
// model's size), or with its large tensors as ONNX external data in a file beside it; a single file past protobuf's
// 2 GiB is refused before anything is written (checked through a lowered limit: no test allocates gigabytes).
// Referees: protobufjs's encoding of the same model, and ONNX Runtime's outputs from the single file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { messageType } from '../src/caffe/schema.js';
import { VIEW_BYTES, sizeMessage } from '../src/caffe/wire.js';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { EXTERNAL_ALIGN } from '../src/onnx/external.js';
import { type ModelObj, MAX_MODEL_BYTES, TOO_LARGE_ADVICE, decodeModel, encodeModel, onnxType } from '../src/onnx/proto.js';
import { sessionBytes } from '../src/onnx/run.js';
import { writeModelFile } from '../src/onnx/write.js';
import { writeOutputs } from '../src/util/files.js';
import { Net } from '../src/runtime/net.js';
import { sizeText } from '../src/util/source.js';
import { cli } from './helpers/cli.js';
import { randomArray, rng } from './helpers/compute.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const zoo = (dir: string, file: string) => path.join(repo, 'models', dir, file);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-onnx-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const protobufjs = (m: ModelObj) => onnxType('ModelProto').encode(m as never).finish();
const joined = (chunks: Uint8Array[]) => Buffer.concat(chunks);

/** A net of one InnerProduct 2048 -> 1024 (8 MiB of weights, random): its prototxt and caffemodel, in `dir`. */
function bigNet(dir: string): [string, string] {
  const prototxt = path.join(dir, 'big.prototxt'), weights = path.join(dir, 'big.caffemodel');
  fs.writeFileSync(prototxt, 'name: "big"\ninput: "data"\ninput_shape { dim: 1 dim: 2048 }\n' +
    'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 1024 } }\n');
  const w = randomArray(1024 * 2048, rng(1)), b = randomArray(1024, rng(2));
  fs.writeFileSync(weights, encodeCaffemodel({ name: 'big', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [1024, 2048] }, data: w }, { shape: { dim: [1024] }, data: b }] }] }));
  return [prototxt, weights];
}

const nets = async () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'nets-'));
  const [prototxt, weights] = bigNet(dir);
  return {
    lenet: await Net.load(zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel')),
    cifar: await Net.load(zoo('cifar10_full', 'deploy.prototxt'), zoo('cifar10_full', 'weights.caffemodel')),
    big: await Net.load(prototxt, weights),
    files: { prototxt, weights },
  };
};

describe('the chunked encoding', () => {
  it('is encodeModel\'s bytes and protobufjs\'s, its large tensors the net\'s own memory (LeNet, CIFAR-10, an 8 MiB InnerProduct)', async () => {
    const { lenet, cifar, big } = await nets();
    for (const model of [convertGraph(lenet.graph, { outputs: 'all' }).model, convertGraph(cifar.graph, { lrn: 'decomposed' }).model, convertGraph(big.graph).model]) {
      const sized = sizeMessage(onnxType('ModelProto'), model as never);
      const chunks = sized.encodeChunks();
      expect(joined(chunks).equals(Buffer.from(encodeModel(model)))).toBe(true);
      expect(joined(chunks).equals(Buffer.from(protobufjs(model)))).toBe(true);
      // every tensor of VIEW_BYTES or more is a chunk of its own: its raw_data, not a copy; the rest is one buffer
      const large = model.graph.initializer.map((t) => t.raw_data).filter((r) => r.length >= VIEW_BYTES);
      expect(large.length).toBeGreaterThan(0);
      for (const raw of large) expect(chunks.filter((c) => c === raw).length).toBe(1);
      const copied = chunks.filter((c) => !large.includes(c));
      expect(new Set(copied.map((c) => c.buffer)).size).toBe(1);
      expect(copied.reduce((n, c) => n + c.length, 0)).toBe(sized.size - large.reduce((n, r) => n + r.length, 0));
    }
  });

  it('writes a caffemodel\'s packed floats as views too (the same encoder): the bytes are encodeCaffemodel\'s', () => {
    const data = randomArray(VIEW_BYTES / 4, rng(5)), small = new Float32Array([1, 2, 3]);
    const net = { name: 'n', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [data.length] }, data }, { shape: { dim: [3] }, data: small }] }] };
    const chunks = sizeMessage(messageType('NetParameter'), net).encodeChunks();
    expect(joined(chunks).equals(Buffer.from(encodeCaffemodel(net)))).toBe(true);
    expect(chunks.some((c) => c.buffer === data.buffer && c.byteOffset === data.byteOffset && c.length === data.byteLength)).toBe(true);
    expect(chunks.some((c) => c.buffer === small.buffer)).toBe(false); // under VIEW_BYTES: copied
  });
});

describe('crema convert -o', () => {
  it('writes the bytes encodeConversion gives (LeNet, the 8 MiB InnerProduct)', async () => {
    const { lenet, big, files } = await nets();
    const cases: [string[], Net][] = [[[zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel')], lenet], [[files.prototxt, files.weights], big]];
    for (const [args, net] of cases) {
      const out = path.join(tmp, `${net.name}.onnx`);
      const r = await cli('convert', ...args, '-o', out);
      expect(r.code, r.stderr).toBe(0);
      const expected = Buffer.from(encodeConversion(convertGraph(net.graph)));
      expect(fs.readFileSync(out).equals(expected)).toBe(true);
      expect(r.stdout).toContain(`: ${sizeText(expected.length)}, opset 17`);
    }
  });
});

describe('crema convert --external-data', () => {
  const options = { graphOptimizationLevel: 'all', logSeverityLevel: 3, intraOpNumThreads: 1 } as const;

  /** The outputs of the model at `file` (loaded from its path, as ONNX resolves external data) for `feeds`. */
  async function outputsOf(file: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
    const session = await ort.InferenceSession.create(file, options);
    const out = await session.run(feeds);
    await session.release();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
  }

  it('writes <model>.data beside the model, which ONNX Runtime loads from its path: the single file\'s outputs (LeNet, every blob)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ext-'));
    const args = [zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel'), '--outputs', 'all'];
    const single = await cli('convert', ...args, '-o', path.join(dir, 'one.onnx'));
    const r = await cli('convert', ...args, '-o', path.join(dir, 'lenet.onnx'), '--external-data');
    expect([single.code, r.code], r.stderr).toEqual([0, 0]);
    expect(fs.readdirSync(dir).sort()).toEqual(['lenet.onnx', 'lenet.onnx.data', 'one.onnx']);
    const data = fs.statSync(path.join(dir, 'lenet.onnx.data')).size;
    expect(r.stdout).toMatch(new RegExp(`^wrote .*lenet\\.onnx: \\d+\\.\\d kB \\+ external data .*lenet\\.onnx\\.data, ${sizeText(data)}, opset 17`));
    // conv2's and ip1's weights went out (LeNet's only tensors of 64 KiB or more), ip1's at an aligned offset
    const model = decodeModel(fs.readFileSync(path.join(dir, 'lenet.onnx')));
    const external = model.graph.initializer.filter((t) => (t as { external_data?: unknown[] }).external_data?.length);
    const net = await Net.load(zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel'));
    const large = convertGraph(net.graph, { outputs: 'all' }).model.graph.initializer.filter((t) => t.raw_data.length >= EXTERNAL_ALIGN);
    expect(large.map((t) => t.raw_data.length)).toEqual([4 * 50 * 20 * 5 * 5, 4 * 500 * 800]);
    expect(external.map((t) => t.name)).toEqual(large.map((t) => t.name));
    expect(data).toBe(EXTERNAL_ALIGN * Math.ceil((4 * 50 * 20 * 5 * 5) / EXTERNAL_ALIGN) + 4 * 500 * 800);
    const feeds = { data: new ort.Tensor('float32', randomArray(28 * 28, rng(9)), [1, 1, 28, 28]) };
    const [a, b] = [await outputsOf(path.join(dir, 'lenet.onnx'), feeds), await outputsOf(path.join(dir, 'one.onnx'), feeds)];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const name of Object.keys(b)) expect(a[name], name).toEqual(b[name]);
  });

  it('--external-data NAME: the file beside the model is NAME, as the model refers to it; the 8 MiB net gives the single file\'s outputs', async () => {
    const { files } = await nets();
    const dir = fs.mkdtempSync(path.join(tmp, 'named-'));
    const single = await cli('convert', files.prototxt, files.weights, '-o', path.join(dir, 'one.onnx'));
    const r = await cli('convert', files.prototxt, files.weights, '-o', path.join(dir, 'big.onnx'), '--external-data', 'weights.bin');
    expect([single.code, r.code], r.stderr).toEqual([0, 0]);
    expect(fs.readdirSync(dir).sort()).toEqual(['big.onnx', 'one.onnx', 'weights.bin']);
    const locations = decodeModel(fs.readFileSync(path.join(dir, 'big.onnx'))).graph.initializer.flatMap((t) => (t as { external_data?: { key: string; value: string }[] }).external_data ?? []).filter((e) => e.key === 'location');
    expect(locations.map((e) => e.value)).toEqual(['weights.bin']);
    const feeds = { data: new ort.Tensor('float32', randomArray(2048, rng(3)), [1, 2048]) };
    expect(await outputsOf(path.join(dir, 'big.onnx'), feeds)).toEqual(await outputsOf(path.join(dir, 'one.onnx'), feeds));
  });

  it('with --triton: 1/model.onnx and 1/model.onnx.data, which ONNX Runtime loads as Triton\'s backend does', async () => {
    const repoDir = fs.mkdtempSync(path.join(tmp, 'triton-'));
    const r = await cli('convert', zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel'), '--triton', repoDir, '--max-batch-size', '0', '--external-data');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*\/LeNet\/config\.pbtxt and 1\/model\.onnx \+ external data .*\/LeNet\/1\/model\.onnx\.data, 1\.7 MB \(max_batch_size 0/);
    expect(fs.readdirSync(path.join(repoDir, 'LeNet', '1')).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    const single = path.join(repoDir, 'one.onnx');
    expect((await cli('convert', zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel'), '-o', single)).code).toBe(0);
    const feeds = { data: new ort.Tensor('float32', randomArray(28 * 28, rng(4)), [1, 1, 28, 28]) };
    expect(await outputsOf(path.join(repoDir, 'LeNet', '1', 'model.onnx'), feeds)).toEqual(await outputsOf(single, feeds));
  });

  it('says so, and writes no data file, when no tensor is large enough to go there', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'small-'));
    const prototxt = path.join(dir, 'small.prototxt');
    fs.writeFileSync(prototxt, 'input: "data"\ninput_shape { dim: 1 dim: 4 }\nlayer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }\n');
    const weights = path.join(dir, 'small.caffemodel');
    fs.writeFileSync(weights, encodeCaffemodel({ layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [2, 4] }, data: new Float32Array(8) }, { shape: { dim: [2] }, data: new Float32Array(2) }] }] }));
    const r = await cli('convert', prototxt, weights, '-o', path.join(dir, 'q.onnx'), '--external-data');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*q\.onnx: (\d+ bytes|\d+\.\d kB) \(no tensor of 64 KiB or more: no external data file\), opset 17/);
    expect(fs.readdirSync(dir).sort()).toEqual(['q.onnx', 'small.caffemodel', 'small.prototxt']);
  });

  it('is refused in one line, before the net is read, with -o -, with a path for NAME, or the model\'s own name', async () => {
    const net = [zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel')];
    const said = async (...args: string[]) => {
      const r = await cli('convert', ...net, ...args);
      expect(r.code).toBe(2);
      return r.stderr;
    };
    expect(await said('-o', '-', '--external-data')).toBe('crema: --external-data writes a file beside the model: give -o FILE, not -o - (stdout)');
    expect(await said('-o', path.join(tmp, 'x.onnx'), '--external-data', 'sub/x.data')).toBe("crema: --external-data 'sub/x.data': expected a file name, written beside the model (ONNX looks for it in the model's directory)");
    expect(await said('-o', path.join(tmp, 'x.onnx'), '--external-data', '..')).toBe("crema: --external-data '..': expected a file name, written beside the model (ONNX looks for it in the model's directory)");
    expect(await said('-o', path.join(tmp, 'x.onnx'), '--external-data', 'x.onnx')).toBe("crema: --external-data 'x.onnx' is the model's own file name; give another");
    expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
  });

  it('a data file that cannot be written leaves the model the user had', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'fail-'));
    fs.writeFileSync(path.join(dir, 'm.onnx'), 'the old model');
    fs.mkdirSync(path.join(dir, 'm.onnx.data'));
    const r = await cli('convert', zoo('lenet', 'deploy.prototxt'), zoo('lenet', 'weights.caffemodel'), '-o', path.join(dir, 'm.onnx'), '--external-data');
    expect(r.stderr).toBe(`crema: ${path.join(dir, 'm.onnx.data')}: is a directory, expected a file name`);
    expect(fs.readFileSync(path.join(dir, 'm.onnx'), 'utf8')).toBe('the old model');
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('writeOutputs', () => {
  it('renames nothing into place unless every file was written whole: the first, complete, is not renamed when the second fails', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'pair-'));
    const [data, model] = [path.join(dir, 'm.onnx.data'), path.join(dir, 'm.onnx')];
    fs.writeFileSync(data, 'the old data');
    fs.writeFileSync(model, 'the old model');
    // a chunk the write refuses (not bytes), after a whole chunk: the model's write fails half-way
    const broken = [new Uint8Array(10), { length: 5 } as unknown as Uint8Array];
    await expect(writeOutputs([{ file: data, content: [new Uint8Array(100)] }, { file: model, content: broken }])).rejects.toThrow(`${model}: cannot write`);
    expect(fs.readFileSync(data, 'utf8')).toBe('the old data');
    expect(fs.readFileSync(model, 'utf8')).toBe('the old model');
    expect(fs.readdirSync(dir).sort()).toEqual(['m.onnx', 'm.onnx.data']); // no temporary file left
    await writeOutputs([{ file: data, content: [new Uint8Array(100)] }, { file: model, content: 'new' }]);
    expect([fs.statSync(data).size, fs.readFileSync(model, 'utf8')]).toEqual([100, 'new']);
  });
});

describe('the 2 GiB limit of one protobuf message', () => {
  it('is protobuf\'s: 2^31 - 1 bytes', () => {
    expect(MAX_MODEL_BYTES).toBe(2 ** 31 - 1);
  });

  it('refuses a single-file model past it before anything is written, saying to use --external-data; with it, the model is written', async () => {
    const { big } = await nets();
    const model = convertGraph(big.graph).model;
    const size = encodeModel(model).length, limit = size - 1;
    const dir = fs.mkdtempSync(path.join(tmp, 'limit-'));
    const file = path.join(dir, 'm.onnx');
    fs.writeFileSync(file, 'the old model');
    await expect(writeModelFile(model, file, { limit })).rejects.toThrow(
      `the ONNX model would be ${(size / 1e6).toFixed(1)} MB (${size} bytes), more than the ${limit} bytes protobuf allows one model: give --external-data to write its large tensors to a file beside it`,
    );
    // the library's convert(net, { file }) names no CLI flag: it says what encodeModel says there
    await expect(writeModelFile(model, file, { limit, advice: TOO_LARGE_ADVICE })).rejects.toThrow(
      `the ONNX model would be ${(size / 1e6).toFixed(1)} MB (${size} bytes), more than the ${limit} bytes protobuf allows one model: ${TOO_LARGE_ADVICE}`,
    );
    expect(fs.readdirSync(dir)).toEqual(['m.onnx']);
    expect(fs.readFileSync(file, 'utf8')).toBe('the old model');
    expect(await writeModelFile(model, file, { limit: size })).toEqual({ bytes: size }); // at the limit: written
    const written = await writeModelFile(model, file, { limit, externalData: '' });
    expect(written.bytes).toBeLessThan(size - 4 * 1024 * 2048 + 200); // the 4 KiB of biases stay in the model
    expect(written.data).toEqual({ file: `${file}.data`, bytes: 4 * 1024 * 2048 });
  });

  it('is checked where a model is encoded into one buffer, with what to do there (the library and the browser; sessions from bytes)', async () => {
    const { lenet } = await nets();
    const model = convertGraph(lenet.graph).model;
    const size = encodeModel(model).length, limit = size - 1;
    const head = `the ONNX model would be ${(size / 1e6).toFixed(1)} MB (${size} bytes), more than the ${limit} bytes protobuf allows one model: `;
    expect(() => encodeModel(model, undefined, limit)).toThrow(head + TOO_LARGE_ADVICE);
    expect(TOO_LARGE_ADVICE).toBe('a model this large keeps its weights beside it as ONNX external data, as `crema convert --external-data` writes it');
    expect(() => sessionBytes(model, undefined, limit)).toThrow(head + 'ONNX Runtime is given the model as bytes here, which cannot hold a net this large');
    expect(() => sessionBytes(model, 'cannot write the model for ONNX Runtime in /tmp/x: ENOSPC', limit)).toThrow(
      head + 'ONNX Runtime is given a net this large as files, its weights as external data, and they could not be written (cannot write the model for ONNX Runtime in /tmp/x: ENOSPC)',
    );
    expect(Buffer.from(sessionBytes(model, undefined, size)).equals(Buffer.from(encodeModel(model)))).toBe(true);
  });
});
