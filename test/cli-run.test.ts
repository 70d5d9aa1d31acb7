// `crema run` and `crema info` end to end, as users and ../shared/tools/conformance.mjs call them (needs `npm run build`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';

const crema = (...args: string[]) => spawnSync('node', ['bin/crema.js', ...args], { encoding: 'utf8' });
const m = (f: string) => path.join('models/cifar10_full', f);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'crema-cli-'));

describe('crema run', () => {
  it('prints the outputs and a classifier\'s top classes with labels', () => {
    const r = crema('run', m('deploy.prototxt'), m('weights.caffemodel'), '--input', m('example-input.npy'), '--labels', m('labels.txt'), '--top', '3');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('prob [1, 10]');
    expect(lines).toHaveLength(4);
    for (const l of lines.slice(1)) expect(l).toMatch(/^ {2}0\.\d{4} - "(airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck)"$/);
  });

  it("ranks classes only of a classifier's output: an InnerProduct's (N, K) scores, not boxes (N, 4) of another layer", () => {
    const dir = tmp(), net = path.join(dir, 'net.prototxt'), x = path.join(dir, 'x.npy');
    // fc's weights written into the prototxt: row 0 sums the features, row 1 is zero.
    fs.writeFileSync(net, `input: "x" input_shape { dim: 2 dim: 4 }
      layer { name: "boxes" type: "Power" bottom: "x" top: "boxes" }
      layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2 bias_term: false }
        blobs { shape { dim: 2 dim: 4 } data: 1 data: 1 data: 1 data: 1 data: 0 data: 0 data: 0 data: 0 } }`);
    writeNpy(x, new Tensor([2, 4], Float32Array.of(1, 2, 3, 4, -1, -2, -3, -4)));
    const r = crema('run', net, '--input', x, '--top', '1');
    expect([r.status, r.stdout]).toEqual([0, 'boxes [2, 4]\nfc [2, 2]\n  [0]\n  10.0000 - class 0\n  [1]\n  0.0000 - class 1\n']);
  });

  it("prints a CTC decoder's sequences (caffe_ocr's line readers), as text with labels, GBK label files too", () => {
    const dir = tmp(), net = path.join(dir, 'net.prototxt'), x = path.join(dir, 'x.npy'), labels = path.join(dir, 'label.txt');
    fs.writeFileSync(net, `layer { name: "in" type: "Input" top: "scores" input_param { shape { dim: 5 dim: 2 dim: 4 } } }
      layer { name: "result" type: "CTCGreedyDecoder" bottom: "scores" top: "result" }`);
    // Steps' best classes: item 0 blank 1 1 blank 3 -> 1 3; item 1 2 2 2 blank blank -> 2.
    const best = [[0, 2], [1, 2], [1, 2], [0, 0], [3, 0]], data = new Float32Array(5 * 2 * 4);
    best.forEach((step, t) => step.forEach((c, n) => (data[(t * 2 + n) * 4 + c] = 1)));
    writeNpy(x, new Tensor([5, 2, 4], data));
    // caffe_ocr's label.txt is GBK: blank, 的, 一, 是.
    fs.writeFileSync(labels, Buffer.from([0x62, 0x6c, 0x61, 0x6e, 0x6b, 0x0d, 0x0a, 0xb5, 0xc4, 0x0d, 0x0a, 0xd2, 0xbb, 0x0d, 0x0a, 0xca, 0xc7]));
    expect(crema('run', net, '--input', x).stdout).toBe('result [2, 5, 1, 1]\n  [0] classes 1 3\n  [1] classes 2\n');
    const r = crema('run', net, '--input', x, '--labels', labels);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, 'result [2, 5, 1, 1]\n  [0] "的是" (classes 1 3)\n  [1] "一" (classes 2)\n', '']);
    expect(JSON.parse(crema('run', net, '--input', x, '--labels', labels, '--json').stdout)).toEqual({
      outputs: [{ blob: 'result', shape: [2, 5, 1, 1], sequences: [{ classes: [1, 3], text: '的是' }, { classes: [2], text: '一' }] }],
    });
  });

  it('--dump writes every blob (or --blobs) as float32 .npy, with / in names as __, and takes the batch from the file', () => {
    const dir = tmp(), net = path.join(dir, 'net.prototxt');
    fs.writeFileSync(net, `layer { name: "in" type: "Input" top: "data/x" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
      layer { name: "a/b" type: "ReLU" bottom: "data/x" top: "relu/out" }
      layer { name: "s" type: "Pooling" bottom: "relu/out" top: "pool" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }`);
    const x = new Tensor([3, 2, 3, 3], Float32Array.from({ length: 54 }, (_, i) => i - 27));
    writeNpy(path.join(dir, 'x.npy'), x);
    const r = crema('run', net, '--input', path.join(dir, 'x.npy'), '--dump', path.join(dir, 'out'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(['data__x.npy', 'pool.npy', 'relu__out.npy']);
    const relu = readNpy(path.join(dir, 'out', 'relu__out.npy'));
    expect(relu.dims).toEqual([3, 2, 3, 3]);
    expect([...relu.data]).toEqual([...x.data].map((v) => Math.max(0, v)));
    expect(readNpy(path.join(dir, 'out', 'pool.npy')).dims).toEqual([3, 2, 2, 2]);
    const only = crema('run', net, '--input', `data/x=${path.join(dir, 'x.npy')}`, '--dump', path.join(dir, 'o2'), '--blobs', 'pool');
    expect(only.status).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'o2'))).toEqual(['pool.npy']);
  });

  it('--threads 1 and 2 and --backend onnx give the same numbers', () => {
    const dir = tmp();
    const dump = (name: string, ...extra: string[]) => {
      const r = crema('run', m('deploy.prototxt'), m('weights.caffemodel'), '--input', m('example-input.npy'), '--dump', path.join(dir, name), '--blobs', 'norm2,prob', ...extra);
      expect(r.status, r.stderr).toBe(0);
      return ['norm2', 'prob'].map((b) => readNpy(path.join(dir, name, `${b}.npy`)));
    };
    const one = dump('t1', '--threads', '1'), two = dump('t2', '--threads', '2'), onnx = dump('onnx', '--backend', 'onnx');
    // The project's tolerance, relative to the blob's range: norm2 reaches 129 here, and the Winograd F(4x4)
    // of conv2 differs from ONNX Runtime's by 3e-4 there (2.4e-6 of the range; im2col: 6.9e-5).
    for (const other of [two, onnx])
      other.forEach((t, i) => {
        expect(t.dims).toEqual(one[i].dims);
        expect(relativeDifference(t.data, one[i].data)).toBeLessThanOrEqual(TOLERANCE);
      });
  });

  it('bad input: one line naming the file, exit 2', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'bad.prototxt'), 'layer { name: "x" type: "Input" top: "x"\n  input_param { shape { dim: 1 } }\n  bogus: 3 }\n');
    const r = crema('run', path.join(dir, 'bad.prototxt'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${path.join(dir, 'bad.prototxt')}:3:3`);
    const noInput = crema('run', m('deploy.prototxt'), m('weights.caffemodel'));
    expect(noInput.status).toBe(2);
    expect(noInput.stderr.trim().split('\n').at(-1)).toBe("crema: no --input for 'data' [1, 3, 32, 32]");
    const missing = crema('run', path.join(dir, 'nope.prototxt'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.prototxt/);
    // Each thread is a worker with its own heap: thousands of them ran the process out of memory (abort, no message).
    const threads = spawnSync('node', ['bin/crema.js', 'run', m('deploy.prototxt'), m('weights.caffemodel'), '--input', m('example-input.npy'), '--threads', '3000'], { encoding: 'utf8', timeout: 20_000 });
    expect(threads.status).toBe(2);
    expect(threads.stderr.trim()).toBe('crema: --threads must be a whole number from 0 to 256, got 3000');
    // --top -1 printed all classes but the last (a negative slice end); 0 printed none.
    for (const top of ['-1', '0']) {
      const r = crema('run', m('deploy.prototxt'), m('weights.caffemodel'), '--input', m('example-input.npy'), '--top', top);
      expect(r.status).toBe(2);
      expect(r.stderr.trim()).toBe(`crema: --top ${top}: expected a positive whole number`);
    }
    const usage = crema('run');
    expect(usage.status).toBe(2);
    const unknown = crema('rnu');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe("crema: unknown command 'rnu' (commands: bench, classify, colorize, convert, detect, disparity, draw, edges, faces, flow, info, pose, run, segment, show, ui, upgrade, verify; crema --help)");
  });
});

describe('crema info', () => {
  it('--json gives blobs in net order and per-layer params and MACs', () => {
    const r = crema('info', m('deploy.prototxt'), m('weights.caffemodel'), '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as { blobs: Record<string, number[]>; layers: { name: string; type: string; bottom: string[]; top: string[]; params: number; macs: number }[] };
    expect(Object.keys(info.blobs)).toEqual(['data', 'conv1', 'pool1', 'norm1', 'conv2', 'pool2', 'norm2', 'conv3', 'pool3', 'ip1', 'prob']);
    expect(info.blobs.pool3).toEqual([1, 64, 4, 4]);
    const conv1 = info.layers.find((l) => l.name === 'conv1')!;
    expect(conv1).toEqual({ name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], params: 32 * 75 + 32, macs: 32 * 32 * 32 * 75 });
    expect(Object.keys(info.layers[0]).sort()).toEqual(['bottom', 'macs', 'name', 'params', 'top', 'type']);
  });
  it('prints a table with totals', () => {
    const r = crema('info', 'models/zoo/alexnet.prototxt');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/conv1 .*Convolution.*data → conv1.*\[1, 96, 55, 55\]/);
    expect(r.stdout).toMatch(/total.*60,965,224/);
  });
});
