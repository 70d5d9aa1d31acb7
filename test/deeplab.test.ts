// DeepLab v2 (deeplab-public-ver2)'s test nets: its ImageSegData (images, label images, each image's size) becomes an
// Input, its MatWrite (the scores to .mat files) and SegAccuracy are dropped, as crema does with the other forks' data,
// writer and accuracy layers. The VGG-16 test net (fixtures/deeplab/test.prototxt as published, filled as its
// run_pascal.sh fills it) at 49 x 49 with synthetic weights: its scores before the Interp against real Caffe 1.0
// (fixtures/deeplab/make.sh), natively and through ONNX Runtime; the Interp's top native against ONNX Runtime (the
// Interp itself is checked against the fork's interp2 in test/fork-layers.test.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'fixtures/deeplab');
const hashweights = path.join(here, 'fixtures/corpus/hashweights.mjs');

/** The template as run_pascal.sh fills it (its sub.sed) for the VOC 2012 val set. */
function filled(): Uint8Array {
  const values: Record<string, string> = { NET_ID: 'vgg16', EXP: 'voc12', NUM_LABELS: '21', TEST_SET: 'val', DATA_ROOT: './voc12/dataset', FEATURE_DIR: 'voc12/features/vgg16' };
  const text = fs.readFileSync(path.join(dir, 'test.prototxt'), 'utf8').replace(/\$\{(\w+)\}/g, (_, k: string) => values[k]);
  return new TextEncoder().encode(text);
}

/** make.sh's synthetic weights and input, made again by the same hashweights.mjs. */
function material(): { weights: string; input: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-deeplab-'));
  const weights = path.join(tmp, 'w.caffemodel'), input = path.join(tmp, 'in.npy');
  execFileSync(process.execPath, [hashweights, 'model', path.join(dir, 'spec.json'), weights, '--salt', 'deeplab']);
  execFileSync(process.execPath, [hashweights, 'input', '131', '100', input, '1', '3', '49', '49']);
  return { weights, input };
}

describe('DeepLab v2 (deeplab-public-ver2: ImageSegData, MatWrite, SegAccuracy)', () => {
  it("loads the VGG-16 test net: ImageSegData an Input of its crop (data, label, data_dim), MatWrite dropped with a note", async () => {
    const net = await Net.load(filled(), undefined, { threads: 1 });
    expect(net.notes).toContain('ImageSegData layer \'data\' became an Input layer: data [1, 3, 513, 513], label [1, 1, 513, 513], data_dim [1, 1, 1, 2]');
    expect(net.notes).toContain('dropped the layers that write their bottom to files (the blobs stay): fc8_mat (MatWrite)');
    expect([...net.shapes.get('fc8_interp')!]).toEqual([1, 21, 513, 513]);
    net.dispose();
  });

  it('at 49 x 49 with synthetic weights: the scores match real Caffe 1.0 natively and through ONNX Runtime', async () => {
    const { weights, input } = material();
    const net = await Net.load(filled(), weights, { threads: 1, dataShapes: { data: [1, 3, 49, 49] } });
    expect(net.inputs).toEqual(['data', 'label', 'data_dim']); // the last two read by its Silence only
    const feeds = { data: readNpy(input), label: Tensor.zeros([1, 1, 49, 49]), data_dim: Tensor.zeros([1, 1, 1, 2]) };
    net.forward(feeds);
    const ref = readNpy(path.join(dir, 'blobs/fc8_voc12.npy'));
    expect(relativeError(net.blobs.get('fc8_voc12')!, ref), 'native fc8_voc12').toBeLessThanOrEqual(TOLERANCE);
    expect([...net.blobs.get('fc8_interp')!.dims]).toEqual([1, 21, 49, 49]);
    const onnx = await runOnnx(net.graph, feeds, { outputs: ['fc8_voc12', 'fc8_interp'] });
    expect(relativeError(onnx.get('fc8_voc12')!, ref), 'onnx fc8_voc12').toBeLessThanOrEqual(TOLERANCE);
    expect(relativeError(onnx.get('fc8_interp')!, net.blobs.get('fc8_interp')!), 'onnx fc8_interp').toBeLessThanOrEqual(TOLERANCE);
    net.dispose();
  }, 300_000);
});
