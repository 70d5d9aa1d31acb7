// The hed dialect: FCN's Caffe of 2015 (longjon/caffe's, kept in HED's s9xie/hed and CRF-RNN's torrvision/caffe),
// whose Crop has no settings and aligns its bottoms by the layers' coordinate maps (RCF's AutoCrop later), where
// BVLC's Crop cuts at offset 0. HED's deploy net in it: test/corpus.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('the hed dialect (FCN\'s Caffe of 2015: Crop by coordinate maps)', () => {
  it('is the only reading of a V1 CROP, and matches that Caffe (torrvision/caffe: fixtures/fcn2015-crop)', async () => {
    const dir = path.join(fixtures, 'fcn2015-crop');
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads: 1 });
    expect(net.notes).toContain("Crop 'crop_conv', 'crop': V1 type CROP: FCN's Caffe of 2015 (HED's, CRF-RNN's), which aligns its bottoms by the layers' coordinate maps: loaded in the hed dialect");
    expect(net.graph.dialect).toBe('hed');
    const data = readNpy(path.join(dir, 'input.npy'));
    const out = net.forward({ data });
    for (const b of ['up_c', 'out']) expect(relativeError(net.blobs.get(b)!, readNpy(path.join(dir, 'blobs', `${b}.npy`))), `native ${b}`).toBeLessThanOrEqual(TOLERANCE);
    expect([...out.out.dims]).toEqual([1, 3, 10, 12]);
    const onnx = await runOnnx(net.graph, { data }, { outputs: ['up_c', 'out'] });
    for (const b of ['up_c', 'out']) expect(relativeError(onnx.get(b)!, readNpy(path.join(dir, 'blobs', `${b}.npy`))), `onnx ${b}`).toBeLessThanOrEqual(TOLERANCE);
    net.dispose();
  });

  it("is CRF-RNN's deploy net's (MultiStageMeanfield: torrvision/caffe has only that Crop), whose crops are FCN-8s's published offsets", async () => {
    const text = fs.readFileSync(path.join(fixtures, 'crfasrnn', 'TVG_CRFRNN_new_deploy.prototxt'), 'utf8');
    const crf = await Net.load(new TextEncoder().encode(text), undefined, { dataShapes: { data: [1, 3, 64, 64] } });
    expect(crf.graph.dialect).toBe('hed');
    expect(crf.notes[0]).toBe("Crop 'crop', 'crop', 'crop': a net of CRF-RNN's Caffe (MultiStageMeanfield), whose Crop is FCN's of 2015, which aligns its bottoms by the layers' coordinate maps: loaded in the hed dialect");
    crf.dispose();
    // Without its CRF the same FCN-8s read as BVLC's says where FCN's Caffe cuts: the offsets shelhamer/fcn.berkeleyvision.org
    // later wrote into its FCN-8s prototxts for BVLC's Crop (fixtures/corpus/fcn8s).
    const fcn = await Net.load(new TextEncoder().encode(text.slice(0, text.lastIndexOf('layer', text.indexOf('MultiStageMeanfield')))), undefined, { dataShapes: { data: [1, 3, 500, 500] } });
    const offsets = fcn.notes.flatMap((n) => /would cut at (\d+), \1/.exec(n)?.[1] ?? []).map(Number);
    const published = [...fs.readFileSync(path.join(fixtures, 'corpus', 'fcn8s', 'net.prototxt'), 'utf8').matchAll(/offset: (\d+)/g)].map((m) => Number(m[1]));
    expect(offsets).toEqual([5, 9, 31]);
    expect(offsets).toEqual(published);
    fcn.dispose();
  });
});
