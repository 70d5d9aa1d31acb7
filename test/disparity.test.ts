// crema disparity: dispflownet-release's models/*/demo.py restated (src/detect/disparity.ts). Referees: the templates
// filled by demo.py's own lines (fixtures/dispnet/fill.py) and Python's '%.8f' of the x scale for several widths
// (ties included: 449 / 512, hard-coded from python3 3.11 here); the PFM's layout as CImg's save_pfm writes it
// (by hand). The whole command on two small images with DispNetCorr1D and synthetic weights (hashweights from
// ../shared: skipped loudly without it) against `crema run` of the filled net on .npy inputs made here from the
// images' bytes, natively and in ONNX Runtime.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { filterNet } from '../src/caffe/phase.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { disparityGray, disparityLine, fillDisparityTemplate, imageDataInput, pfmBytes, pythonFixed8 } from '../src/detect/disparity.js';
import { buildGraph } from '../src/graph/graph.js';
import { declaredWeights } from '../src/layers/layer.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { cli } from './helpers/cli.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';
import { len, packedFloats, str, varint } from './helpers/wire.js';

const dir = path.join(import.meta.dirname, 'fixtures/dispnet');
const fixture = (name: string) => path.join(dir, name);
const template = (name: string) => fs.readFileSync(fixture(`${name}.tpl.prototxt`), 'utf8');

describe('the template filled as demo.py fills it', () => {
  it('100 x 60: the filled fixtures (fill.py, demo.py\'s lines) byte for byte', () => {
    for (const name of ['DispNet', 'DispNetCorr1D']) expect(fillDisparityTemplate(template(name), 100, 60)).toBe(fs.readFileSync(fixture(`${name}.prototxt`), 'utf8'));
  });
  it("the x scale as Python's '%.8f' writes it, ties to even on the double (449 / 512 = 0.876953125: 0.87695312, where toFixed gives ...13; 2507 / 2560 a tie only exactly)", () => {
    const python: [number, string][] = [[1, '0.01562500'], [100, '0.78125000'], [449, '0.87695312'], [2507, '0.97929687'], [2509, '0.98007813'], [451, '0.88085938'], [453, '0.88476562'], [641, '0.91051136'],
      [960, '1.00000000'], [1000, '0.97656250'], [1242, '0.97031250'], [1249, '0.97578125'], [2000, '0.97656250'], [4093, '0.99926758']];
    for (const [w, want] of python) expect(pythonFixed8(w, Math.ceil(w / 64) * 64), `${w}`).toBe(want);
    expect(fillDisparityTemplate('coeff: $SCALE_WIDTH\nwidth: $ADAPTED_WIDTH $TARGET_WIDTH', 449, 10)).toBe('coeff: 0.87695312\nwidth: 512 449');
  });
  it("the dialect note names a DispNet net as dispflownet-release's (by its Correlation1D, or its PFMWriter); a FlowNet 2.0 net stays flownet2's", async () => {
    const dims = [1, 3, 60, 100], noteOf = async (file: string) => (await loadNet(file, undefined, { dataShapes: { img0: dims, img1: dims } })).notes[0];
    const note = (first: string, marker: string) => `DataAugmentation '${first}': a DispNet net (${marker}) of dispflownet's Caffe (lmb-freiburg/dispflownet-release), loaded in the flownet dialect (its Eltwise takes one bottom)`;
    expect(await noteOf(fixture('DispNetCorr1D.prototxt'))).toBe(note('img0s_aug', "Correlation1D 'corr'"));
    expect(await noteOf(fixture('DispNet.prototxt'))).toBe(note('img1s_aug', "PFMWriter 'PFMWriter1'"));
    expect(await noteOf(path.join(dir, '../flownet/FlowNet2-S.prototxt'))).toBe(
      "DataAugmentation 'img0s_aug': a net of FlowNet 2.0's Caffe (lmb-freiburg/flownet2), loaded in the flownet dialect (its Eltwise takes one bottom)");
  });
  it('refuses a variable demo.py does not fill, naming the line', () => {
    expect(() => fillDisparityTemplate('width: $TARGET_WIDTH\nheight: $TARGET_DEPTH\n', 100, 60, 'my.tpl')).toThrow(
      'my.tpl:2: unknown template variable $TARGET_DEPTH (demo.py fills $ADAPTED_WIDTH $ADAPTED_HEIGHT $TARGET_WIDTH $TARGET_HEIGHT $SCALE_WIDTH)');
  });
});

describe('the PFM and the images', () => {
  it("the PFM as the PFMWriter writes it (CImg's save_pfm): 'Pf', width height, 1.0, big-endian floats, the top row first", () => {
    const bytes = Buffer.from(pfmBytes({ width: 3, height: 2, data: Float32Array.of(1, 2, 3, 4, 5, -0.5) }));
    const head = 'Pf\n3 2\n1.0\n';
    expect(bytes.subarray(0, head.length).toString('latin1')).toBe(head);
    expect([0, 1, 2, 3, 4, 5].map((i) => bytes.readFloatBE(head.length + 4 * i))).toEqual([1, 2, 3, 4, 5, -0.5]);
    expect([...disparityGray({ width: 3, height: 1, data: Float32Array.of(0, 2, -1) })]).toEqual([0, 255, 0]);
    expect([...disparityGray({ width: 3, height: 1, data: Float32Array.of(NaN, 4, 1) })]).toEqual([0, 255, 64]);
  });
  it("the line crema disparity prints: the size, the largest and the mean value (4 digits), a NaN in the mean only", () => {
    expect(disparityLine('l.png', 'r.png', { width: 2, height: 2, data: Float32Array.of(1.5, -2, 30.25, 0.125) })).toBe('l.png | r.png (2 x 2): disparity max 30.25, mean 7.469 pixels');
    expect(disparityLine('l', 'r', { width: 2, height: 1, data: Float32Array.of(NaN, 3) })).toBe('l | r (2 x 1): disparity max 3.000, mean NaN pixels');
  });
  it("an image as ImageData reads it: BGR bytes; a gray one's in all three; a 16-bit one's high bytes", () => {
    const rgb = imageDataInput({ width: 2, height: 1, channels: 3, bits: 8, data: Float32Array.of(1, 0.5, 0, 0, 0, 1) } as never);
    expect([...rgb.data]).toEqual([0, 255, 128, 0, 255, 0]);
    const gray16 = imageDataInput({ width: 1, height: 1, channels: 1, bits: 16, data: Float32Array.of(0x1234 / 65535) } as never);
    expect([...gray16.data]).toEqual([0x12, 0x12, 0x12]);
  });
});

describe.skipIf(sharedMissing())('crema disparity with DispNetCorr1D (synthetic weights), against crema run of the filled net', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-disparity-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const at = (name: string) => path.join(tmp, name);
  const W = 100, H = 60, shape = `1,3,${H},${W}`;
  const templateFile = fixture('DispNetCorr1D.tpl.prototxt');

  /** hashweights' weights for every layer but the DataAugmentations, whose iteration count is set past recompute_mean. */
  const weights = (() => {
    let made: string | undefined;
    return () => {
      if (made) return made;
      const filled = fillDisparityTemplate(template('DispNetCorr1D'), W, H), dims = [1, 3, H, W];
      const parsed = filterNet(upgradeNet(parsePrototxt(filled, 'filled') as NetParameter, 'filled', []), {}, [], { dataShapes: { img0: dims, img1: dims } });
      const graph = buildGraph(parsed, new Map(), { dialect: 'flownet' });
      const layers = graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length);
      fs.writeFileSync(at('spec.json'), JSON.stringify({ name: 'DispNetCorr1D', layers: layers.filter((l) => l.type !== 'DataAugmentation') }));
      made = at('w.caffemodel');
      execFileSync('node', [path.join(sharedDir!, 'tools/hashweights.mjs'), 'model', at('spec.json'), made, '--salt', 'disparity']);
      const blob = (d: readonly number[], values: number[]) => len(7, [...len(7, len(1, d.flatMap((v) => varint(v)))), ...packedFloats(5, values)]);
      // the release's mean image is of the training size (mean_per_pixel false: only blob 2 is read)
      const aug = layers.filter((l) => l.type === 'DataAugmentation').flatMap((l) => len(100, [...str(1, l.name), ...str(2, l.type),
        ...blob([1, 1, 1, 1], [1e6]), ...blob([1, 3, 8, 16], Array(384).fill(0.5)), ...blob([1, 3, 1, 1], [0.4, 0.43, 0.47])]));
      fs.appendFileSync(made, Uint8Array.from(aug));
      return made;
    };
  })();

  /** A textured pattern, shifted by dx (a stereo pair), as PNG; its raw RGB bytes returned. */
  async function image(name: string, dx: number): Promise<Uint8Array> {
    const { default: sharp } = await import('sharp');
    const px = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++)
      px[(y * W + x) * 3 + c] = Math.round(127.5 + 127.5 * Math.sin((x + dx) * (0.21 + 0.05 * c) + y * (0.13 - 0.03 * c) + c));
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(at(name));
    return px;
  }
  /** ImageData's blob from the bytes: 1 x 3 x H x W float, BGR. */
  const npyOf = (px: Uint8Array, file: string) => {
    const data = new Float32Array(3 * W * H);
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) data[c * W * H + i] = px[i * 3 + 2 - c];
    writeNpy(at(file), { dims: [1, 3, H, W], data });
  };
  const readPfm = (file: string) => {
    const b = fs.readFileSync(file), head = `Pf\n${W} ${H}\n1.0\n`;
    expect(b.subarray(0, head.length).toString('latin1')).toBe(head);
    return Float32Array.from({ length: W * H }, (_, i) => b.readFloatBE(head.length + 4 * i));
  };

  beforeAll(async () => {
    npyOf(await image('left.png', 0), 'left.npy');
    npyOf(await image('right.png', 3), 'right.npy');
    fs.writeFileSync(at('filled.prototxt'), fillDisparityTemplate(template('DispNetCorr1D'), W, H));
    fs.writeFileSync(at('label.npy'), Buffer.alloc(0));
    writeNpy(at('label.npy'), { dims: [1], data: Float32Array.of(0) });
  });

  it('writes the PFM of crema run\'s predict_disp_final negated (bit for bit) and its picture; --backend onnx within the tolerance', async () => {
    const ran = await cli('run', at('filled.prototxt'), weights(), '--data-shape', `img0=${shape}`, '--data-shape', `img1=${shape}`,
      '--input', `img0=${at('left.npy')}`, '--input', `img1=${at('right.npy')}`, '--input', `label0=${at('label.npy')}`, '--input', `label1=${at('label.npy')}`,
      '--dump', at('dump'), '--blobs', 'predict_disp_final', '--threads', '2');
    expect(ran.code, ran.stderr).toBe(0);
    const ref = readNpy(at('dump/predict_disp_final.npy'));
    expect(ref.dims).toEqual([1, 1, H, W]);
    const want = ref.data.map((v) => -v);

    const out = await cli('disparity', templateFile, weights(), at('left.png'), at('right.png'), '-o', at('out.pfm'), '--png', at('out.png'), '--threads', '2');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('note: dropped the layers that write their bottom to files (the blobs stay): PFMWriter1 (PFMWriter)');
    expect(out.stderr).toContain("note: DataAugmentation 'img0s_aug': a DispNet net (Correlation1D 'corr') of dispflownet's Caffe (lmb-freiburg/dispflownet-release)");
    const [max, mean] = [want.reduce((m, v) => Math.max(m, v), -Infinity), want.reduce((t, v) => t + v, 0) / want.length];
    expect(out.stdout.trim()).toBe(`${at('left.png')} | ${at('right.png')} (100 x 60): disparity max ${max.toPrecision(4)}, mean ${mean.toPrecision(4)} pixels; wrote ${at('out.pfm')}, ${at('out.png')}`);
    expect(relativeDifference(readPfm(at('out.pfm')), want)).toBe(0);
    const { default: sharp } = await import('sharp');
    const png = await sharp(at('out.png')).metadata();
    expect([png.width, png.height, png.channels]).toEqual([W, H, 1]);

    const onnx = await cli('disparity', templateFile, weights(), at('left.png'), at('right.png'), '-o', at('onnx.pfm'), '--backend', 'onnx', '--threads', '2');
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(relativeDifference(readPfm(at('onnx.pfm')), want)).toBeLessThanOrEqual(TOLERANCE);
  }, 600_000);

  it('takes a net already filled for the size (smaller images: the fork\'s crop check); refuses two sizes and a missing variable in one line', async () => {
    const filled = await cli('disparity', at('filled.prototxt'), weights(), at('left.png'), at('right.png'), '-o', at('filled.pfm'), '--threads', '2');
    expect(filled.code, filled.stderr).toBe(0);
    expect(fs.readFileSync(at('filled.pfm'))).toEqual(fs.readFileSync(at('out.pfm')));
    const { default: sharp } = await import('sharp');
    await sharp(Buffer.alloc(40 * 30 * 3, 9), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(at('small.png'));
    const sizes = await cli('disparity', templateFile, weights(), at('left.png'), at('small.png'));
    expect(sizes.code).toBe(2);
    expect(sizes.stderr.trim()).toBe(`crema: ${at('left.png')} is 100 x 60 but ${at('small.png')} is 40 x 30: DispNet takes two images of one size`);
    const other = await cli('disparity', at('filled.prototxt'), weights(), at('small.png'), at('small.png'));
    expect(other.code).toBe(2);
    // its ImageData takes the images' size, as Caffe's reads the files: the fork's own crop check refuses them
    expect(other.stderr.trim()).toBe(`crema: layer 'img0s_aug' (DataAugmentation): crop_width x crop_height 100 x 60 must lie within the 40 x 30 bottom (the fork: "crop width greater than original")`);
    fs.writeFileSync(at('unknown.tpl'), template('DispNetCorr1D').replace('crop_width: $TARGET_WIDTH', 'crop_width: $TARGET_WIDE'));
    const unknown = await cli('disparity', at('unknown.tpl'), weights(), at('left.png'), at('right.png'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe(`crema: ${at('unknown.tpl')}:70: unknown template variable $TARGET_WIDE (demo.py fills $ADAPTED_WIDTH $ADAPTED_HEIGHT $TARGET_WIDTH $TARGET_HEIGHT $SCALE_WIDTH)`);
  }, 600_000);
});
