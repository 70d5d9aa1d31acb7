// OpenPose's pose pipeline against OpenPose's own C++ (test/fixtures/openpose, referee/make.sh): its CPU code of
// version 1.7 built in a chroot with OpenCV 4.5.1 (ScaleAndSizeExtractor, CvMatToOpInput, resizeAndMergeCpu, nmsCpu,
// connectBodyPartsCpu, in PoseExtractorCaffe::forwardPass's order and with its default flags), fed (a) images, whose
// warped net input it writes, and (b) designed net outputs (BODY_25, COCO, MPI, BODY_25B, BODY_135: people drawn as
// heatmap peaks and part affinity fields, overlapping, with parts missing, spurious peaks, none), whose peaks and
// people it writes (BODY_25B and BODY_135, which OpenPose runs only with CUDA: its CUDA connector's steps).
// Checked: the net input's size, scale and every byte; each case's peaks and people, in the same order, every
// keypoint and score the same float32 (the referee prints 9 digits: each float exactly). And a whole net (c): the
// COCO net on a photo, its forward by real Caffe 1.0, then OpenPose's code: crema's people from Caffe's output bit
// for bit, and from its own forward (native, ONNX Runtime) within the forward's last bits.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { detectPoses } from '../src/detect/node.js';
import { checkFaceModel, connect, netInput, netInputSizes, nms, posesFromMaps, posesInImage, resizeMaps, scaleNetToOutput } from '../src/detect/openpose.js';
import { makeImage } from '../src/image/image.js';
import { Net } from '../src/runtime/net.js';
import { cli, spawnCli } from './helpers/cli.js';
import { writeTinyPose } from './helpers/tinypose.js';
import { toJson } from '../src/cli/json.js';
import { POSE_MODELS, type PoseModelName, personLine, poseModel, skeleton } from '../src/detect/pose-models.js';
import { loadImage } from '../src/image/load.js';
import { readNpy } from '../src/util/npy.js';
import { ostreamFloat } from '../src/util/cfloat.js';

const fixture = path.join(import.meta.dirname, 'fixtures/openpose');

interface InputCase {
  name: string;
  image: string;
  netResolution: [number, number];
  netInputSize: [number, number];
  scaleInputToNetInput: number;
  expected: string;
}
interface PoseCase {
  name: string;
  model: PoseModelName;
  netIn: [number, number];
  image: [number, number];
  netout: string;
  expected: { keypoints: number[][][]; scores: number[]; peaks: number[][][]; scaleNetToOutput: number; nmsOffset: number; heatMapSize: [number, number] };
}
const inputs = (JSON.parse(fs.readFileSync(path.join(fixture, 'input.json'), 'utf8')) as { cases: InputCase[] }).cases;
const poses = (JSON.parse(fs.readFileSync(path.join(fixture, 'pose.json'), 'utf8')) as { cases: PoseCase[] }).cases;

describe("OpenPose's net input (ScaleAndSizeExtractor, CvMatToOpInput)", () => {
  it.each(inputs.map((c) => [c.name, c] as const))('%s: size, scale and every byte', async (_, c) => {
    const image = await loadImage(path.join(fixture, c.image), true);
    const [{ width: w, height: h, scale }] = netInputSizes(image.width, image.height, c.netResolution);
    expect([w, h]).toEqual(c.netInputSize);
    expect(scale).toBe(c.scaleInputToNetInput);
    const got = netInput(image, scale, w, h);
    expect(got.dims).toEqual([1, 3, h, w]);
    // OpenPose's warped image (written as cv::imwrite writes a BGR image: an RGB PNG), as x / 256 - 0.5 planes, B G R
    const want = await loadImage(path.join(fixture, c.expected), true);
    expect([want.width, want.height]).toEqual([w, h]);
    let differ = 0;
    for (let i = 0; i < w * h; i++)
      for (let k = 0; k < 3; k++) if (got.data[k * w * h + i] !== Math.round(255 * want.data[i * 3 + 2 - k]) / 256 - 0.5) differ++;
    expect(differ).toBe(0);
  });
});

describe("each model's tables: OpenPose's (opref params: poseParameters.cpp, poseParametersRender.cpp)", () => {
  interface Params {
    numberBodyParts: number;
    addBkgChannel: boolean;
    partPairs: number[];
    mapIndex: number[];
    parts: string[];
    renderPairs: number[];
    colors: number[];
    scales: number[];
    nmsThreshold: number;
    connectInterThreshold: number;
  }
  const { params } = JSON.parse(fs.readFileSync(path.join(fixture, 'pose.json'), 'utf8')) as { params: Record<string, Params> };
  it.each(Object.entries(params))('%s: parts, pairs, PAF channels, background, thresholds, render pairs, colours, scales', (name, p) => {
    const m = poseModel(name as PoseModelName);
    expect([m.parts.length, m.parts, m.pairs, m.mapIdx, m.background]).toEqual([p.numberBodyParts, p.parts, p.partPairs, p.mapIndex, p.addBkgChannel]);
    expect([Math.fround(m.nmsThreshold), Math.fround(m.interThreshold)]).toEqual([Math.fround(p.nmsThreshold), Math.fround(p.connectInterThreshold)]);
    expect([m.renderPairs, m.colors, (m.scales ?? [1]).map(Math.fround)]).toEqual([p.renderPairs, p.colors, p.scales.map(Math.fround)]);
  });
  it('the models whose net OpenPose runs only with CUDA join parts with its CUDA connector', () => {
    expect(Object.keys(params)).toEqual(['COCO', 'BODY_25', 'MPI', 'BODY_25B', 'BODY_135']);
    expect(POSE_MODELS.filter((m) => poseModel(m).connector === 'cuda')).toEqual(['BODY_25B', 'BODY_135']);
  });
});

describe("OpenPose's peaks and people (resizeAndMergeCpu, nmsCpu, connectBodyPartsCpu; BODY_25B and BODY_135: connectBodyPartsGpu's connector)", () => {
  it('resizeAndMergeCpu alone: 5 x 4 maps to 40 x 32, bit for bit', () => {
    const input = readNpy(path.join(fixture, 'cases/resize_in.npy')), want = readNpy(path.join(fixture, 'cases/resize_out.npy'));
    const { maps, h, w } = resizeMaps([input]);
    expect([1, 3, h, w]).toEqual(want.dims);
    expect(notBitEqual([...maps], [...want.data])).toBe(0);
  });
  it.each(poses.map((c) => [`${c.model} ${c.name}`, c] as const))('%s', (_, c) => {
    const model = poseModel(c.model), out = readNpy(path.join(fixture, c.netout));
    const { maps, h, w } = resizeMaps([out]);
    expect([w, h]).toEqual(c.expected.heatMapSize);
    const scale = scaleNetToOutput(c.image[0], c.image[1], c.netIn[0], c.netIn[1]);
    expect(scale).toBe(Math.fround(c.expected.scaleNetToOutput));
    const peaks = nms(maps, model.parts.length, h, w, Math.fround(model.nmsThreshold), Math.fround(0.5 / scale));
    const stride = 3 * 128;
    const found = c.expected.peaks.map((_, part) => Array.from({ length: peaks[part * stride] }, (_, i) => Array.from(peaks.subarray(part * stride + 3 * (i + 1), part * stride + 3 * (i + 2)))));
    expect(found.map((p) => p.length)).toEqual(c.expected.peaks.map((p) => p.length));
    expect(notBitEqual(found.flat(2), c.expected.peaks.flat(2))).toBe(0);
    const people = connect(model, maps, peaks, h, w, scale);
    expect(people.map((p) => p.keypoints.filter((k) => k[2] > 0).length)).toEqual(c.expected.keypoints.map((p) => p.filter((k) => k[2] > 0).length));
    expect(notBitEqual(people.flatMap((p) => p.keypoints.flat()), c.expected.keypoints.flat(2))).toBe(0);
    expect(notBitEqual(people.map((p) => p.score), c.expected.scores)).toBe(0);
    // posesFromMaps: the heatmaps resized alone, each pair's PAFs when read: the same people
    const again = posesFromMaps(model, [out], c.image[0], c.image[1], c.netIn[0], c.netIn[1]);
    expect(notBitEqual(again.flatMap((p) => [p.score, ...p.keypoints.flat()]), people.flatMap((p) => [p.score, ...p.keypoints.flat()]))).toBe(0);
  });
});

/** How many of the float32 values differ from the referee's (printed to 9 digits: each float exactly). */
function notBitEqual(a: number[], b: number[]): number {
  expect(a).toHaveLength(b.length);
  return a.filter((v, i) => v !== Math.fround(b[i])).length;
}

describe("a whole net: OpenPose's COCO deploy net on a photo, at one scale and three (referee/wholenet.sh)", () => {
  // The corpus's copy of the net with synthetic weights (the corpus's hashweights, an unused layer last in its spec so
  // that the heatmaps' layer is not scaled down as a classifier's): people of random maps, hundreds of peaks.
  interface WholeCase {
    name: string;
    image: string;
    netResolution: [number, number];
    scaleNumber: number;
    scaleGap: number;
    scales: [number, number, number][];
    netouts: string[];
    expected: PoseCase['expected'];
  }
  const wholes = JSON.parse(fs.readFileSync(path.join(fixture, 'wholenet.json'), 'utf8')) as WholeCase[];
  const corpus = path.join(import.meta.dirname, 'fixtures/corpus');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-wholepose-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const weightsFile = path.join(tmp, 'coco.caffemodel');
  let net: Net | undefined;
  const cocoNet = async () => {
    if (net) return net;
    const spec = JSON.parse(fs.readFileSync(path.join(corpus, 'openpose_coco/spec.json'), 'utf8')) as { layers: unknown[] };
    spec.layers.push({ name: 'unused', type: 'Convolution', blobs: [[1, 1, 1, 1]] });
    const specFile = path.join(tmp, 'spec.json');
    fs.writeFileSync(specFile, JSON.stringify(spec));
    execFileSync('node', [path.join(corpus, 'hashweights.mjs'), 'model', specFile, weightsFile, '--salt', 'corpus']);
    return (net = await Net.load(path.join(corpus, 'openpose_coco/net.prototxt'), weightsFile, { threads: 2 }));
  };
  afterAll(() => net?.dispose());

  it.each(wholes.map((c) => [c.name, c] as const))("%s: each scale's net input, and from real Caffe's net outputs OpenPose's people, bit for bit", async (_, c) => {
    const image = await loadImage(path.join(fixture, c.image), true);
    expect(netInputSizes(image.width, image.height, c.netResolution, c.scaleNumber, c.scaleGap).map((s) => [s.width, s.height, s.scale])).toEqual(c.scales);
    const outs = c.netouts.map((f) => readNpy(path.join(fixture, f)));
    const people = posesFromMaps(poseModel('COCO'), outs, image.width, image.height, c.scales[0][0], c.scales[0][1]);
    expect(people.length).toBeGreaterThan(5);
    expect(notBitEqual(people.flatMap((p) => p.keypoints.flat()), c.expected.keypoints.flat(2))).toBe(0);
    expect(notBitEqual(people.map((p) => p.score), c.expected.scores)).toBe(0);
  });

  it.each(wholes.flatMap((c) => (['native', 'onnx'] as const).map((b) => [c.name, b, c] as const)))(
    '%s, detectPoses %s: the same people and parts, keypoints within 1e-3 pixels (the forward\'s last bits)',
    async (_, backend, c) => {
      const people = await detectPoses(await cocoNet(), path.join(fixture, c.image), { netResolution: c.netResolution, scaleNumber: c.scaleNumber, scaleGap: c.scaleGap, backend });
      expect(people.map((p) => p.keypoints.map((k) => k[2] > 0))).toEqual(c.expected.keypoints.map((p) => p.map((k) => k[2] > 0)));
      const diff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      expect(diff(people.flatMap((p) => p.keypoints.flat()), c.expected.keypoints.flat(2))).toBeLessThanOrEqual(1e-3);
      expect(diff(people.map((p) => p.score), c.expected.scores)).toBeLessThanOrEqual(1e-5);
    },
    60_000,
  );
});

describe("--write-json's numbers: as OpenPose's std::ofstream writes a float", () => {
  it('every case of referee/ostream.cpp (g++ 10, glibc) written alike', () => {
    const { cases } = JSON.parse(fs.readFileSync(path.join(fixture, 'ostream-floats.json'), 'utf8')) as { cases: [number, string][] };
    const float = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0];
    expect(cases.map(([bits]) => ostreamFloat(float(bits)))).toEqual(cases.map(([, text]) => text));
  });
});

describe("-o's skeletons: what OpenPose's renderer draws (referee/render.cpp)", () => {
  it('every line and ring of renderPoseKeypointsCpu, with its place, colour and each person\'s sizes', () => {
    type Drawn = ['line', number, number, number, number, string, number] | ['circle', number, number, string, number, number];
    const { cases } = JSON.parse(fs.readFileSync(path.join(fixture, 'render.json'), 'utf8')) as {
      cases: { model: PoseModelName; width: number; height: number; people: [number, number, number][][]; drawn: Drawn[] }[];
    };
    expect(cases).toHaveLength(20);
    for (const c of cases) {
      const people = c.people.map((keypoints) => ({ keypoints, score: 1 }));
      const { lines, dots } = skeleton(poseModel(c.model), people, c.width, c.height);
      // OpenPose draws a person's lines, then its rings: split its calls the same way, in order
      expect(lines, `${c.model} ${c.width} x ${c.height}`).toEqual(c.drawn.filter((d) => d[0] === 'line').map((d) => d.slice(1)));
      expect(dots, `${c.model} ${c.width} x ${c.height}`).toEqual(c.drawn.filter((d) => d[0] === 'circle').map((d) => d.slice(1)));
    }
  });
});

describe('posesInImage, detectPoses and crema pose', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-pose-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const photo = path.join(import.meta.dirname, 'fixtures/mtcnn/test1.jpg');
  const { prototxt, weights } = writeTinyPose(tmp);

  it('runs the net on the net input OpenPose makes, and finds in its output what posesFromMaps finds', async () => {
    const c = poses.find((p) => p.name === 'coco_two')!;
    const net = await Net.load(prototxt, weights, { threads: 1 });
    const image = makeImage(c.image[1], c.image[0], 3);
    const designed = readNpy(path.join(fixture, c.netout));
    let fed: readonly number[] = [];
    const people = await posesInImage(net, image, { netResolution: c.netIn }, async (_, input) => ((fed = input.dims), [designed]));
    expect(fed).toEqual([1, 3, c.netIn[1], c.netIn[0]]);
    expect(notBitEqual(people.flatMap((p) => p.keypoints.flat()), c.expected.keypoints.flat(2))).toBe(0);
    net.dispose();
  });

  it('crema pose --json gives what detectPoses gives; --backend onnx the same people; -o draws them', async () => {
    const net = await Net.load(prototxt, weights, { threads: 1 });
    const expected = await detectPoses(net, photo, { netResolution: [128, -1] });
    expect(expected.length).toBeGreaterThan(0);
    const onnx = await detectPoses(net, photo, { netResolution: [128, -1], backend: 'onnx' });
    expect(onnx.map((p) => p.keypoints.map((k) => k[2] > 0))).toEqual(expected.map((p) => p.keypoints.map((k) => k[2] > 0)));
    expect(Math.max(...onnx.flatMap((p, i) => p.keypoints.flatMap((k, j) => k.map((v, d) => Math.abs(v - expected[i].keypoints[j][d])))))).toBeLessThanOrEqual(1e-3);
    net.dispose();
    const out = path.join(tmp, 'drawn');
    const jsonDir = path.join(tmp, 'keypoints');
    const r = await cli('pose', prototxt, weights, photo, '--net-resolution', '128x-1', '--json', '-o', out, '--write-json', jsonDir);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { images: { model: string; parts: string[]; people: unknown }[] };
    expect(json.images[0].model).toBe('COCO');
    expect(json.images[0].parts).toEqual(poseModel('COCO').parts);
    expect(json.images[0].people).toEqual(JSON.parse(toJson(expected))); // --json's numbers: 6 digits, as OpenPose's JSON
    // OpenPose's --write_json file: its keys and order, a person's keypoints flat, 6 digits
    const written = fs.readFileSync(path.join(jsonDir, 'test1_keypoints.json'), 'utf8');
    const empty = '"face_keypoints_2d":[],"hand_left_keypoints_2d":[],"hand_right_keypoints_2d":[],"pose_keypoints_3d":[],"face_keypoints_3d":[],"hand_left_keypoints_3d":[],"hand_right_keypoints_3d":[]';
    expect(written.startsWith(`{"version":1.3,"people":[{"person_id":[-1],"pose_keypoints_2d":[${expected[0].keypoints.flat().map(ostreamFloat).join(',')}],${empty}},{`)).toBe(true);
    expect((JSON.parse(written) as { people: unknown[] }).people).toHaveLength(expected.length);
    const drawn = await loadImage(path.join(out, 'test1.png'), true);
    expect([drawn.width, drawn.height]).toEqual([450, 344]);
    const text = await spawnCli(path.join(import.meta.dirname, '..'), 'pose', prototxt, weights, photo, '--net-resolution', '128x-1'); // the text goes to process.stdout
    expect(text.stdout.split('\n')[1]).toBe(personLine(poseModel('COCO').parts, expected[0], 0));
  });

  it.each([['BODY_25B', 97], ['BODY_135', 439]] as const)('a net of %s\'s %i channels is run as that model: --json names it and its parts', async (name, channels) => {
    const tiny = writeTinyPose(tmp, channels);
    const r = await cli('pose', tiny.prototxt, tiny.weights, photo, '--net-resolution', '128x-1', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { images: { model: string; parts: string[]; people: { keypoints: unknown[] }[] }[] };
    expect([json.images[0].model, json.images[0].parts]).toEqual([name, poseModel(name).parts]);
    const net = await Net.load(tiny.prototxt, tiny.weights, { threads: 1 });
    expect(json.images[0].people).toEqual(JSON.parse(toJson(await detectPoses(net, photo, { netResolution: [128, -1] }))));
    // told as the other models: a net of another model's channels is refused with what this one gives
    const [, , h, w] = net.blobs.get('net_output')!.dims;
    await expect(detectPoses(net, photo, { model: 'BODY_25' })).rejects.toThrow(`pose: the net's output 'net_output' is 1 x ${channels} x ${h} x ${w}; OpenPose's BODY_25 net gives 1 x 78 x H x W (26 heatmaps, 52 PAF channels)`);
    net.dispose();
  });

  it('refuses a net that is not OpenPose\'s, a bad --net-resolution and bad options in one line', async () => {
    const other = path.join(tmp, 'other.prototxt');
    fs.writeFileSync(other, 'name: "x" input: "image" input_dim: 1 input_dim: 3 input_dim: 16 input_dim: 16\nlayer { name: "p" type: "Pooling" bottom: "image" top: "p" pooling_param { pool: AVE kernel_size: 8 stride: 8 } }');
    const r = await cli('pose', other, weights, photo);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').at(-1)).toBe("crema: pose: the net's output 'p' has 3 channels; OpenPose's BODY_25 net gives 78, COCO's 57, MPI's 44, BODY_25B's 97, BODY_135's 439 (not an OpenPose body net?)");
    // a classifier's output (LeNet's prob, [1, 10]) is named by its shape, not as "-1 channels"
    fs.writeFileSync(other, 'name: "x" input: "image" input_dim: 1 input_dim: 3 input_dim: 16 input_dim: 16\nlayer { name: "p" type: "Pooling" bottom: "image" top: "p" pooling_param { pool: AVE global_pooling: true } }\nlayer { name: "f" type: "Flatten" bottom: "p" top: "f" }');
    const flat = await cli('pose', other, weights, photo);
    expect([flat.code, flat.stderr.split('\n').at(-1)]).toEqual([2, "crema: pose: the net's output 'f' is 1 x 3, not maps of N x C x H x W; OpenPose's BODY_25 net gives 78, COCO's 57, MPI's 44, BODY_25B's 97, BODY_135's 439 (not an OpenPose body net?)"]);
    // OpenPose's face detector needs a Neck (BODY_135's is the upper neck): refused before any net or image is read
    const faceless = "crema: pose: OpenPose's face detector places the face from the body's Neck, which BODY_135 does not have (OpenPose stops: \"String(s) could not be found.\"); its net finds the face itself";
    expect((await cli('pose', prototxt, weights, photo, '--model', 'BODY_135', '--face', 'no.prototxt', 'no.caffemodel')).stderr).toBe(faceless);
    expect(() => checkFaceModel(poseModel('BODY_25B'))).not.toThrow();
    const bad = await cli('pose', prototxt, weights, photo, '--net-resolution', '-1x-1');
    expect(bad.stderr).toBe("crema: --net-resolution: WIDTHxHEIGHT in pixels, one of them may be -1 (OpenPose's default: -1x368), got '-1x-1'");
    const net = await Net.load(prototxt, weights, { threads: 1 });
    await expect(detectPoses(net, photo, { netResolution: [0, 368] })).rejects.toThrow("detectPoses: options.netResolution is [width, height] in pixels, one of them may be -1 (OpenPose's default: [-1, 368]), got [0,368]");
    await expect(detectPoses(net, photo, { model: 'BODY_21' as never })).rejects.toThrow('detectPoses: options.model is one of BODY_25, COCO, MPI, MPI_4, BODY_25B, BODY_135, got "BODY_21"');
    await expect(detectPoses(net, photo, { model: 'BODY_25' })).rejects.toThrow("pose: the net's output 'net_output' is 1 x 57 x 2 x 2; OpenPose's BODY_25 net gives 1 x 78 x H x W (26 heatmaps, 52 PAF channels)");
    await expect(detectPoses(net, photo, { model: 'BODY_25B' })).rejects.toThrow("pose: the net's output 'net_output' is 1 x 57 x 2 x 2; OpenPose's BODY_25B net gives 1 x 97 x H x W (25 heatmaps, 72 PAF channels)");
    await expect(posesInImage(net, makeImage(1, 5, 3))).rejects.toThrow('pose: the image is 5 x 1; OpenPose scales from an image of at least 2 x 2 pixels');
    await expect(detectPoses(net, photo, { scaleNumber: 0 })).rejects.toThrow("detectPoses: options.scaleNumber is a whole number from 1 to 16 (OpenPose's --scale_number), got 0");
    await expect(detectPoses(net, photo, { scaleGap: 0 })).rejects.toThrow("detectPoses: options.scaleGap is a number in (0, 1] (OpenPose's --scale_gap), got 0");
    expect(() => netInputSizes(450, 344, [-1, 368], 3, 0.75)).toThrow("pose: scale 3 of 3 is 1 - 2 x 0.75 = -0.5; the scales must be in (0, 1] (a smaller --scale-gap or --scale-number)");
    expect(() => netInputSizes(450, 344, [-1, 368], 5, 0.25)).toThrow("pose: scale 5 of 5 is 1 - 4 x 0.25 = 0; the scales must be in (0, 1] (a smaller --scale-gap or --scale-number)"); // as checkPoseOptions says
    expect(() => netInputSizes(450, 344, [-1, 128], 4, 0.3)).toThrow("pose: scale 4 (0.1) makes the net input 16 x 1; OpenPose's nets take 16 x 16 or more (a smaller --scale-gap or a larger --net-resolution)");
    const cliGap = await cli('pose', prototxt, weights, photo, '--scale-number', '3', '--scale-gap', '2');
    expect(cliGap.stderr).toBe("crema: detectPoses: --scale-gap is a number in (0, 1] (OpenPose's --scale_gap), got 2");
    net.dispose();
  });

  it('an image too small for OpenPose is skipped naming it, the others run (was a fatal line naming no file); scales that reach 0 are refused before any image', async () => {
    const dot = path.join(tmp, 'dot.png'), thin = path.join(tmp, 'thin.png');
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toFile(dot);
    await sharp({ create: { width: 2, height: 400, channels: 3, background: '#808080' } }).png().toFile(thin); // -1x368: 0 wide
    const r = await spawnCli(path.join(import.meta.dirname, '..'), 'pose', prototxt, weights, dot, photo, thin, '--net-resolution', '-1x128', '--json'); // skips go to process.stderr
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `crema: skipped ${dot}: pose: the image is 1 x 1; OpenPose scales from an image of at least 2 x 2 pixels`,
      `crema: skipped ${thin}: pose: scale 1 (1) makes the net input 0 x 128; OpenPose's nets take 16 x 16 or more (a smaller --scale-gap or a larger --net-resolution)`,
    ]);
    const json = JSON.parse(r.stdout) as { images: { image: string }[]; skipped: { image: string; error: string }[] };
    expect(json.images.map((i) => i.image)).toEqual([photo]);
    expect(json.skipped.map((i) => i.image)).toEqual([dot, thin]);
    const none = await cli('pose', prototxt, weights, dot);
    expect([none.code, none.stderr.split('\n').at(-1)]).toEqual([2, 'crema: no image could be used (1 skipped)']);
    // 1 - 2 x 0.6 < 0 and 1 - 4 x 0.25 = 0 do not depend on the image: one line, no net loaded, nothing skipped
    const gap = await cli('pose', 'no.prototxt', 'no.caffemodel', photo, '--scale-number', '3', '--scale-gap', '0.6');
    expect([gap.code, gap.stderr]).toEqual([2, "crema: detectPoses: --scale-number 3 and --scale-gap 0.6 make the last scale 1 - 2 x 0.6 = -0.2; the scales must be in (0, 1] (a smaller --scale-gap or --scale-number)"]);
    // the last scale 0.1 makes -1x128's fixed side 1 pixel whatever the image: one line, not every image skipped
    const small = await cli('pose', 'no.prototxt', 'no.caffemodel', photo, '--net-resolution', '-1x128', '--scale-number', '4', '--scale-gap', '0.3', '--json');
    expect([small.code, small.stdout, small.stderr]).toEqual([2, '', "crema: detectPoses: --scale-number 4 and --scale-gap 0.3 make the last scale 1 - 3 x 0.3 = 0.1, at which --net-resolution's side 128 becomes 1; OpenPose's nets take 16 x 16 or more (a smaller --scale-gap or --scale-number, or a larger --net-resolution)"]);
    const net = await Net.load(prototxt, weights, { threads: 1 });
    await expect(detectPoses(net, photo, { netResolution: [320, 64], scaleNumber: 3, scaleGap: 0.4 })).rejects.toThrow("detectPoses: options.scaleNumber 3 and options.scaleGap 0.4 make the last scale 1 - 2 x 0.4 = 0.2, at which options.netResolution's side 64 becomes 1; OpenPose's nets take 16 x 16 or more (a smaller options.scaleGap or options.scaleNumber, or a larger options.netResolution)");
    await expect(detectPoses(net, photo, { scaleNumber: 5 })).rejects.toThrow("detectPoses: options.scaleNumber 5 and options.scaleGap 0.25 make the last scale 1 - 4 x 0.25 = 0; the scales must be in (0, 1] (a smaller options.scaleGap or options.scaleNumber)");
    net.dispose();
  });
});
