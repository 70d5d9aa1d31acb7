import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { tileGrid } from '../src/image/grid.js';
import { imageInput } from '../src/image/input.js';
import { Net } from '../src/runtime/net.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-show-'));
const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'];
const cifar = ['models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel'];

function crema(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crema.js', ...args], { cwd: root, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('tileGrid (vis_square)', () => {
  const values = Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => i);
  it('tiles in a near-square grid with 1-pixel white borders, scaled over all tiles', () => {
    const p = tileGrid(values, 5, 2, 3, false);
    expect([p.width, p.height, p.channels]).toEqual([3 * 4 - 1, 2 * 3 - 1, 1]);
    const at = (x: number, y: number) => p.data[y * p.width + x];
    expect([at(0, 0), at(2, 1)]).toEqual([0, Math.round((5 * 255) / 29)]); // tile 0: values 0..5
    expect(at(3, 0)).toBe(255); // border
    expect(at(4 + 2, 3 + 1)).toBe(255); // tile 4 (row 1, col 1), its last value 29: the maximum
    expect(at(8 + 1, 3)).toBe(255); // no tile 5: white
  });
  it('scales each tile over its own range with "each"', () => {
    const p = tileGrid(values, 5, 2, 3, false, 'each');
    expect([p.data[0], p.data[p.width + 2], p.data[4], p.data[p.width + 6]]).toEqual([0, 255, 0, 255]);
  });
});

describe('crema show', () => {
  it('writes a blob\'s channels as a grid that shows the blob\'s values (LeNet conv1 on a drawn 7)', async () => {
    const r = await crema('show', ...lenet, '--input', 'models/lenet/examples/digit-7.png', '--raw-scale', '1', '--blobs', 'conv1', '--scale', '1', '-o', tmp);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`wrote ${path.join(tmp, 'conv1.png')}`);
    expect((await sharp(path.join(tmp, 'conv1.png')).metadata()).channels).toBe(1); // a gray PNG
    const { data, info } = await sharp(path.join(tmp, 'conv1.png')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([5 * 25 - 1, 4 * 25 - 1, 1]); // 20 maps of 24x24
    // The same forward pass through the library: every pixel is the blob's value scaled over the blob's range.
    const net = await Net.load(lenet[0], lenet[1]);
    net.forward({ data: await imageInput('models/lenet/examples/digit-7.png', net.shapes.get('data')!, { rawScale: 1 }) });
    const conv1 = net.blobs.get('conv1')!.data;
    let lo = Infinity, hi = -Infinity;
    for (const v of conv1) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    let worst = 0;
    for (let c = 0; c < 20; c++)
      for (let y = 0; y < 24; y++)
        for (let x = 0; x < 24; x++) {
          const px = data[(Math.floor(c / 5) * 25 + y) * info.width + (c % 5) * 25 + x];
          worst = Math.max(worst, Math.abs(px - ((conv1[(c * 24 + y) * 24 + x] - lo) / (hi - lo)) * 255));
        }
    expect(worst).toBeLessThanOrEqual(0.5); // rounding to 8 bits
  });

  it('writes a layer\'s 3-channel filters in colour, enlarged to about 512 pixels', async () => {
    const r = await crema('show', ...cifar, '--params', 'conv1', '--channel-swap', '0,1,2', '-o', tmp, '--verbose');
    expect(r.code).toBe(0);
    // Loading's notes, as every command that loads a net prints them (--verbose: the format upgrades too).
    expect(r.stderr).toMatch(/^note: models\/cifar10_full\/deploy\.prototxt: upgraded V1 layers/m);
    const meta = await sharp(path.join(tmp, 'conv1-filters.png')).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([35 * 14, 35 * 14, 3]); // 32 filters 5x5: 6x6 grid
  });

  it('refuses what it cannot picture, in one line', async () => {
    const cases: [string[], string][] = [
      [['-o', tmp], 'crema: name what to show: --blobs conv1,norm1 and/or --params conv1'],
      [['--blobs', 'prob', '--input', 'models/lenet/examples/digit-7.png', '-o', tmp], "crema: --blobs: 'prob' has shape [1, 10]; pictures need N x C x H x W blobs"],
      [['--params', 'relu1', '-o', tmp], "crema: --params: layer 'relu1' has no weights (layers with weights: conv1, conv2, ip1, ip2)"],
      [['--blobs', 'conv9', '-o', tmp], "crema: --blobs: no blob named 'conv9' (did you mean 'conv1'?); the net's blobs: data, conv1, pool1, conv2, pool2, ip1, ip2, prob"],
      [['--blobs', 'conv1', '-o', tmp], 'crema: --blobs needs an --input (an image or a .npy) to run the net on'],
    ];
    const runs = await Promise.all(cases.map(([flags]) => crema('show', ...lenet, ...flags)));
    runs.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('note:'))).toEqual([cases[i][1]]);
    });
  });
});
