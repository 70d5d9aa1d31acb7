// Bytes in: every loader takes a path, bytes (Uint8Array, ArrayBuffer, Buffer) or, for a prototxt, its text; the
// results are the same as from the files, and errors name what was given. And the core (src/core.ts and all it
// imports) stays platform-neutral: no `node:` module, no Buffer, no process, no Node-only package.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CremaError, Net, convert, imageInput, readMean } from '../src/index.js';
import { encodeNpy, readNpy } from '../src/util/npy.js';
import { Tensor } from '../src/tensor.js';

const model = path.resolve('models/lenet');
const prototxtFile = path.join(model, 'deploy.prototxt');
const weightsFile = path.join(model, 'weights.caffemodel');
const input = () => readNpy(path.join(model, 'example-input.npy'));

async function probOf(net: Net): Promise<Float32Array> {
  return Float32Array.from(net.forward({ data: input() }).prob.data);
}

describe('Net.load from bytes and text', () => {
  it('gives the same net and numbers from Uint8Array, ArrayBuffer, Buffer and prototxt text as from paths', async () => {
    const want = await probOf(await Net.load(prototxtFile, weightsFile));
    const text = fs.readFileSync(prototxtFile, 'utf8');
    const buffer = fs.readFileSync(weightsFile);
    const u8 = new Uint8Array(buffer);
    const ab = u8.slice().buffer;
    for (const net of [
      await Net.load({ prototxt: text, weights: u8 }),
      await Net.load({ prototxt: new TextEncoder().encode(text), weights: ab }),
      await Net.load(text, buffer),
      await Net.load({ prototxt: prototxtFile, weights: weightsFile }),
    ]) {
      expect(net.inputs).toEqual(['data']);
      expect(await probOf(net)).toEqual(want);
    }
  });

  it('names bytes by kind and size, and text by its lines, in errors', async () => {
    const text = fs.readFileSync(prototxtFile, 'utf8');
    const jpeg = new Uint8Array(1_234_567);
    jpeg.set([0xff, 0xd8, 0xff]);
    await expect(Net.load({ prototxt: text, weights: jpeg })).rejects.toThrow(
      new CremaError('weights (Uint8Array, 1.2 MB): this is a JPEG image, not a binary caffemodel'));
    await expect(Net.load({ prototxt: text, weights: new ArrayBuffer(0) })).rejects.toThrow(
      new CremaError('weights (ArrayBuffer, 0 bytes): empty file, not a caffemodel'));
    await expect(Net.load({ prototxt: 'layer {\n  bogus_field: 1\n}\n' })).rejects.toThrow(
      new CremaError("prototxt (text, 4 lines):2:3: layer '#0' has unknown field 'bogus_field' (options.lenient skips it)"));
    await expect(Net.load({ prototxt: 42 as unknown as string })).rejects.toThrow(
      new CremaError("prototxt: expected a file path or the file's bytes (Uint8Array, ArrayBuffer, Buffer), got a number"));
    await expect(Net.load({ weights: weightsFile } as unknown as { prototxt: string })).rejects.toThrow(
      new CremaError("Net.load: expected a prototxt (path, bytes or text) or { prototxt, weights }, got an object without 'prototxt'"));
  });
});

describe('a prototxt that is not a prototxt', () => {
  it("an ONNX model (crema convert's) given as the prototxt or the weights is named as one (was 'binary data (a .caffemodel?' and a truncated field)", async () => {
    const net = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    const onnx = await convert(net);
    await net.dispose();
    const said = "this is an ONNX model (crema reads Caffe's .prototxt and .caffemodel; run a .onnx in ONNX Runtime, or the Caffe files with --backend onnx)";
    await expect(Net.load({ prototxt: onnx })).rejects.toThrow(new CremaError(`prototxt (Uint8Array, 1.7 MB): ${said}, not a prototxt`));
    await expect(Net.load({ prototxt: prototxtFile, weights: onnx })).rejects.toThrow(new CremaError(`weights (Uint8Array, 1.7 MB): ${said}, not a binary caffemodel`));
  });

  it("real Caffe's .solverstate (iter, then learned_net: ONNX's first two tags) is named as one, not as an ONNX model", async () => {
    // fixtures/solverstate: `caffe train --solver=solver.prototxt` by real Caffe 1.0, snapshot at iteration 3
    const state = new Uint8Array(fs.readFileSync('test/fixtures/solverstate/snap_iter_3.solverstate'));
    const said = 'this is a Caffe solver state (.solverstate: the state of a training; its weights are in /work/revapi2.zvkG/snap_iter_3.caffemodel)';
    await expect(Net.load({ prototxt: prototxtFile, weights: state })).rejects.toThrow(new CremaError(`weights (Uint8Array, 82 bytes): ${said}, not a binary caffemodel`));
    await expect(Net.load({ prototxt: state })).rejects.toThrow(new CremaError(`prototxt (Uint8Array, 82 bytes): ${said}, not a prototxt`));
    // iteration 10000: a two-byte varint (0x90 0x4e) before learned_net
    const later = new Uint8Array([0x08, 0x90, 0x4e, ...state.subarray(2)]);
    await expect(Net.load({ prototxt: prototxtFile, weights: later })).rejects.toThrow(new CremaError(`weights (Uint8Array, 83 bytes): ${said}, not a binary caffemodel`));
  });

  it('is refused by what it is: the caffemodel first (the order swapped), an image, UTF-16, nothing', async () => {
    const weights = new Uint8Array(fs.readFileSync(weightsFile));
    await expect(Net.load(weightsFile, prototxtFile)).rejects.toThrow(
      new CremaError(`${weightsFile}: this is binary data (a .caffemodel? the .prototxt comes first), not a prototxt`));
    await expect(Net.load({ prototxt: weights })).rejects.toThrow(
      new CremaError('prototxt (Uint8Array, 1.7 MB): this is binary data (a .caffemodel? the .prototxt comes first), not a prototxt'));
    await expect(Net.load({ prototxt: fs.readFileSync('models/cifar10_full/examples/cat.jpg') })).rejects.toThrow(
      new CremaError('prototxt (Buffer, 32.8 kB): this is a JPEG image, not a prototxt'));
    const text = fs.readFileSync(prototxtFile, 'utf8');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    await expect(Net.load({ prototxt: utf16 })).rejects.toThrow(
      new CremaError('prototxt (Buffer, 3.1 kB): this is UTF-16 text; a prototxt is read as UTF-8, as Caffe reads it (save it as UTF-8)'));
    await expect(Net.load({ prototxt: new Uint8Array(0) })).rejects.toThrow(new CremaError('prototxt (Uint8Array, 0 bytes): empty file, not a prototxt'));
    await expect(Net.load({ prototxt: new TextEncoder().encode(' \n\t\n') })).rejects.toThrow(new CremaError('prototxt (Uint8Array, 4 bytes): empty file, not a prototxt'));
    // Text with a UTF-8 byte-order mark, a form feed and non-ASCII comments is still text.
    const odd = new TextEncoder().encode(`\ufeff# Netz für Ziffern\f\n${text}`);
    expect((await Net.load({ prototxt: odd, weights })).inputs).toEqual(['data']);
  });
});

describe('images and means from bytes', () => {
  it('prepares an image from its bytes exactly as from its file', async () => {
    const file = path.resolve('models/cifar10_full/examples/cat.jpg');
    const dims = [1, 3, 32, 32];
    const fromFile = await imageInput(file, dims, {});
    const fromBytes = await imageInput(new Uint8Array(fs.readFileSync(file)), dims, {});
    expect(fromBytes.data).toEqual(fromFile.data);
    await expect(imageInput(new Uint8Array([1, 2, 3]), dims, {})).rejects.toThrow(/^image \(Uint8Array, 3 bytes\): cannot decode the image/);
  });

  it('reads a .binaryproto or .npy mean from its bytes, told apart by content', () => {
    const geo = { channels: 3, height: 1, width: 1 };
    const binaryproto = path.resolve('test/fixtures/pycaffe/mean36.binaryproto');
    if (fs.existsSync(binaryproto)) {
      const g = { channels: 3, height: 36, width: 36 };
      expect(readMean(fs.readFileSync(binaryproto), g)).toEqual(readMean(binaryproto, g));
    }
    const npy = new Uint8Array(fs.readFileSync(path.join(model, 'example-input.npy')));
    expect(() => readMean(npy, geo)).toThrow(new CremaError("mean (Uint8Array, 3.3 kB): has 1 channel, the net's input has 3"));
  });

  it('reads a mean given as a file: URL (a URL or its string) as the file it names, and refuses another URL in one line, never as values', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mean-url-')), file = path.join(dir, '104,117,123.npy'), g = { channels: 3, height: 1, width: 1 };
    fs.writeFileSync(file, encodeNpy(new Tensor([3], Float32Array.of(1, 2, 3))));
    for (const url of [pathToFileURL(file), pathToFileURL(file).href]) expect(readMean(url, g)).toEqual({ perChannel: Float64Array.of(1, 2, 3) });
    expect(() => readMean(pathToFileURL(path.join(dir, '104,117,123')), g)).toThrow(new CremaError(`mean ${path.join(dir, '104,117,123')}: expected a .binaryproto, a .npy or numbers (e.g. 104,117,123)`));
    for (const url of [new URL('https://example.com/104,117,123'), 'https://example.com/104,117,123'])
      expect(() => readMean(url, g)).toThrow(/^mean: https:\/\/example\.com\/104,117,123: crema reads a file path \(or a 'file:' URL\) or the file's bytes, not a 'https:' URL: fetch it and give the bytes/);
  });
});

/** Every module src/core.ts reaches through static imports (dynamic imports are the platform's business). */
function coreModules(): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = fs.readFileSync(file, 'utf8');
    for (const m of code.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else seen.add(`package:${spec}`);
    }
  };
  visit(path.resolve('src/core.ts'));
  return [...seen];
}

describe('the core is platform-neutral', () => {
  it('imports no node: module and no Node-only package, and uses no Buffer or process', () => {
    const modules = coreModules();
    expect(modules.length).toBeGreaterThan(30);
    const packages = modules.filter((m) => m.startsWith('package:')).map((m) => m.slice(8));
    expect(packages.filter((p) => p.startsWith('node:') || /^(sharp|h5wasm|onnxruntime-node|yargs)/.test(p))).toEqual([]);
    const offenders = modules.filter((m) => !m.startsWith('package:')).filter((file) => {
      // Comments and string literals may name them; code may not.
      const code = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`/gm, '');
      return /\bBuffer\b|\bprocess\b/.test(code);
    });
    expect(offenders.map((f) => path.relative(process.cwd(), f))).toEqual([]);
  });
});
