// MTCNN's face detection against its authors' MATLAB demo (test/fixtures/mtcnn, referee/make.sh): their
// detect_face.m and helpers run unchanged by GNU Octave, the forwards by real Caffe 1.0 in matcaffe's layout, the
// resizes by Piotr Dollár's imResampleMex.cpp, on MTCNNv1's trained nets and the demo's test images. Checked:
// imResample bit for bit; each case's faces (count, order, boxes and landmarks within 1e-3 pixels, scores within
// 1e-5: what is left is the forwards' last bits); the same through ONNX Runtime; the CLI; the refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFaces, facesInImage, loadImage, loadMtcnn, type Face, type MtcnnNets } from '../src/index.js';
import { imResample } from '../src/image/imresample.js';
import { cli, spawnCli } from './helpers/cli.js';
import { CremaError } from '../src/util/errors.js';

const fixture = path.join(import.meta.dirname, 'fixtures/mtcnn');
const model = path.join(fixture, 'model');
const root = path.join(import.meta.dirname, '..');

interface Case {
  name: string;
  image: string;
  what: string;
  /** MTCNNv1's detect_face.m, or MTCNNv2's (LNet, det4, after the three). */
  version: 1 | 2;
  minSize: number;
  thresholds: [number, number, number];
  factor: number;
  /** The demo's total_boxes rows: x1, y1, x2, y2 (MATLAB's pixels, from 1), score. */
  boxes: number[][];
  /** The demo's points, a column a face: x of the five landmarks, then y. */
  points: number[][];
}
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'faces.json'), 'utf8')) as Case[];

/** crema's faces against the demo's: the same faces in the same order, boxes less 1 (crema counts pixels from 0). */
function expectDemo(faces: Face[], c: Case): void {
  expect(faces.map((f) => f.score), c.name).toHaveLength(c.boxes.length);
  faces.forEach((f, i) => {
    const [x1, y1, x2, y2, score] = c.boxes[i], p = c.points[i];
    expect(Math.abs(f.score - score), `${c.name} face ${i}: score`).toBeLessThanOrEqual(1e-5);
    const corners = [f.xmin - (x1 - 1), f.ymin - (y1 - 1), f.xmax - (x2 - 1), f.ymax - (y2 - 1)];
    expect(Math.max(...corners.map(Math.abs)), `${c.name} face ${i}: box`).toBeLessThanOrEqual(1e-3);
    const marks = f.landmarks.flatMap(([x, y], j) => [x - p[j], y - p[5 + j]]);
    expect(Math.max(...marks.map(Math.abs)), `${c.name} face ${i}: landmarks`).toBeLessThanOrEqual(1e-3);
  });
}

describe("Piotr Dollár's imResample, as MTCNN's demo resizes", () => {
  const resamples = JSON.parse(fs.readFileSync(path.join(fixture, 'imresample.json'), 'utf8')) as { single: number; ha: number; wa: number; hb: number; wb: number; A: number[]; B: number[] }[];
  it.each(resamples.map((r) => [`${r.single ? 'single' : 'double'} ${r.ha} x ${r.wa} -> ${r.hb} x ${r.wb}`, r] as const))('%s: its mex\'s values, bit for bit', (_, r) => {
    const A = r.single ? Float32Array.from(r.A) : Float64Array.from(r.A);
    const B = imResample(A, r.ha, r.wa, 2, r.hb, r.wb);
    expect(B).toBeInstanceOf(A.constructor);
    expect([...B]).toEqual([...(r.single ? Float32Array.from(r.B) : r.B)]);
  });

  it('the same size is the array itself, as imResample returns it', () => {
    const A = Float32Array.of(1, 2, 3, 4);
    expect(imResample(A, 2, 2, 1, 2, 2)).toBe(A);
  });
});

describe("MTCNN's faces, as its MATLAB demo finds them", () => {
  let v2: MtcnnNets, v1: MtcnnNets;
  beforeAll(async () => {
    v2 = await loadMtcnn(model, { threads: 1 }); // the fixture's model/ has det4: MTCNNv2
    v1 = { pnet: v2.pnet, rnet: v2.rnet, onet: v2.onet };
  });
  afterAll(() => {
    for (const n of Object.values(v2 ?? {})) n.dispose();
  });

  it('loads det4 as LNet where it is there', () => {
    expect(Object.keys(v2).sort()).toEqual(['lnet', 'onet', 'pnet', 'rnet']);
  });

  it.each(cases.map((c) => [`${c.name}: ${c.what}`, c] as const))('%s', async (_, c) => {
    const faces = await detectFaces(c.version === 2 ? v2 : v1, path.join(fixture, c.image), { minSize: c.minSize, thresholds: c.thresholds, factor: c.factor });
    expectDemo(faces, c);
  });

  it('the demo\'s settings are the defaults; a decoded image gives the same (facesInImage)', async () => {
    const c = cases.find((x) => x.name === 'test1')!;
    expectDemo(await facesInImage(v1, await loadImage(path.join(fixture, c.image), true)), c);
  });

  it('refuses options it cannot use, in one line', async () => {
    const image = path.join(fixture, 'tiny.png'), nets = v1;
    await expect(detectFaces(nets, image, { minSize: 5 })).rejects.toThrow("minSize: the smallest face looked for, from 12 pixels (P-Net's window) up (the demo's minsize: 20), got 5");
    await expect(detectFaces(nets, image, { factor: 1 })).rejects.toThrow("factor: the pyramid's scale step, above 0.1 and below 0.95 (the demo's: 0.709), got 1");
    await expect(detectFaces(nets, image, { thresholds: [0.6, 0.7] as unknown as [number, number, number] })).rejects.toThrow("thresholds: three scores from 0 to 1, one a stage (the demo's: 0.6, 0.7, 0.7), got [0.6,0.7]");
    await expect(detectFaces(nets, image, { backend: 'gpu' as 'onnx' })).rejects.toThrow(`detectFaces: options.backend is 'native' or 'onnx', got "gpu"`);
    await expect(detectFaces(nets, image, { minsize: 20 } as object)).rejects.toThrow(/minsize/);
  });

  it("refuses a pyramid whose first P-Net would take more than 1 GB, naming the minSize that fits, before any forward", async () => {
    const sharp = (await import('sharp')).default;
    const big = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: { r: 120, g: 130, b: 140 } } }).png().toBuffer();
    await expect(detectFaces(v1, big, { minSize: 12 })).rejects.toThrow("P-Net at the pyramid's first scale (5000 x 4000 for minSize 12) would take 2246 MB (crema's limit: 1024 MB): give a larger minSize (18 fits)");
  });

  it('refuses nets that are not MTCNN\'s by their outputs', async () => {
    const wrong = { ...v1, rnet: v1.onet };
    await expect(detectFaces(wrong, path.join(fixture, 'test1.jpg'))).rejects.toThrow("net 'ONet' has 3 outputs (conv6-2, conv6-3, prob1); MTCNN's P-Net and R-Net have 2");
  });
});

describe('loadMtcnn', () => {
  it("takes the directory as a file: URL, as Net.load takes files (was Node's ERR_INVALID_ARG_TYPE); refuses other values in one line", async () => {
    const nets = await loadMtcnn(pathToFileURL(model), { threads: 1 });
    expect(Object.keys(nets).sort()).toEqual(['lnet', 'onet', 'pnet', 'rnet']);
    for (const n of Object.values(nets)) n.dispose();
    const dirLine = "loadMtcnn: the model directory (det1, det2, det3 .prototxt and .caffemodel; MTCNNv2's det4 too) is a path or a file: URL, got ";
    await expect(loadMtcnn('https://example.com/mtcnn/')).rejects.toThrow(new CremaError(`${dirLine}'https://example.com/mtcnn/'`)); // no advice to give bytes
    await expect(loadMtcnn(new URL('http://example.com/m/'))).rejects.toThrow(new CremaError(`${dirLine}'http://example.com/m/'`));
    await expect(loadMtcnn('')).rejects.toThrow(new CremaError(`${dirLine}an empty string`));
    await expect(loadMtcnn(new URL('file:///no/such/mtcnn'))).rejects.toThrow("/no/such/mtcnn: no such directory (MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4))");
    await expect(loadMtcnn(42 as never)).rejects.toThrow(new CremaError(`${dirLine}a number`));
  });
});

describe('MTCNN through ONNX Runtime', () => {
  it("each net converted (P-Net again for each scale): the demo's faces", async () => {
    const nets = await loadMtcnn(model, { threads: 1 });
    try {
      for (const name of ['test1', 'border', 'v2-border']) {
        const c = cases.find((x) => x.name === name)!;
        const used = c.version === 2 ? nets : { pnet: nets.pnet, rnet: nets.rnet, onet: nets.onet };
        expectDemo(await detectFaces(used, path.join(fixture, c.image), { backend: 'onnx', minSize: c.minSize, thresholds: c.thresholds, factor: c.factor }), c);
      }
    } finally {
      for (const n of Object.values(nets)) n.dispose();
    }
  });
});

describe('crema faces', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-faces-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  // MTCNNv1's directory: the fixture's without det4
  const v1 = path.join(tmp, 'v1');
  fs.mkdirSync(v1);
  for (const n of ['det1', 'det2', 'det3']) for (const e of ['prototxt', 'caffemodel']) fs.copyFileSync(path.join(model, `${n}.${e}`), path.join(v1, `${n}.${e}`));

  it('prints each image\'s faces and landmarks, as JSON the demo\'s numbers, and draws them', async () => {
    const c = cases.find((x) => x.name === 'test1')!;
    const text = await spawnCli(root, 'faces', v1, path.join(fixture, 'test1.jpg')); // the text goes to process.stdout
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe(`---------- Faces in ${path.join(fixture, 'test1.jpg')} (450 x 344) ----------`);
    expect(text.stdout.split('\n')[1]).toMatch(/^1\.0000 at \[89, 17, 151, 101\]; left eye \(113, 48\), right eye \(140, 52\), nose \(128, 65\), left mouth \(109, 77\), right mouth \(137, 81\)$/);
    const out = path.join(tmp, 'drawn');
    const json = await cli('faces', v1, path.join(fixture, 'test1.jpg'), path.join(fixture, 'nothing.txt'), '--json', '-o', out);
    expect(json.code).toBe(1); // an image skipped
    const parsed = JSON.parse(json.stdout) as { images: { image: string; width: number; height: number; faces: Face[] }[]; skipped: { image: string; error: string }[] };
    expect(parsed.skipped).toEqual([{ image: path.join(fixture, 'nothing.txt'), error: 'no such file' }]);
    expect(parsed.images.map((i) => [i.width, i.height])).toEqual([[450, 344]]);
    expectDemo(parsed.images[0].faces, c);
    expect(fs.readdirSync(out)).toEqual(['test1.png']);
    expect([...fs.readFileSync(path.join(out, 'test1.png')).subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
  });

  it('with --backend onnx and the demo\'s options as flags', async () => {
    const c = cases.find((x) => x.name === 'test2-options')!;
    const json = await cli('faces', v1, path.join(fixture, c.image), '--min-size', '40', '--thresholds', '0.5,0.6,0.6', '--factor', '0.8', '--backend', 'onnx', '--json');
    expect(json.code).toBe(0);
    expectDemo((JSON.parse(json.stdout) as { images: { faces: Face[] }[] }).images[0].faces, c);
  });

  it('takes a directory with det4 as MTCNNv2, LNet moving the landmarks', async () => {
    const json = await cli('faces', model, path.join(fixture, 'test1.jpg'), '--json');
    expect(json.code).toBe(0);
    expectDemo((JSON.parse(json.stdout) as { images: { faces: Face[] }[] }).images[0].faces, cases.find((x) => x.name === 'v2-test1')!);
  });

  it('names what is missing or wrong in one line', async () => {
    const partial = path.join(tmp, 'partial');
    fs.mkdirSync(partial);
    for (const f of ['det1.prototxt', 'det1.caffemodel', 'det2.prototxt', 'det4.prototxt']) fs.copyFileSync(path.join(model, f), path.join(partial, f));
    const image = path.join(fixture, 'tiny.png');
    const missing = await cli('faces', partial, image);
    expect([missing.code, missing.stderr]).toEqual([2, `crema: ${partial}: no det2.caffemodel, det3.prototxt, det3.caffemodel, det4.caffemodel in it (MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4), as its demo's model/)`]);
    const file = await cli('faces', image, image);
    expect([file.code, file.stderr]).toEqual([2, `crema: ${image}: not a directory (MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4))`]);
    const none = await cli('faces', path.join(tmp, 'nowhere'), image); // was 'not a directory' too
    expect([none.code, none.stderr]).toEqual([2, `crema: ${path.join(tmp, 'nowhere')}: no such directory (MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4))`]);
    const thresholds = await cli('faces', model, image, '--thresholds', '0.6,0.7');
    expect([thresholds.code, thresholds.stderr]).toEqual([2, "crema: --thresholds: three numbers, P-Net's, R-Net's and O-Net's (the demo's: 0.6,0.7,0.7), got '0.6,0.7'"]);
  });
});
