// FlowNet2-S (test/fixtures/flownet's deploy template) with synthetic weights, for the flow tests in Node and in the
// browser: hashweights (../shared/tools) for every layer but scale_conv1 (its diagonal filler, as the release) and
// the DataAugmentations, whose iteration count is set past recompute_mean (their learnt mean: 100, 110, 120).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parsePrototxt } from '../../src/caffe/prototxt.js';
import type { NetParameter } from '../../src/caffe/types.js';
import { upgradeNet } from '../../src/caffe/upgrade.js';
import { fillFlowTemplate } from '../../src/detect/flow.js';
import { buildGraph } from '../../src/graph/graph.js';
import { declaredWeights } from '../../src/layers/layer.js';
import { sharedDir } from './shared.js';
import { len, packedFloats, str, varint } from './wire.js';

export const flownetDir = path.join(import.meta.dirname, '../fixtures/flownet');

/** FlowNet2-S's synthetic weights written into `dir` (its shapes read from the template filled for width x height). */
export function flownetWeights(dir: string, width: number, height: number): string {
  const template = fs.readFileSync(path.join(flownetDir, 'FlowNet2-S.prototxt.template'), 'utf8');
  const parsed = upgradeNet(parsePrototxt(fillFlowTemplate(template, width, height), 'filled') as NetParameter, 'filled', []);
  const graph = buildGraph(parsed, new Map(), { dialect: 'flownet' });
  const layers = graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length && l.name !== 'scale_conv1');
  fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({ name: 'FlowNet2-S', layers: layers.filter((l) => l.type !== 'DataAugmentation') }));
  const made = path.join(dir, 'w.caffemodel');
  execFileSync('node', [path.join(sharedDir!, 'tools/hashweights.mjs'), 'model', path.join(dir, 'spec.json'), made, '--salt', 'flow']);
  const blob = (dims: readonly number[], values: number[]) => len(7, [...len(7, len(1, dims.flatMap((d) => varint(d)))), ...packedFloats(5, values)]);
  const aug = layers.filter((l) => l.type === 'DataAugmentation').flatMap((l) => len(100, [...str(1, l.name), ...str(2, l.type),
    ...blob([1, 1, 1, 1], [1e6]), ...blob(l.blobs[1], Array(l.blobs[1].reduce((a, b) => a * b, 1)).fill(0)), ...blob([1, 3, 1, 1], [100, 110, 120])]));
  fs.appendFileSync(made, Uint8Array.from(aug));
  return made;
}

/** A smooth colour pattern of width x height shifted by (dx, dy): its bytes, `channels` a pixel. */
export function flowPattern(width: number, height: number, dx: number, dy: number, channels: 1 | 3 = 3): Uint8Array {
  const px = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++)
    px[(y * width + x) * channels + c] = Math.round(127.5 + 127.5 * Math.sin((x + dx) * (0.11 + 0.05 * c) + (y + dy) * (0.17 - 0.04 * c) + c));
  return px;
}
