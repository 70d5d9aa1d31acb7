// sfzhang15/FaceBoxes' PriorBox (the 'faceboxes' dialect: min_size 32 densified into 16 boxes a cell and 64 into 4,
// other square boxes min_size - 1 wide) against the fork's own Caffe (test/fixtures/faceboxes, made by
// make-fixtures.sh with the fork ../fork-chroot.sh faceboxes builds), natively and as ONNX's constant; the whole
// FaceBoxes net is in test/fork-nets.test.ts. And what the fork would get wrong, refused in one line.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { expectForkBlobs, forkHead } from './helpers/fork-head.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-6;
const head = forkHead('faceboxes'), { fork } = head;
const zeros = (net: Net) => Object.fromEntries(net.inputs.map((name) => [name, Tensor.zeros(net.shapes.get(name)!)]));

describe("FaceBoxes' PriorBox vs the fork (test/fixtures/faceboxes/head: 4 settings on two maps)", () => {
  it('every prior and variance natively, and in the ONNX constant', async () => {
    const net = await Net.load(head.net, undefined, { dialect: 'faceboxes', threads: 1 });
    net.forward(zeros(net));
    expectForkBlobs(net, head, TOLERANCE);
    const onnx = await runOnnx(net.graph, zeros(net), { outputs: head.blobs, threads: 1 });
    for (const blob of head.blobs) expect(relativeError(onnx.get(blob)!, fork(blob)), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('the fixture is not the SSD fork\'s priors: the dialect changes the count and the boxes', async () => {
    const bvlc = await Net.load(head.net, undefined, { threads: 1 });
    expect(bvlc.shapes.get('pb_inception')).toEqual([1, 2, 80 * 3 * 4]);
    expect(fork('pb_inception').dims).toEqual([1, 2, 80 * 21 * 4]);
    bvlc.forward(zeros(bvlc));
    // the same count of one box (and a max_size box) a cell, but min_size - 1 wide
    expect(relativeError(bvlc.blobs.get('pb_other')!, fork('pb_other'))).toBeGreaterThan(1e-3);
  });
});

describe("FaceBoxes' PriorBox refuses what the fork writes past its top, in one line", () => {
  const net = (p: string) => () => Net.fromNetParameter(parsePrototxt(`
    layer { name: "in" type: "Input" top: "fmap" top: "data" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } shape { dim: 1 dim: 3 dim: 64 dim: 64 } } }
    layer { name: "pb" type: "PriorBox" bottom: "fmap" bottom: "data" top: "pb" prior_box_param { ${p} } }`, 'pb.prototxt') as NetParameter, undefined, [], { dialect: 'faceboxes' });
  it.each([
    ['min_size 64 alone', 'min_size: 64', "layer 'pb' (PriorBox): in FaceBoxes' Caffe, min_size 64 write 4 boxes a cell into room for 1 (it densifies 32 into 16 and 64 into 4, and makes room for 21 when there are three min_size): the fork's output would be wrong"],
    ['32 and 64', 'min_size: 32 min_size: 64', "layer 'pb' (PriorBox): in FaceBoxes' Caffe, min_size 32, 64 write 20 boxes a cell into room for 2 (it densifies 32 into 16 and 64 into 4, and makes room for 21 when there are three min_size): the fork's output would be wrong"],
    ['the three with an aspect ratio', 'min_size: 32 min_size: 64 min_size: 128 aspect_ratio: 2', "layer 'pb' (PriorBox): in FaceBoxes' Caffe, min_size 32, 64, 128 write 27 boxes a cell into room for 21 (it densifies 32 into 16 and 64 into 4, and makes room for 21 when there are three min_size): the fork's output would be wrong"],
  ])('%s', (_, p, message) => expect(net(p)).toThrow(message));
  it('three min_size that it does not densify leave 18 of the 21 unwritten: refused too', () =>
    expect(net('min_size: 16 min_size: 100 min_size: 200')).toThrow("min_size 16, 100, 200 write 3 boxes a cell into room for 21"));
});

describe('a FaceBoxes net loaded as BVLC', () => {
  it("fails at DetectionOutput's prior count, naming the densified PriorBox and the dialect", async () => {
    const deploy = path.join(import.meta.dirname, 'fixtures/forknets/faceboxes/source.prototxt');
    await expect(Net.load(deploy)).rejects.toThrow(
      "layer 'detection_out' (DetectionOutput): location predictions [1, 25600] have 25600 values per image, but 1000 priors need 4000; layer 'inception_a3_concat_mbox_priorbox' (PriorBox) gives 900 priors in BVLC's SSD but 6300 in FaceBoxes' Caffe, which densifies its min_size 32 and 64: for a FaceBoxes net, load it with options.dialect 'faceboxes'");
    expect((await Net.load(deploy, undefined, { dialect: 'faceboxes' })).shapes.get('mbox_priorbox')).toEqual([1, 2, 25600]);
  });
});
