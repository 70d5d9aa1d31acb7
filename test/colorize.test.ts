// The colorization demo (richzhang/colorization, colorize.py) against itself, run in ../shared's chroot
// (test/fixtures/colorize/demo.py: its steps on CPU, skimage 0.18 and scipy 1.6): Lab both ways and scipy's spline zoom
// on small arrays (units.json, always), and the whole photo on the corpus colorization net with synthetic weights
// (hashweights from ../shared: skipped loudly without it), with every weight, and without conv8_313_rh and class8_ab
// as the released caffemodel comes (Caffe fills the first from its prototxt, the demo writes the second).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AB_BINS } from '../src/detect/colorize.js';
import { labToRgb, rgbToLab } from '../src/image/lab.js';
import { splineZoom } from '../src/image/spline-zoom.js';
import { colorize, loadImage, Net } from '../src/index.js';
import { cli } from './helpers/cli.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';

const fixture = path.join(import.meta.dirname, 'fixtures/colorize');
const corpus = path.join(import.meta.dirname, 'fixtures/corpus/colorization');
const units = JSON.parse(fs.readFileSync(path.join(fixture, 'units.json'), 'utf8')) as {
  rgb: number[]; rgb2lab: number[]; lab: number[]; lab2rgb: number[];
  zoom: { h: number; w: number; hb: number; wb: number; a: number[]; z: number[] }[];
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (v, i) => Math.abs(v - b[i])).reduce((m, d) => Math.max(m, d), 0);

describe("the demo's conversions, against skimage and scipy", () => {
  it("rgb2lab in float32, as skimage converts a float32 image (within 5e-5 of its L, a, b: a few float32 steps, numpy's matmul summing in its own order)", () => {
    expect(maxDiff(rgbToLab(Float32Array.from(units.rgb)), units.rgb2lab)).toBeLessThanOrEqual(5e-5);
  });
  it('lab2rgb, Z < 0 taken as 0, clipped (within 1e-6)', () => {
    expect(maxDiff(labToRgb(Float32Array.from(units.lab)), units.lab2rgb)).toBeLessThanOrEqual(1e-6);
  });
  it.each(units.zoom.map((z) => [`${z.h} x ${z.w} -> ${z.hb} x ${z.wb}`, z] as const))("scipy's zoom, order 3: %s", (_, z) => {
    expect(maxDiff(splineZoom(Float32Array.from(z.a), 2, z.h, z.w, z.hb, z.wb), z.z)).toBeLessThanOrEqual(1e-6);
  });
  it("the 313 ab bins: the gamut's centres, 10 apart", () => {
    expect(AB_BINS).toHaveLength(313);
    expect(new Set(AB_BINS.map(([a, b]) => `${a},${b}`)).size).toBe(313);
    expect(AB_BINS.every(([a, b]) => a % 10 === 0 && b % 10 === 0)).toBe(true);
  });
});

describe.skipIf(sharedMissing())('a photo colorized, against the demo', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-colorize-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  /** The corpus net's synthetic weights (the demo's run used the same), less the layers `without` names. */
  const weights = (name: string, without: string[]) => {
    const spec = JSON.parse(fs.readFileSync(path.join(corpus, 'spec.json'), 'utf8')) as { layers: { name: string }[] };
    spec.layers = spec.layers.filter((l) => !without.includes(l.name));
    const specFile = path.join(tmp, `${name}.json`), file = path.join(tmp, `${name}.caffemodel`);
    fs.writeFileSync(specFile, JSON.stringify(spec));
    execFileSync('node', [path.join(sharedDir!, 'tools/hashweights.mjs'), 'model', specFile, file, '--salt', 'colorize']);
    return file;
  };
  /** The demo's output bytes: equal but for a few at 255 * v's truncation, by 1. */
  async function expectDemo(data: Uint8Array, variant: string): Promise<void> {
    const demo = await loadImage(path.join(fixture, `demo-${variant}.png`), true);
    const ref = Uint8Array.from(demo.data, (v) => Math.round(v * 255));
    expect(data).toHaveLength(ref.length);
    const off = Array.from(data, (v, i) => Math.abs(v - ref[i]));
    expect(Math.max(...off), variant).toBeLessThanOrEqual(1);
    expect(off.filter((d) => d > 0).length / off.length, variant).toBeLessThan(0.01);
  }

  it('with every weight: the demo\'s colours', async () => {
    const net = await Net.load(path.join(corpus, 'net.prototxt'), weights('full', []), { threads: 2 });
    const out = await colorize(net, path.join(fixture, 'cat.png'));
    expect([out.width, out.height]).toEqual([160, 117]);
    await expectDemo(out.data, 'full');
    net.dispose();
  });

  it('without conv8_313_rh and class8_ab, as the release comes: the filler and the bins, as Caffe and the demo, natively and through ONNX Runtime; the CLI writes the PNG', async () => {
    const file = weights('release', ['conv8_313_rh', 'class8_ab']);
    const net = await Net.load(path.join(corpus, 'net.prototxt'), file, { threads: 2 });
    expect(net.notes).toEqual([
      `${file}: conv8_313_rh takes the prototxt's fillers, as Caffe fills a layer the weights leave out`,
      `${file}: layers that need weights got none: class8_ab`,
    ]);
    await expectDemo((await colorize(net, path.join(fixture, 'cat.png'))).data, 'release');
    // Through ONNX Runtime: the model holds the layers up to the bins' probabilities (class8_ab, unweighted, left out)
    await expectDemo((await colorize(net, path.join(fixture, 'cat.png'), { backend: 'onnx' })).data, 'release');
    await expect(colorize(net, path.join(fixture, 'cat.png'), { backend: 'gpu' } as object)).rejects.toThrow('colorize: options.backend is \'native\' or \'onnx\', got "gpu"');
    await expect(colorize(net, path.join(fixture, 'cat.png'), { threads: 2 } as object)).rejects.toThrow("colorize: unknown option 'threads'");
    net.dispose();
    const out = path.join(tmp, 'out');
    const run = await cli('colorize', path.join(corpus, 'net.prototxt'), file, path.join(fixture, 'cat.png'), '-o', out);
    expect(run.code).toBe(0);
    await expectDemo(Uint8Array.from((await loadImage(path.join(out, 'cat.png'), true)).data, (v) => Math.round(v * 255)), 'release');
    const byOrt = await cli('colorize', path.join(corpus, 'net.prototxt'), file, path.join(fixture, 'cat.png'), '-o', path.join(tmp, 'onnx'), '--backend', 'onnx');
    expect([byOrt.code, byOrt.stderr.split('\n').filter((l) => !l.startsWith('note: '))]).toEqual([0, []]);
    await expectDemo(Uint8Array.from((await loadImage(path.join(tmp, 'onnx', 'cat.png'), true)).data, (v) => Math.round(v * 255)), 'release');
  });
});

describe('colorize refuses a net that is not the colorization net', () => {
  it('names what it lacks, in one line', async () => {
    const lenet = path.join(import.meta.dirname, '../models/lenet');
    const net = await Net.load(path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'), { threads: 1 });
    await expect(colorize(net, path.join(fixture, 'cat.png'))).rejects.toThrow("net 'LeNet' has no blob 'class8_313_rh' of 313 channels (the colorization demo's colorization_deploy_v2.prototxt: its ab bins' probabilities)");
    net.dispose();
  });
});
