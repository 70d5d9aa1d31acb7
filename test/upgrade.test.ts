import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { encodeCaffemodel, readCaffemodel, readCaffemodelFile } from '../src/caffe/caffemodel.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { caffeSchema } from '../src/caffe/schema.js';
import type { Message } from '../src/caffe/message.js';
import { main } from '../src/cli/main.js';
import { V1_LAYER_TYPES, mixedLayersMessage, upgradeNet } from '../src/caffe/upgrade.js';
import { CremaError } from '../src/util/errors.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'upgrade');
const readText = (file: string): Message => parsePrototxt(fs.readFileSync(file, 'utf8'), file);

// Each <case>.expected.prototxt is what BVLC Caffe's own `upgrade_net_proto_text <case>.prototxt OUT` wrote
// (Debian's caffe 1.0.0+git20180821, run in tools/caffe-ref's chroot); see fixtures/upgrade/README.md.
const CAFFE_UPGRADED = ['v0_padding', 'v0_sources', 'v0_train', 'v1_train', 'v1_input_shape', 'v2_input_dim_bn'];

describe('upgradeNet gives what Caffe\'s upgrade_net_proto_text gives', () => {
  for (const name of CAFFE_UPGRADED) {
    it(name, () => {
      const file = path.join(fixtures, `${name}.prototxt`);
      const ours = upgradeNet(readText(file), file);
      const caffe = readText(path.join(fixtures, `${name}.expected.prototxt`));
      expect(ours).toEqual(caffe);
    });
  }

  it('folds V0 padding layers into the conv / pool layer they feed, rewiring its bottom', () => {
    const file = path.join(fixtures, 'v0_padding.prototxt');
    const net = upgradeNet(readText(file), file);
    const byName = new Map(net.layer!.map((l) => [l.name, l]));
    expect(byName.has('pad1')).toBe(false);
    expect(byName.get('conv1')!.bottom).toEqual(['data']);
    expect((byName.get('conv1') as Message).convolution_param.pad).toEqual([2]);
    expect(byName.get('pool1')!.bottom).toEqual(['conv1']);
    expect((byName.get('pool1') as Message).pooling_param.pad).toBe(1);
  });

  it('is idempotent on V2 nets', () => {
    for (const name of CAFFE_UPGRADED) {
      const file = path.join(fixtures, `${name}.expected.prototxt`);
      const v2 = readText(file);
      const notes: string[] = [];
      expect(upgradeNet(v2, file, notes)).toEqual(v2);
      expect(notes).toEqual([]);
    }
  });

  it('does not change the net it is given', () => {
    const file = path.join(fixtures, 'v1_train.prototxt');
    const v1 = readText(file);
    const copy = structuredClone(v1);
    upgradeNet(v1, file);
    expect(v1).toEqual(copy);
  });

  it('describes what it upgraded in notes', () => {
    const notes: string[] = [];
    upgradeNet(readText(path.join(fixtures, 'v0_train.prototxt')), 'v0_train.prototxt', notes);
    expect(notes).toEqual([
      'v0_train.prototxt: upgraded V0 layers (layers { layer { ... } }) to V1',
      'v0_train.prototxt: upgraded V1 layers (layers { type: ENUM }) to V2 (layer { type: "Name" })',
    ]);
  });
});

describe('upgradeNet refuses what Caffe refuses', () => {
  it('a net mixing V2 layer and V1 layers, naming the file', () => {
    const file = path.join(fixtures, 'mixed.prototxt');
    const net = readText(file);
    expect(() => upgradeNet(net, file)).toThrow(CremaError);
    expect(() => upgradeNet(net, 'nets/mixed.prototxt')).toThrow(
      'nets/mixed.prototxt: the net mixes V2 \'layer\' and V1 \'layers\' definitions, which Caffe refuses to upgrade; ' +
        'write every layer as layer { type: "Name" ... } (not layers { type: NAME ... })',
    );
    expect(mixedLayersMessage('x')).toMatch(/^x: the net mixes/);
  });

  it('an unknown V0 layer type', () => {
    const net = { layers: [{ layer: { name: 'w', type: 'warp' }, bottom: [], top: ['a'] }] };
    expect(() => upgradeNet(net, 'old.prototxt')).toThrow("old.prototxt: V0 layer 'w' has unknown type 'warp'");
  });

  it('a V0 parameter the layer type does not take', () => {
    const net = { input: ['x'], layers: [{ layer: { name: 'r', type: 'relu', kernelsize: 3 }, bottom: ['x'], top: ['y'] }] };
    expect(() => upgradeNet(net, 'old.prototxt')).toThrow("old.prototxt: V0 layer 'r' of type 'relu' has parameter 'kernelsize', which that type does not take");
  });

  it('a V0 padding layer feeding anything but conv or pool', () => {
    const net = {
      input: ['x'],
      layers: [
        { layer: { name: 'pad', type: 'padding', pad: 1 }, bottom: ['x'], top: ['p'] },
        { layer: { name: 'r', type: 'relu' }, bottom: ['p'], top: ['y'] },
      ],
    };
    expect(() => upgradeNet(net, 'old.prototxt')).toThrow(
      "old.prototxt: V0 padding layer 'pad' feeds layer 'r': a padding layer may only feed a conv or pool layer, not 'relu'",
    );
  });

  it('a V0 layer reading a blob nothing produced', () => {
    const net = { layers: [{ layer: { name: 'r', type: 'relu' }, bottom: ['ghost'], top: ['y'] }] };
    expect(() => upgradeNet(net, 'old.prototxt')).toThrow("old.prototxt: V0 layer 'r' reads blob 'ghost', which no earlier layer produces");
  });

  it('input_dim not four per input', () => {
    const net = { input: ['a', 'b'], input_dim: [1, 3, 4, 4], layer: [] };
    expect(() => upgradeNet(net, 'n.prototxt')).toThrow('n.prototxt: the net has 2 input(s) but 4 input_dim values (4 per input expected)');
  });

  it('an unknown V1 layer type number', () => {
    expect(() => upgradeNet({ layers: [{ name: 'q', type: 99 }] }, 'w.caffemodel')).toThrow("w.caffemodel: V1 layer 'q' has unknown type 99");
  });
});

describe('V1 details', () => {
  it('maps every V1 enum type to its V2 string', () => {
    for (const [v1, v2] of Object.entries(V1_LAYER_TYPES)) {
      const net = upgradeNet({ layers: [{ name: 'l', type: v1 }] }, 'f');
      expect(net.layer![0].type).toBe(v2);
    }
    const schemaEnum = caffeSchema().lookupEnum('caffe.V1LayerParameter.LayerType');
    expect(Object.keys(V1_LAYER_TYPES).sort()).toEqual(Object.keys(schemaEnum.values).sort());
    // Readers may keep an enum value as its number: the same mapping applies.
    for (const [v1, number] of Object.entries(schemaEnum.values)) {
      expect(upgradeNet({ layers: [{ name: 'l', type: number }] }, 'f').layer![0].type).toBe(V1_LAYER_TYPES[v1]);
    }
  });

  it('drops a legacy caffemodel\'s bare input (no dims), as Caffe does', () => {
    const net = upgradeNet({ input: ['data'], layers: [{ name: 'r', type: 'RELU', bottom: ['data'], top: ['r'] }] }, 'f');
    expect(net.input).toBeUndefined();
    expect(net.layer!.map((l) => l.name)).toEqual(['r']);
  });

  it('carries blobs over without copying their data', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const net = upgradeNet({ layers: [{ name: 'ip', type: 'INNER_PRODUCT', blobs: [{ shape: { dim: [2, 2] }, data }] }] }, 'f');
    expect(net.layer![0].blobs![0].data).toBe(data);
  });
});

// The same upgrade applies to weights: a V1 / V0 caffemodel round-trips through encode as V2 with identical blobs.
describe('caffemodel upgrade', () => {
  it('a V0 caffemodel with a padding layer keeps every blob', () => {
    const w = new Float32Array([0.5, -1, 2, 3]), b = new Float32Array([7]);
    const v0 = {
      name: 'tiny',
      layers: [
        { layer: { name: 'pad', type: 'padding', pad: 1 }, bottom: ['data'], top: ['p'] },
        {
          layer: { name: 'conv', type: 'conv', num_output: 1, kernelsize: 2, blobs: [{ num: 1, channels: 1, height: 2, width: 2, data: w }, { num: 1, channels: 1, height: 1, width: 1, data: b }] },
          bottom: ['p'],
          top: ['c'],
        },
      ],
      input: ['data'],
      input_dim: [1, 1, 3, 3],
    };
    const bytes = encodeCaffemodel(v0);
    const upgraded = upgradeNet(readCaffemodel(bytes, 'tiny.caffemodel'), 'tiny.caffemodel');
    const again = readCaffemodel(encodeCaffemodel(upgraded), 'tiny-v2.caffemodel');
    expect(again.layers).toBeUndefined();
    expect(again.layer.map((l: Message) => l.name)).toEqual(['input', 'conv']);
    const conv = again.layer[1];
    expect(conv.convolution_param).toEqual({ num_output: 1, kernel_size: [2], pad: [1] });
    expect(Array.from(conv.blobs[0].data)).toEqual(Array.from(w));
    expect(Array.from(conv.blobs[1].data)).toEqual(Array.from(b));
    expect(conv.blobs[0]).toMatchObject({ num: 1, channels: 1, height: 2, width: 2 });
  });

  it.skipIf(sharedMissing())('the trained V1 caffemodels upgrade with all their blobs', () => {
    for (const model of ['lenet', 'cifar10_quick', 'cifar10_full']) {
      const file = path.join(sharedDir!, 'models/trained', model, 'weights.caffemodel');
      const v1 = readCaffemodelFile(file);
      const v2 = readCaffemodel(encodeCaffemodel(upgradeNet(v1, file)), `${model}-v2`);
      const blobsOf = (layers: Message[]) => layers.filter((l) => l.blobs?.length).map((l) => [l.name, l.blobs.map((b: Message) => Array.from(b.data as Float32Array))]);
      expect(v2.layers).toBeUndefined();
      expect(blobsOf(v2.layer)).toEqual(blobsOf(v1.layers));
    }
  });
});

// `crema upgrade` on the trained V1 models, checked against real Caffe: its upgrade_net_proto_text output
// (trained_<m>.expected.prototxt) and the sha256 of its upgrade_net_proto_binary output. Caffe itself ran the
// files `crema upgrade` wrote and gave every blob bit-identical to the V1 originals (check_upgraded_in_caffe.py).
describe('crema upgrade', () => {
  const repo = path.resolve(fixtures, '../../..');
  const caffeSha: Record<string, string> = JSON.parse(fs.readFileSync(path.join(fixtures, 'caffe-upgraded-weights.json'), 'utf8'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-upgrade-'));
  const run = async (...args: string[]) => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      return { code: await main(['upgrade', ...args]), stderr: err.mock.calls.map((c) => c.join(' ')) };
    } finally {
      err.mockRestore();
    }
  };

  for (const model of ['lenet', 'cifar10_quick', 'cifar10_full']) {
    it(`${model}: the prototxt as Caffe upgrades it, the caffemodel byte for byte`, async () => {
      const protoOut = path.join(tmp, `${model}.prototxt`), weightsOut = path.join(tmp, `${model}.caffemodel`);
      const r1 = await run(path.join(repo, 'models', model, 'deploy.prototxt'), protoOut);
      expect(r1.code).toBe(0);
      expect(r1.stderr).toContain(`wrote ${protoOut}`);
      expect(readText(protoOut)).toEqual(readText(path.join(fixtures, `trained_${model}.expected.prototxt`)));
      expect((await run(path.join(repo, 'models', model, 'weights.caffemodel'), weightsOut)).code).toBe(0);
      expect(createHash('sha256').update(fs.readFileSync(weightsOut)).digest('hex')).toBe(caffeSha[model]);
      expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  }

  it('refuses bad input with exit 2 and a one-line message, writing nothing', async () => {
    const out = path.join(tmp, 'mixed-out.prototxt');
    const r = await run(path.join(fixtures, 'mixed.prototxt'), out);
    expect(r.code).toBe(2);
    expect(r.stderr).toEqual([`crema: ${mixedLayersMessage(path.join(fixtures, 'mixed.prototxt'))}`]);
    expect(fs.existsSync(out)).toBe(false);
    const notModel = path.join(tmp, 'notes.caffemodel');
    fs.writeFileSync(notModel, 'hello\n');
    const r2 = await run(notModel, path.join(tmp, 'x.caffemodel'));
    expect(r2.code).toBe(2);
    expect(r2.stderr[0]).toMatch(/^crema: .*notes\.caffemodel: this is a text file/);
  });

  it('upgrades a V0 prototxt to what Caffe writes', async () => {
    const out = path.join(tmp, 'v0.prototxt');
    expect((await run(path.join(fixtures, 'v0_padding.prototxt'), out)).code).toBe(0);
    expect(readText(out)).toEqual(readText(path.join(fixtures, 'v0_padding.expected.prototxt')));
  });
});
