import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { messageType } from '../src/caffe/schema.js';
import { startProgress } from '../src/cli/progress.js';
import { readNpy } from '../src/util/npy.js';
import { spawnCli } from './helpers/cli.js';

// End to end: spawns the built CLI (`npm run build` first; `npm test` does).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'];
const digits = 'models/lenet/examples';

const crema = (...args: string[]) => spawnCli(root, ...args);

interface JsonLine {
  image: string;
  top: { index: number; label: string | null; prob: number }[];
}
/** classify --json: one object (on one line), every image read under `images`. */
const jsonLines = (out: string) => {
  expect(out.trim().split('\n')).toHaveLength(1);
  return (JSON.parse(out) as { images: JsonLine[] }).images;
};

let tmp: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-classify-'));
});

describe('crema classify', () => {
  it('classifies the drawn digits that ship with LeNet (a directory, Caffe\'s output layout)', async () => {
    const r = await crema('classify', ...lenet, digits, '--raw-scale', '1', '--top', '2');
    expect(r.code).toBe(0);
    const blocks = r.stdout.split('---------- Prediction for ').slice(1);
    expect(blocks.map((b) => b.split(' ')[0])).toEqual(['0', '2', '3', '7'].map((d) => `${digits}/digit-${d}.png`));
    for (const b of blocks) {
      const digit = /digit-(\d)/.exec(b)![1];
      const lines = b.trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(new RegExp(`^0\\.9\\d{3}|1\\.0000 - "${digit}"$`));
      expect(lines[1].endsWith(`"${digit}"`)).toBe(true);
    }
  });

  it('--json: one object per image with the top classes, labels from labels.txt beside the net', async () => {
    const r = await crema('classify', ...lenet, `${digits}/digit-7.png`, `${digits}/digit-3.png`, '--raw-scale', '1', '--top', '3', '--json');
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.image)).toEqual([`${digits}/digit-7.png`, `${digits}/digit-3.png`]);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['image', 'top']);
      expect(l.top).toHaveLength(3);
      for (const t of l.top) expect(Object.keys(t)).toEqual(['index', 'label', 'prob']);
      expect(l.top[0].label).toBe(String(l.top[0].index));
      expect(l.top[0].prob).toBeGreaterThanOrEqual(l.top[1].prob);
    }
    expect(lines[0].top[0].index).toBe(7);
    expect(lines[1].top[0].index).toBe(3);
  });

  it('gives the same probabilities whatever the batch size, natively and in ONNX Runtime', async () => {
    // --batch 3 on 4 images: a batch of 3, then one of 1 (ONNX Runtime: padded to 3, its first row kept).
    const runs = [['--batch', '1'], ['--batch', '3'], ['--batch', '3', '--backend', 'onnx']];
    const [one, ...others] = (await Promise.all(runs.map((flags) => crema('classify', ...lenet, digits, '--raw-scale', '1', '--json', ...flags))))
      .map((r) => jsonLines(r.stdout));
    for (const other of others) {
      expect(other).toHaveLength(4);
      other.forEach((l, i) => l.top.forEach((t, j) => {
        expect(t.index).toBe(one[i].top[j].index);
        expect(t.prob).toBeCloseTo(one[i].top[j].prob, 5);
      }));
    }
  });

  it('reports an unreadable image and a missing one, classifies the others, exits 1', async () => {
    const dir = path.join(tmp, 'mixed');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(root, digits, 'digit-7.png'), path.join(dir, 'a.png'));
    fs.writeFileSync(path.join(dir, 'b.jpg'), 'not a jpeg');
    fs.copyFileSync(path.join(root, digits, 'digit-3.png'), path.join(dir, 'c.png'));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an image, not looked at');
    const r = await crema('classify', ...lenet, dir, path.join(tmp, 'missing.png'), '--raw-scale', '1', '--json');
    expect(r.code).toBe(1);
    expect(jsonLines(r.stdout).map((l) => [path.basename(l.image), l.top[0].index])).toEqual([['a.png', 7], ['c.png', 3]]);
    // ONNX Runtime: the batch of 4 files holds 2 images, padded to 4 rows; the same classes and probabilities.
    const onnx = await crema('classify', ...lenet, dir, path.join(tmp, 'missing.png'), '--raw-scale', '1', '--json', '--backend', 'onnx');
    expect(onnx.code).toBe(1);
    expect(jsonLines(onnx.stdout)).toHaveLength(2);
    jsonLines(onnx.stdout).forEach((l, i) => l.top.forEach((t, j) => {
      expect(t.index).toBe(jsonLines(r.stdout)[i].top[j].index);
      expect(t.prob).toBeCloseTo(jsonLines(r.stdout)[i].top[j].prob, 5);
    }));
    expect(JSON.parse(r.stdout).skipped.map((s: { image: string }) => path.basename(s.image))).toEqual(['b.jpg', 'missing.png']);
    const skips = r.stderr.split('\n').filter((l) => l.startsWith('crema: skipped'));
    expect(skips).toEqual([
      `crema: skipped ${path.join(dir, 'b.jpg')}: this is a text file (a .prototxt?), not an image`,
      `crema: skipped ${path.join(tmp, 'missing.png')}: no such file`,
    ]);
  });

  it('exits 2 with one line when no image can be read', async () => {
    const bad = path.join(tmp, 'bad.png');
    fs.writeFileSync(bad, 'garbage');
    const r = await crema('classify', ...lenet, bad);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('crema: no image could be read (1 skipped)');
  });

  it('names a directory that holds no image, exit 2', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'not an image');
    const r = await crema('classify', ...lenet, empty);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`crema: ${empty}: no image files in it (crema reads .jpg .jpeg .png .webp)`);
  });

  it('refuses bad preprocessing flags in one line, exit 2', async () => {
    const cases: [string[], string][] = [
      [['--mean', '1,2'], "crema: --mean 1,2: has 2 channels, the net's input has 1"],
      [['--batch', '0'], 'crema: --batch 0: expected a positive whole number'],
      [['--channel-swap', 'b,g,r'], 'crema: --channel-swap b,g,r: expected channel indices separated by commas (e.g. 2,1,0)'],
      [['--resize', '20', '--crop'], "crema: --resize 20,20 is smaller than the input's 28x28: nothing to crop from"],
      [['--mean', 'nope.binaryproto'], 'crema: nope.binaryproto: no such file'],
    ];
    const runs = await Promise.all(cases.map(([flags]) => crema('classify', ...lenet, `${digits}/digit-7.png`, ...flags)));
    for (const [i, [flags, message]] of cases.entries()) {
      const r = runs[i];
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('note:'))).toEqual([message]);
    }
  });

  it('--oversample averages the 10 crops exactly as caffe.Classifier.predict (identity net vs pycaffe)', async () => {
    // An identity net (Power with defaults) outputs its input: the "prediction" is the crops' average input.
    const proto = path.join(tmp, 'id.prototxt'), model = path.join(tmp, 'id.caffemodel');
    fs.writeFileSync(proto, 'name: "id"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\nlayer { name: "id" type: "Power" bottom: "data" top: "out" }\n');
    const T = messageType('NetParameter');
    fs.writeFileSync(model, T.encode(T.create({ name: 'id', layer: [{ name: 'id', type: 'Power' }] })).finish());
    const r = await crema('classify', proto, model, 'test/fixtures/images/rgb45x61.png', '--resize', '40,48', '--oversample',
      '--mean', 'test/fixtures/pycaffe/mean36.binaryproto', '--top', '3072', '--json');
    expect(r.code).toBe(0);
    const want = readNpy(path.join(root, 'test/fixtures/pycaffe/oversample_prediction.npy')).data;
    const [line] = jsonLines(r.stdout);
    expect(line.top).toHaveLength(want.length);
    let worst = 0;
    for (const t of line.top) worst = Math.max(worst, Math.abs(t.prob - want[t.index]));
    expect(worst).toBeLessThanOrEqual(1e-3); // the resize tolerance of test/preprocess.test.ts, in 0..255 units
  });
});

describe('crema classify vs pycaffe\'s caffe.Classifier (CIFAR-10 full on the shipped cat photo)', () => {
  // test/fixtures/pycaffe/classify_cifar10_full_cat.{py,json}: predict(oversample=False) and predict(oversample=True).
  const want = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/pycaffe/classify_cifar10_full_cat.json'), 'utf8')) as Record<string, number[]>;
  const cifar = ['models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', 'models/cifar10_full/examples/cat.jpg'];
  it.each(['native', 'onnx'])('gives pycaffe\'s probabilities, center and oversampled, within 1e-5 (--backend %s)', async (backend) => {
    const flags = ['--channel-swap', '0,1,2', '--mean', '125,123,114', '--top', '10', '--json', '--backend', backend];
    const [center, over] = await Promise.all([crema('classify', ...cifar, ...flags), crema('classify', ...cifar, ...flags, '--oversample')]);
    for (const [r, key] of [[center, 'center'], [over, 'oversample']] as const) {
      expect(r.code).toBe(0);
      const [line] = jsonLines(r.stdout);
      expect(line.top[0].label).toBe('cat');
      for (const t of line.top) expect(Math.abs(t.prob - want[key][t.index]), `${key} class ${t.index}`).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('crema run --input IMAGE', () => {
  it('preprocesses an image for the input as classify does', async () => {
    const r = await crema('run', ...lenet, '--input', `${digits}/digit-7.png`, '--raw-scale', '1', '--labels', 'models/lenet/labels.txt', '--top', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^prob \[1, 10\]\n {2}(0\.9\d{3}|1\.0000) - "7"\n$/);
  });
  it('names the file and what it reads when the extension is unknown', async () => {
    const r = await crema('run', ...lenet, '--input', 'models/lenet/labels.txt');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe("crema: models/lenet/labels.txt: crema reads inputs from .npy files and images (.jpg, .jpeg, .png, .webp), got '.txt'");
  });
});

describe('progress off a terminal', () => {
  it('writes a plain line at each tenth of the way, and messages as they come', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const p = startProgress('classify', 25, { unit: 'images', stream });
    for (let i = 0; i < 25; i += 4) p.tick(Math.min(4, 25 - i));
    p.warn('crema: skipped x.png: no such file');
    p.stop();
    expect(written.join('')).toBe(
      ['4/25', '8/25', '12/25', '16/25', '20/25', '24/25', '25/25'].map((n) => `classify: ${n} images\n`).join('') + 'crema: skipped x.png: no such file\n',
    );
  });
});
