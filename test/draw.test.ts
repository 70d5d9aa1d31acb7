import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readNetPrototxt } from '../src/caffe/load.js';
import { selectLayers } from '../src/caffe/phase.js';
import { dotToSvg } from '../src/cli/commands/draw.js';
import { netToDot } from '../src/graph/dot.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-draw-'));

function crema(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crema.js', ...args], { cwd: root, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const small = `name: "small"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv|1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool1" top: "ip" inner_product_param { num_output: 10 } }
`;

function dotOf(text: string, rankdir = 'LR'): string {
  const file = path.join(tmp, 'small.prototxt');
  fs.writeFileSync(file, text);
  return netToDot(readNetPrototxt(file), rankdir);
}

describe('netToDot (draw_net.py\'s picture)', () => {
  const dot = dotOf(small);
  it('labels layers with name, type and kernel / stride / pad, coloured by type', () => {
    expect(dot).toContain('"layer:conv|1:Convolution" [label="conv\\|1\\n(Convolution)\\nkernel size: 3\\nstride: 2\\npad: 1", shape=record, style=filled, fillcolor="#FF5050"];');
    expect(dot).toContain('"layer:pool1:Pooling" [label="pool1\\n(Pooling AVE)\\nkernel size: 2\\nstride: 2\\npad: 0", shape=record, style=filled, fillcolor="#FF9900"];');
    expect(dot).toContain('"layer:ip:InnerProduct" [label="ip\\n(InnerProduct)", shape=record, style=filled, fillcolor="#CC33FF"];');
  });
  it('draws in-place layers green, with an edge each way to their blob', () => {
    expect(dot).toContain('"layer:relu1:ReLU" [label="relu1\\n(ReLU)", shape=record, style=filled, fillcolor="#90EE90"];');
    expect(dot).toContain('"blob:conv1" -> "layer:relu1:ReLU";');
    expect(dot).toContain('"layer:relu1:ReLU" -> "blob:conv1";');
  });
  it('labels output edges with num_output and draws blobs as grey octagons', () => {
    expect(dot).toContain('"layer:conv|1:Convolution" -> "blob:conv1" [label="4"];');
    expect(dot).toContain('"layer:ip:InnerProduct" -> "blob:ip" [label="10"];');
    expect(dot).toContain('"blob:pool1" [label="pool1", shape=octagon, style=filled, fillcolor="#E0E0E0"];');
  });
  it('separates label parts with spaces when the graph runs top to bottom', () => {
    expect(dotOf(small, 'TB')).toContain('label="pool1 (Pooling AVE) kernel size: 2 stride: 2 pad: 0"');
  });
  it('is laid out by Graphviz (WebAssembly) into an SVG with every node', async () => {
    const svg = await dotToSvg(dot);
    expect(svg).toMatch(/<svg[\s>]/);
    for (const text of ['conv|1', '(Pooling AVE)', 'relu1', 'pool1', '(InnerProduct)']) expect(svg).toContain(`>${text}</text>`);
  });
  it('keeps only a phase\'s layers with --phase', () => {
    const net = readNetPrototxt(path.join(root, 'models/zoo/alexnet_train_val.prototxt'));
    const train = netToDot(selectLayers(net, { phase: 'TRAIN' })), test = netToDot(selectLayers(net, { phase: 'TEST' }));
    expect(train).toContain('"layer:loss:SoftmaxWithLoss"');
    expect(train).not.toContain('"layer:accuracy:Accuracy"');
    expect(test).toContain('"layer:accuracy:Accuracy"');
  });
});

describe('crema draw', () => {
  it('writes .svg, .png and .dot; refuses other extensions in one line', async () => {
    const net = 'models/cifar10_full/deploy.prototxt';
    const [svg, png, dot, bad] = await Promise.all(
      ['c.svg', 'c.png', 'c.dot', 'c.pdf'].map((f) => crema('draw', net, '-o', path.join(tmp, f))),
    );
    expect([svg.code, png.code, dot.code]).toEqual([0, 0, 0]);
    expect(svg.stdout.trim()).toBe(`wrote ${path.join(tmp, 'c.svg')} (14 layers)`);
    expect(fs.readFileSync(path.join(tmp, 'c.svg'), 'utf8')).toContain('<svg');
    expect(fs.readFileSync(path.join(tmp, 'c.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(fs.readFileSync(path.join(tmp, 'c.dot'), 'utf8')).toMatch(/^digraph "CIFAR10_full_deploy" \{/);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`crema: -o ${path.join(tmp, 'c.pdf')}: crema draws .svg, .png or .dot (got '.pdf')`);
  });

  it('-o - writes the picture to stdout (SVG, or --format dot), saying so on stderr', async () => {
    const net = 'models/cifar10_full/deploy.prototxt';
    const [svg, dot] = await Promise.all([crema('draw', net, '-o', '-'), crema('draw', net, '-o', '-', '--format', 'dot')]);
    expect([svg.code, dot.code]).toEqual([0, 0]);
    expect(svg.stdout).toMatch(/<svg[\s\S]*<\/svg>\s*$/);
    expect(dot.stdout).toMatch(/^digraph "CIFAR10_full_deploy" \{/);
    expect(dot.stderr.trim()).toBe('wrote stdout (14 layers)');
  });
});
