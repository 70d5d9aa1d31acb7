// The library as a new user calls it from JavaScript, where the types do not hold anyone back (round twelve's audit):
// every public options object refuses keys it does not know (a typo like `{ thread: 2 }` ran one thread per core,
// `channelswap` ran BGR), and options of the wrong kind get one line naming them instead of a TypeError, NaN
// inputs or a silently ignored value.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Net, Tensor, classify, convert, detect, draw, geometryOf, imageInput, loadImage, parseLabels, preprocess, readMean, resizeImage, upgradePrototxt, verify } from '../src/index.js';

const m = 'models/cifar10_full';
const P = `${m}/deploy.prototxt`, W = `${m}/weights.caffemodel`, cat = `${m}/examples/cat.jpg`;
const dims = [1, 3, 32, 32];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-options-'));

async function message(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toHaveProperty('code', 'ERR_CREMA_INPUT');
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

const LOAD = 'the options are threads, plugins, keepBlobs, phase, level, stages, lenient, dataShapes, dialect, warn, frcnnConfig';

describe('Net.load', () => {
  it('refuses options it does not know, naming the known ones and the likeliest meant', async () => {
    expect(await message(() => Net.load(P, W, { thread: 2 } as never))).toBe(`Net.load: unknown option 'thread' (did you mean 'threads'?): ${LOAD}`);
    expect(await message(() => Net.load(P, W, { bogus: 1 } as never))).toBe(`Net.load: unknown option 'bogus': ${LOAD}`);
    // crema's own hook (edges' choice of HED's dialect) is Net.open's parameter, not an option of Net.load's
    expect(await message(() => Net.load(P, W, { dialectOf: () => undefined } as never))).toBe(`Net.load: unknown option 'dialectOf' (did you mean 'dialect'?): ${LOAD}`);
    expect(await message(() => Net.load({ prototxt: P, weights: W }, { Phase: 'TEST' } as never))).toBe(`Net.load: unknown option 'Phase' (did you mean 'phase'?): ${LOAD}`);
    expect(await message(() => Net.load({ prototxt: P, weight: W } as never))).toBe("Net.load({ prototxt, weights }): unknown option 'weight' (did you mean 'weights'?): the options are prototxt, weights");
    expect(await message(() => Net.load(P, W, 2 as never))).toBe('Net.load: expected an options object ({ threads, plugins, keepBlobs, phase, level, stages, lenient, dataShapes, dialect, warn, frcnnConfig }), got a number');
    // the weights after a files object were taken as options and dropped
    expect(await message(() => Net.load({ prototxt: P }, W as never))).toBe('Net.load({ prototxt, weights }, options): the second argument is the options, got a string (the weights go in the object)');
    // a file: URL there too (an object: it was taken as options, and the net loaded with no weights)
    expect(await message(() => Net.load({ prototxt: P }, pathToFileURL(W) as never))).toBe('Net.load({ prototxt, weights }, options): the second argument is the options, got a URL (the weights go in the object)');
  });

  it('names its options when their values are wrong (were blamed on the prototxt, or a string stage split)', async () => {
    expect(await message(() => Net.load(P, W, { phase: 'test' as never }))).toBe("options.phase: expected 'TRAIN' or 'TEST', got 'test'");
    expect(await message(() => Net.load(P, W, { level: '1' as never }))).toBe('options.level: expected a whole number, got a string');
    expect(await message(() => Net.load(P, W, { stages: 'deploy' as never }))).toBe("options.stages: expected an array of names, got the string 'deploy' (['deploy'] names one)");
  });
});

describe('a loaded net', () => {
  let net: Net;
  beforeAll(async () => void (net = await Net.load(P, W, { threads: 1 })));
  afterAll(async () => net.dispose());

  it('forward refuses unknown options, and a start after the end (ran nothing and returned stale tops)', async () => {
    expect(await message(() => net.forward({}, { begin: 'conv2' } as never))).toBe("forward: unknown option 'begin': the options are start, end, onLayer");
    expect(await message(() => net.forward({}, { start: 'ip1', end: 'conv1' }))).toBe("forward: start 'ip1' (layer 12) comes after end 'conv1' (layer 1): nothing would run");
  });

  it('new Tensor without data, or with float64 data, is one line (was a TypeError, or went through)', async () => {
    expect(await message(() => new Tensor([1, 3, 31, 32], undefined as never))).toBe('new Tensor(dims, data): data must be a Float32Array, got undefined (Tensor.zeros(dims) makes one of zeros)');
    expect(await message(() => new Tensor([2], new Float64Array(2) as never))).toBe('new Tensor(dims, data): data must be a Float32Array, got a Float64Array (Tensor.zeros(dims) makes one of zeros)');
  });

  it('convert, verify, classify, detect, draw and upgradePrototxt refuse unknown options', async () => {
    expect(await message(() => convert(net, { opsett: 13 } as never))).toBe("convert: unknown option 'opsett' (did you mean 'opset'?): the options are opset, outputs, lrn, anySize, anyBatch, file");
    expect(await message(() => convert(net, { outputs: 'prob' as never }))).toBe("options.outputs ('net', 'all' or blob names): expected an array of names, got the string 'prob' (['prob'] names one)");
    expect(await message(() => convert(net, { lrn: 'decompose' as never }))).toBe("options.lrn is 'native' or 'decomposed', got 'decompose'");
    expect(await message(() => verify(net, { tolerence: 1e-3 } as never))).toBe("verify: unknown option 'tolerence' (did you mean 'tolerance'?): the options are inputs, reference, tolerance, seed, threads, lrn, opset");
    expect(await message(() => classify(net, [cat], { channelswap: [0, 1, 2] } as never))).toBe("classify: unknown option 'channelswap' (did you mean 'channelSwap'?): the options are rawScale, channelSwap, mean, inputScale, resize, crop, oversample, top, labels");
    expect(await message(() => classify(net, cat as never))).toBe('classify: expected an array of images (paths, file: URLs or bytes), got a string');
    expect(await message(() => detect(net, cat, { treshold: 0.5 } as never))).toBe("detect: unknown option 'treshold' (did you mean 'threshold'?): the options are rawScale, channelSwap, mean, inputScale, resize, crop, oversample, threshold, labels, quadNms, scale, maxSize, pyramid, backend");
    expect(await message(() => draw(P, { format: 'png' as never }))).toBe("draw: options.format is 'svg' or 'dot', got 'png'");
    expect(await message(() => draw(P, { rankDir: 'TB' } as never))).toBe("draw: unknown option 'rankDir' (did you mean 'rankdir'?): the options are format, rankdir, phase");
    expect(await message(() => upgradePrototxt(P, { strict: true } as never))).toBe("upgradePrototxt: unknown option 'strict': the options are lenient");
    // classify's own options still reach it, and its preprocessing the image
    expect((await classify(net, [cat], { channelSwap: [0, 1, 2], mean: { perChannel: Float64Array.of(125, 123, 114) }, top: 1 }))[0].top[0].prob).toBeCloseTo(0.582, 3);
  });

  it("classify and detect refuse labels that are no array of strings (a labels file's text was read a letter a class: 'e' for the cat), and a top that is no number", async () => {
    const text = fs.readFileSync(`${m}/labels.txt`, 'utf8');
    const expected = (what: string, got: string) => `${what}: options.labels is the class names, an array of strings (parseLabels(text) reads a labels file's), got ${got}`;
    expect(await message(() => classify(net, [cat], { labels: text as never }))).toBe(expected('classify', 'a string'));
    expect(await message(() => classify(net, [cat], { labels: `${m}/labels.txt` as never }))).toBe(expected('classify', 'a string'));
    expect(await message(() => classify(net, [cat], { labels: ['cat', 3] as never }))).toBe(expected('classify', 'an array holding a number'));
    expect(await message(() => detect(net, cat, { labels: 'background\nface' as never }))).toBe(expected('detect', 'a string'));
    expect(await message(() => classify(net, [cat], { top: '2' as never }))).toBe('classify: top must be a positive whole number, got a string');
    // parseLabels' array is what they take
    const [first] = await classify(net, [cat], { channelSwap: [0, 1, 2], mean: { perChannel: Float64Array.of(125, 123, 114) }, top: 1, labels: parseLabels(text) });
    expect(first.top[0].label).toBe('cat');
  });

  it('run refuses unknown options and a string of fetches (was split into letters: "no blob named \'p\'")', async () => {
    const n = await Net.load(P, W, { threads: 1 });
    try {
      expect(await message(() => n.run({}, { fetch: ['conv1'] } as never))).toBe("run: unknown option 'fetch' (did you mean 'fetches'?): the options are fetches, backend");
      expect(await message(() => n.run({}, { fetches: 'prob' as never }))).toBe("run: options.fetches: expected an array of names, got the string 'prob' (['prob'] names one)");
    } finally {
      await n.dispose();
    }
  });
});

describe('the image helpers', () => {
  const gray = path.join(tmp, 'gray.png');
  beforeAll(async () => {
    const { default: sharp } = await import('sharp');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 128, g: 128, b: 128 } } }).toColourspace('b-w').png().toFile(gray);
    fs.writeFileSync(path.join(tmp, 'empty.jpg'), '');
  });

  it('refuse unknown options (mean_values was ignored)', async () => {
    expect(await message(() => imageInput(cat, dims, { mean_values: [1, 2, 3] } as never))).toBe("imageInput: unknown option 'mean_values': the options are rawScale, channelSwap, mean, inputScale, resize, crop, oversample");
    expect(await message(async () => preprocess(await loadImage(cat), geometryOf(dims), { rawscale: 1 } as never))).toBe("preprocess: unknown option 'rawscale' (did you mean 'rawScale'?): the options are rawScale, channelSwap, mean, inputScale, resize, crop, oversample");
  });

  it('refuse values of the wrong kind: a mean as a bare array was ignored, one of 2 values or another size gave NaN', async () => {
    const expected = 'options.mean: expected { perChannel: Float64Array.of(…) } or { image: Tensor } (readMean makes one)';
    expect(await message(() => imageInput(gray, dims, { mean: [104, 117, 123] as never }))).toBe(`${expected}, got an array`);
    expect(await message(() => imageInput(gray, dims, { mean: '104,117,123' as never }))).toBe(`${expected}, got a string`);
    expect(await message(() => imageInput(gray, dims, { mean: { perChannel: Float64Array.of(1, 2) } }))).toBe('options.mean.perChannel: has 2 values, the input has 3 channels');
    expect(await message(() => imageInput(gray, dims, { mean: { image: Tensor.zeros([3, 10, 10]) } }))).toBe("options.mean.image: has shape [3, 10, 10], the input's C x H x W is [3, 32, 32] (readMean crops a mean image to the input)");
    expect(await message(() => imageInput(gray, dims, { rawScale: NaN }))).toBe('options.rawScale: expected a finite number, got NaN');
    expect(await message(() => imageInput(gray, dims, { inputScale: '0.017' as never }))).toBe('options.inputScale: expected a finite number, got a string');
    expect(await message(() => imageInput(gray, dims, { channelSwap: '2,1,0' as never }))).toBe('options.channelSwap: expected an array of channel indices (e.g. [2, 1, 0]), got a string');
    expect(await message(() => imageInput(gray, dims, { resize: [-5, 40] }))).toBe('options.resize: expected [height, width], whole numbers of pixels from 1 to 16384, got [-5, 40]');
    expect(await message(() => imageInput(gray, dims, { resize: 40 as never, crop: true }))).toBe('options.resize: expected [height, width], whole numbers of pixels from 1 to 16384, got a number');
    expect(await message(async () => resizeImage(await loadImage(gray), 0, 10))).toBe('resizeImage: height and width are whole numbers of pixels, 1 or more, got 0 x 10');
    expect(await message(() => geometryOf('1,3,32,32' as never))).toBe("geometryOf: expected an input's dims (e.g. net.shapes.get('data')), got a string");
    expect(await message(() => readMean('1,2,3', dims as never))).toBe("readMean: the input is { channels, height, width } (geometryOf(net.shapes.get('data')!) gives it), got an array");
    // the right kinds still work, options left out included
    expect((await imageInput(gray, dims)).dims).toEqual(dims);
    expect((await imageInput(gray, dims, { mean: { perChannel: [1, 2, 3] as never } })).data[0]).toBe(127);
  });

  it('name the pixel limit a huge header passes (was sharp\'s "Input image exceeds pixel limit")', async () => {
    const { default: sharp } = await import('sharp');
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } }).png().toBuffer();
    png.writeUInt32BE(60000, 16); // IHDR width and height
    png.writeUInt32BE(60000, 20);
    expect(await message(() => imageInput(png, dims))).toBe(`image (Buffer, ${png.length} bytes): more than 10000 x 10000 pixels (10^8, crema's limit for an image): make it smaller first`);
  });

  it('say an empty file is empty, naming it (was "unsupported image format"; empty bytes a bare Error from sharp)', async () => {
    const empty = path.join(tmp, 'empty.jpg');
    expect(await message(() => imageInput(empty, dims))).toBe(`${empty}: empty file, not an image`);
    expect(await message(() => loadImage(new Uint8Array(0)))).toBe('image (Uint8Array, 0 bytes): empty, not an image');
  });
});
