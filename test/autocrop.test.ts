// yun-liu/RCF's AutoCrop (offsets from the coordinate maps of the layers between its two bottoms) against the fork's
// own Caffe (test/fixtures/rcf, made by make-fixtures.sh with the fork ../fork-chroot.sh rcf builds), natively and
// through ONNX Runtime, and its one-line refusals of what the fork aborts on. RCF's test net whole is in
// test/fork-nets.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const head = path.join(import.meta.dirname, 'fixtures/rcf/head');
const manifest = JSON.parse(fs.readFileSync(path.join(head, 'manifest.json'), 'utf8')) as { input: string; blobs: string[] };
const fork = (blob: string) => readNpy(path.join(head, 'blobs', `${blob}.npy`));
const input = () => ({ data: readNpy(path.join(head, 'input.npy')) });

describe('AutoCrop vs the fork (test/fixtures/rcf/head: 5 crops of side outputs, batch 2, 37 x 41)', () => {
  it('every stored blob matches the fork natively and through ONNX Runtime', async () => {
    const net = await Net.load(path.join(head, 'net.prototxt'), path.join(head, 'weights.caffemodel'), { threads: 1 });
    net.forward(input());
    const onnx = await runOnnx(net.graph, input(), { outputs: manifest.blobs, threads: 1 });
    for (const blob of manifest.blobs) {
      const ref = fork(blob);
      expect([...net.blobs.get(blob)!.dims], `shape of ${blob}`).toEqual([...ref.dims]);
      expect(relativeError(net.blobs.get(blob)!, ref), `${blob} native`).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(onnx.get(blob)!, ref), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('the fixture exercises what it should: each crop takes its own window of its upsampled map', () => {
    // The offset each crop took: where its top sits in its bottom (the fork's), found by search.
    const offset = (crop: string, up: string) => {
      const c = fork(crop), u = fork(up), [, , h, w] = c.dims, [, , uh, uw] = u.dims;
      const found: string[] = [];
      for (let y = 0; y + h <= uh; y++)
        for (let x = 0; x + w <= uw; x++)
          if ([0, 1, h - 1].every((r) => [0, 3, w - 1].every((q) => u.data[(y + r) * uw + x + q] === c.data[r * w + q]))) found.push(`${y},${x}`);
      return found.join(' ');
    };
    expect([offset('crop1', 'up1'), offset('crop2', 'up2'), offset('crop3', 'up3')]).toEqual(['1,1', '2,2', '3,3']);
  });
});

describe('AutoCrop refuses, in one line, what the fork aborts on', () => {
  const net = (layers: string) => () => Net.fromNetParameter(parsePrototxt(`
    layer { name: "in" type: "Input" top: "data" top: "other" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }
    ${layers}`, 'autocrop.prototxt') as NetParameter, undefined, []);
  const up = 'layer { name: "up" type: "Deconvolution" bottom: "x" top: "up" convolution_param { num_output: 1 kernel_size: 4 stride: 2 } }';
  const crop = (b0 = 'up', b1 = 'data') => `layer { name: "crop" type: "AutoCrop" bottom: "${b0}" bottom: "${b1}" top: "crop" }`;

  it('a layer without a coordinate map on the way, blobs that share nothing, a negative or fractional offset', () => {
    const pool = 'layer { name: "pool" type: "Pooling" bottom: "data" top: "x" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }';
    expect(net(pool + up + crop())).not.toThrow();
    expect(net('layer { name: "bn" type: "BatchNorm" bottom: "data" top: "x" }' + up + crop())).toThrow(
      "layer 'crop' (AutoCrop): its path to the image meets 'bn' (BatchNorm), which has no coordinate map in RCF's Caffe (that Caffe stops: NOT_IMPLEMENTED)");
    expect(net(pool + up + crop('up', 'other'))).toThrow(
      "layer 'crop' (AutoCrop): cannot align 'up' with 'other': they share no blob on the way to the net's input (RCF's Caffe: \"Cannot align apparently disconnected blobs.\")");
    expect(net(pool + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 1 kernel_size: 3 } }' + crop('c', 'x'))).toThrow(
      "layer 'crop' (AutoCrop): 'c' and 'x' differ in scale along height (0.5): AutoCrop aligns blobs of the same resolution");
    expect(net('layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 1 kernel_size: 3 } }' + crop('c', 'data'))).toThrow(
      "layer 'crop' (AutoCrop): 'c' starts inside 'data' along height (offset -1): AutoCrop cannot crop a negative width");
    expect(net('layer { name: "c" type: "Convolution" bottom: "data" top: "x" convolution_param { num_output: 1 kernel_size: 2 } }' + 'layer { name: "up" type: "Deconvolution" bottom: "x" top: "up" convolution_param { num_output: 1 kernel_size: 3 } }' + crop())).toThrow(
      "layer 'crop' (AutoCrop): 'up' is offset from 'data' by 0.5 along height, not a whole number of pixels");
  });
});
