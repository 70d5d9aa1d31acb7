// The plugin API: registerLayer, `--plugin FILE.js` (examples/plugins/hswish.js, the README's worked example, runs
// here natively and through ONNX Runtime), Python layers refused by module, and plugins that misbehave.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { registerLayer } from '../src/index.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { runOnnx } from '../src/onnx/run.js';
import { cli, errorOf } from './helpers/cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(root, 'examples/plugins/hswish.js');
const examplePrototxt = path.join(root, 'examples/plugins/hswish.prototxt');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-plugins-'));
const write = (name: string, text: string) => {
  fs.writeFileSync(path.join(tmp, name), text);
  return path.join(tmp, name);
};
const netOf = (text: string) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });
const head = 'input: "data" input_shape { dim: 1 dim: 4 }';

describe('--plugin: the worked example of the README (examples/plugins/hswish.js)', () => {
  // 24 values from -4 to 3.67: from -3 down 0, between -3 and 3 x (x + 3) / 6, from 3 up x itself.
  const input = new Tensor([4, 1, 6], Float32Array.from({ length: 24 }, (_, i) => (i - 12) / 3));
  const expected = Array.from(input.data, (x) => (x <= -3 ? 0 : x >= 3 ? x : (x * (x + 3)) / 6));
  const close = (got: ArrayLike<number>) => Array.from(got).forEach((v, i) => expect(v, `value ${i}`).toBeCloseTo(expected[i], 6));

  it('runs natively and through ONNX Runtime, as the formula says', async () => {
    const net = await Net.load(examplePrototxt, undefined, { plugins: [example], threads: 1 });
    close(net.forward({ data: input }).hswish.data);
    close((await runOnnx(net.graph, { data: input })).get('hswish')!.data);
    expect([expected[0], expected[23]]).toEqual([0, input.data[23]]); // both flat parts are reached
  });

  it("crema run --plugin, natively and with --backend onnx: the README's commands as written, on the shipped input", async () => {
    const npy = path.join(root, 'examples/plugins/input.npy');
    expect(readNpy(npy)).toEqual(input);
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('## Plugins')[1].split('```sh\n')[1].split('```')[0];
    const commands = readme.trim().split('\n').map((line) => line.split(/\s+/));
    expect(commands.map((c) => c.at(-1))).toEqual([`data=examples/plugins/input.npy`, 'onnx']);
    for (const [i, command] of commands.entries()) {
      expect(command.slice(0, 2)).toEqual(['npx', 'crema']);
      const dump = path.join(tmp, `dump-${i}`);
      const cwd = process.cwd();
      process.chdir(root); // a clone's root, where the README's paths start
      const r = await cli(...command.slice(2), '--dump', dump).finally(() => process.chdir(cwd));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('hswish [4, 1, 6]');
      close(readNpy(path.join(dump, 'hswish.npy')).data);
    }
  });

  it('crema info --plugin shows the layer', async () => {
    const r = await cli('info', examplePrototxt, '--plugin', example);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/│ hswish\s+│ HSwish\s+│ data → hswish\s+│ \[4, 1, 6\]/);
  });

  it('a plugin that throws is one line naming the plugin file and the layer', async () => {
    const bad = write('bad.prototxt', `${head} layer { name: "h" type: "HSwish" bottom: "data" bottom: "data" top: "h" }`);
    const r = await cli('info', bad, '--plugin', example);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: layer 'h' (HSwish): the plugin ${example} threw: Error: HSwish takes one bottom and gives one top`);
  });
});

describe('plugins that are not right', () => {
  it('a file that cannot be imported, or exports no layer type', async () => {
    const broken = write('broken.js', 'export default {;');
    expect((await cli('info', examplePrototxt, '--plugin', broken)).stderr).toMatch(new RegExp(`^crema: --plugin ${broken}: cannot load it: `));
    const empty = write('empty.js', 'export const x = 1;');
    expect((await cli('info', examplePrototxt, '--plugin', empty)).stderr).toBe(`crema: --plugin ${empty}: exports no layer type (export default { type, create } or an array of them)`);
    const noCreate = write('nocreate.js', "export default { type: 'Foo' };");
    expect((await cli('info', examplePrototxt, '--plugin', noCreate)).stderr).toBe(
      `crema: ${noCreate}: a layer type is an object { type: 'Name', create(def, weights) { return { reshape, forward } }, onnx? }`,
    );
  });

  it('a plugin cannot replace a built-in layer type', () => {
    expect(errorOf(() => registerLayer({ type: 'ReLU', create: () => ({ reshape: (s) => s, forward: () => undefined }) }))).toBe(
      "registerLayer: 'ReLU' is a built-in layer type of crema; a plugin adds types crema lacks",
    );
  });

  it('errors in reshape and forward name the layer; a wrong reshape result is refused', () => {
    registerLayer({
      type: 'TestThrowing',
      create: (def) => ({
        reshape: (s) => (def.name === 'shape' ? (7 as unknown as number[][]) : s),
        forward: () => {
          throw new RangeError('boom\nsecond line');
        },
      }),
    });
    expect(errorOf(() => netOf(`${head} layer { name: "shape" type: "TestThrowing" bottom: "data" top: "y" }`))).toBe(
      "layer 'shape' (TestThrowing): the plugin given to registerLayer: reshape() must return one shape (an array of dims) per top",
    );
    const net = netOf(`${head} layer { name: "t" type: "TestThrowing" bottom: "data" top: "y" }`);
    expect(errorOf(() => net.forward())).toBe("layer 't' (TestThrowing): the plugin given to registerLayer threw: RangeError: boom");
  });
});

describe('a plugin whose forward sizes its tops (sizesTops), as a Python layer calling top.reshape in forward', () => {
  // Keeps the rows of x whose first value is above 0: the layers after it run on that many rows.
  registerLayer({
    type: 'TestKeepRows',
    create: (def) => ({
      sizesTops: true,
      reshape: ([s]) => [s],
      forward: ([x], [y]) => {
        const kept = [];
        for (let r = 0; r < x.dims[0]; r++) if (x.data[2 * r] > 0) kept.push(x.data[2 * r], x.data[2 * r + 1]);
        if (def.name === 'wrong') y.dims = [kept.length / 2, 2]; // its data left as it was
        else {
          y.dims = [kept.length / 2, 2];
          y.data = y.data.subarray(0, kept.length);
        }
        y.data.set(kept);
      },
    }),
  });
  const text = (name: string) => `input: "data" input_shape { dim: 4 dim: 2 }
    layer { name: "${name}" type: "TestKeepRows" bottom: "data" top: "kept" }
    layer { name: "twice" type: "Power" bottom: "kept" top: "twice" power_param { scale: 2 } }`;
  it('the layers after it are shaped again at every forward', () => {
    const net = netOf(text('keep'));
    for (const [data, want] of [[[1, 2, -1, 3, 4, 5, 6, 7], [2, 4, 8, 10, 12, 14]], [[-1, 2, -1, 3, 4, 5, -6, 7], [8, 10]], [[1, 1, 2, 2, 3, 3, 4, 4], [2, 2, 4, 4, 6, 6, 8, 8]]]) {
      const out = net.forward({ data: Float32Array.from(data) });
      expect(out.twice.dims).toEqual([want.length / 2, 2]);
      expect(Array.from(out.twice.data)).toEqual(want);
      expect(net.shapes.get('twice')).toEqual([want.length / 2, 2]);
    }
  });
  it('a top whose values do not fit its shape is refused by name', () => {
    expect(errorOf(() => netOf(text('wrong')).forward({ data: Float32Array.of(1, 2, -1, 3, 4, 5, 6, 7) }))).toBe(
      "layer 'wrong' (TestKeepRows): its forward gave top 'kept' the shape [3, 2] and 8 values",
    );
  });
  it('an empty top (0 rows) gives the layers after it empty tops, not run; the next forward with rows computes them', () => {
    const net = netOf(text('keep'));
    expect(net.forward({ data: Float32Array.of(-1, 2, -1, 3, -4, 5, -6, 7) }).twice.dims).toEqual([0, 2]);
    expect(Array.from(net.forward({ data: Float32Array.of(-1, 2, 1, 3, -4, 5, -6, 7) }).twice.data)).toEqual([2, 6]);
  });
});

describe('Python layers', () => {
  const python = `${head} layer { name: "prop" type: "Python" bottom: "data" top: "p" python_param { module: "my.layers" layer: "Thing" } }`;
  it('a module crema does not build in is refused by name, saying how to register a replacement', () => {
    expect(errorOf(() => netOf(python))).toBe(
      "layer 'prop' (Python): crema cannot run Python layers; this one is my.layers.Thing (python_param module 'my.layers', layer 'Thing'). Register a replacement: a plugin module exporting { type: 'my.layers.Thing', create(def, weights) { … } }, given in options.plugins (or registerLayer)",
    );
  });
  it('a registered replacement runs in its place', () => {
    registerLayer({ type: 'my.layers.Thing', create: () => ({ reshape: (s) => s, forward: ([x], [y]) => y.data.set(x.data.map((v) => v * 2)) }) });
    const net = netOf(python);
    expect(Array.from(net.forward({ data: Float32Array.of(1, 2, 3, 4) }).p.data)).toEqual([2, 4, 6, 8]);
  });
});

