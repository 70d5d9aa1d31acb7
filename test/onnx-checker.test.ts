// The ONNX checker (python3-onnx, not a crema dependency) on converted models: every sweep case and the zoo
// models, with every blob exposed, at the oldest and the default opset; size-free models (anySize) with their symbolic
// batch, height and width. Skips loudly when python's onnx is missing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { buildGraph } from '../src/graph/graph.js';
import { convertFree, graphReshaper } from '../src/onnx/batch.js';
import { DEFAULT_OPSET, MIN_OPSET, convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { referenceCases, weightsOf } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

/** A python with `onnx` importable (PYTHON, python3, or Debian's /usr/bin/python3), or undefined. */
const python = [process.env.PYTHON, 'python3', '/usr/bin/python3'].find(
  (p) => p && spawnSync(p, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0,
);
if (!python) console.warn('\n*** python3 with the onnx package is missing (apt-get install python3-onnx): the ONNX checker tests are SKIPPED ***\n');

const CHECK = `
import sys, onnx
failed = 0
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(path, full_check=True)
        print('ok', path)
    except Exception as e:
        failed += 1
        print('FAIL', path, str(e).splitlines()[0] if str(e) else type(e).__name__)
sys.exit(1 if failed else 0)
`;

function checkAll(files: string[]): string {
  const r = spawnSync(python!, ['-c', CHECK, ...files], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return `${r.stdout}${r.stderr}`;
}

describe.skipIf(!python || sharedMissing())('onnx.checker.check_model(full_check=True) accepts the converted models', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-onnx-check-'));
  const big = new Set(['alexnet', 'caffenet']); // 240 MB each, and no op the others lack

  for (const opset of [MIN_OPSET, DEFAULT_OPSET])
    it(`every sweep case and zoo model at opset ${opset}, every blob an output, both LRN forms`, async () => {
      const files: string[] = [];
      for (const c of [...referenceCases('sweep'), ...referenceCases('zoo').filter((z) => !big.has(z.name))]) {
        const { net, weights } = await loadNet(c.prototxt, weightsOf(c));
        const graph = buildGraph(net, weights);
        for (const lrn of c.name.includes('lrn') ? (['native', 'decomposed'] as const) : (['native'] as const)) {
          const file = path.join(dir, `${c.name}-${lrn}-${opset}.onnx`);
          fs.writeFileSync(file, encodeConversion(convertGraph(graph, { opset, outputs: 'all', lrn })));
          files.push(file);
        }
      }
      const report = checkAll(files);
      expect(report.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
      expect(report.split('\n').filter((l) => l.startsWith('ok')).length).toBe(files.length);
      for (const f of files) fs.rmSync(f);
    }, 120_000);
});

describe.skipIf(!python)('onnx.checker.check_model(full_check=True) accepts the size-free models (anySize, height and width symbolic)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-onnx-check-any-'));
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  // Reorg both ways, SPP MAX and AVE, Slice in equal parts and at points along the height, a two-head YOLOv3 on an
  // input of its own (its rows hold the batch: the batch stays fixed there).
  const layers = path.join(dir, 'layers.prototxt');
  fs.writeFileSync(layers, `name: "layers" input: "data" input_shape { dim: 1 dim: 8 dim: 16 dim: 16 } input: "h0" input_shape { dim: 1 dim: 27 dim: 8 dim: 8 }
    layer { name: "reorg" type: "Reorg" bottom: "data" top: "reorg" reorg_param { stride: 2 } }
    layer { name: "unreorg" type: "Reorg" bottom: "data" top: "unreorg" reorg_param { stride: 2 reverse: true } }
    layer { name: "spp_max" type: "SPP" bottom: "data" top: "spp_max" spp_param { pyramid_height: 3 } }
    layer { name: "spp_ave" type: "SPP" bottom: "data" top: "spp_ave" spp_param { pyramid_height: 3 pool: AVE } }
    layer { name: "halves" type: "Slice" bottom: "data" top: "top_half" top: "bottom_half" slice_param { axis: 2 } }
    layer { name: "rows" type: "Slice" bottom: "data" top: "row0" top: "rows" slice_param { axis: 2 slice_point: 1 } }
    layer { name: "h1" type: "Pooling" bottom: "h0" top: "h1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "det" type: "Yolov3DetectionOutput" bottom: "h1" bottom: "h0" top: "det" yolov3_detection_output_param { num_classes: 4 num_box: 3
      biases: 10 biases: 14 biases: 23 biases: 27 biases: 37 biases: 58 biases: 81 biases: 82 biases: 135 biases: 169 biases: 344 biases: 319
      mask: 3 mask: 4 mask: 5 mask: 0 mask: 1 mask: 2 anchors_scale: 4 anchors_scale: 2 mask_group_num: 2 } }\n`);
  const nets: [string, string, string?, ('any' | 'where free')?][] = [
    ['pooling', 'test/fixtures/any-size/net.prototxt'],
    ['pnet', 'models/mtcnn/det1.prototxt', 'models/mtcnn/det1.caffemodel'],
    ['fcn2015-crop', 'test/fixtures/fcn2015-crop/net.prototxt', 'test/fixtures/fcn2015-crop/weights.caffemodel'],
    ['layers', layers, undefined, 'where free'],
  ];

  it('every Pooling case, P-Net, the FCN-2015 Crops, Reorg, SPP, Slice and YOLOv3, at opsets 13 and 17, every blob an output', async () => {
    const files: string[] = [];
    for (const [name, prototxt, weights, batch] of nets) {
      const net = await Net.load(path.resolve(root, prototxt), weights && path.join(root, weights));
      for (const opset of [MIN_OPSET, DEFAULT_OPSET]) {
        const options = { opset, outputs: 'all' as const, anySize: true };
        const { conversion } = convertFree(net.graph, graphReshaper(net.graph), options, batch ?? 'any');
        const file = path.join(dir, `${name}-${opset}.onnx`);
        fs.writeFileSync(file, encodeConversion(conversion));
        files.push(file);
      }
      net.dispose();
    }
    const report = checkAll(files);
    expect(report.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(report.split('\n').filter((l) => l.startsWith('ok')).length).toBe(files.length);
    fs.rmSync(dir, { recursive: true });
  }, 120_000);
});
