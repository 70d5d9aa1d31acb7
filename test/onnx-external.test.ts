// The model ONNX Runtime sessions are made from in Node: the converted model with its large tensors in a weights
// file (src/onnx/external.ts), which ONNX Runtime maps instead of copying. The referee is the converted model's own
// encoding (encodeConversion, checked against protobufjs's in onnx-convert.test.ts).
import { spawnSync } from 'node:child_process';
import fs, { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it, vi } from 'vitest';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { EXTERNAL_ALIGN, WEIGHTS_FILE, externalModel } from '../src/onnx/external.js';
import { type ModelObj, decodeModel, encodeModel, onnxType } from '../src/onnx/proto.js';
import { type Stored, readBack, watchModelDirs } from './helpers/external.js';
import { CremaError } from '../src/util/errors.js';
import { NCHWC_MAX_BYTES, convWeightBytes, layoutOptions, runOnnx } from '../src/onnx/run.js';
import { LEGACY_STALE_MS, STALE_MS, nodePlatform, sweepModelDirs } from '../src/platform/node.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { randomArray, rng } from './helpers/compute.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = (dir: string) => Net.load(path.join(repo, 'models', dir, 'deploy.prototxt'), path.join(repo, 'models', dir, 'weights.caffemodel'));

/** The weights file, as the one external data file of every tensor. */
const only = (file: Uint8Array) => (location: string) => {
  expect(location).toBe(WEIGHTS_FILE);
  return file;
};

describe('externalModel', () => {
  it('read back from its weights file, is the converted model byte for byte (LeNet with every blob an output, CIFAR-10)', async () => {
    const lenet = await load('lenet'), cifar = await load('cifar10_full');
    for (const conversion of [convertGraph(lenet.graph, { outputs: 'all' }), convertGraph(cifar.graph, { lrn: 'decomposed' })]) {
      const { model, weights } = externalModel(conversion.model);
      const file = new Uint8Array(weights.at(-1)!.offset + weights.at(-1)!.bytes.length);
      for (const w of weights) file.set(w.bytes, w.offset);
      const expected = encodeConversion(conversion);
      expect(Buffer.from(encodeModel(readBack(model, only(file)))).equals(Buffer.from(expected))).toBe(true);
      // protobufjs reads the outer model the same way (external_data, data_location as ONNX numbers them)
      const theirs = onnxType('ModelProto').toObject(onnxType('ModelProto').decode(model), { longs: Number, arrays: true }) as ModelObj;
      expect(theirs.graph.initializer.filter((t) => (t as Stored).external_data?.length).length).toBe(weights.length);
      // the outer model is the rest: each moved tensor's bytes gone, a few dozen bytes of reference in their place
      const moved = weights.reduce((sum, w) => sum + w.bytes.length, 0);
      expect(model.length).toBeLessThan(expected.length - moved + weights.length * 100);
    }
  });

  it('moves out exactly the tensors of EXTERNAL_ALIGN bytes or more, each aligned, views of the net\'s own weights (no copy)', async () => {
    const lenet = await load('lenet');
    const { model, weights } = externalModel(convertGraph(lenet.graph).model);
    const big = [...lenet.params.values()].flat().filter((t) => t.data.byteLength >= EXTERNAL_ALIGN);
    expect(big.map((t) => t.size)).toEqual([50 * 20 * 5 * 5, 500 * 800]); // conv2's and ip1's weights; the biases, conv1 and ip2 stay inline
    expect(weights.map((w) => w.bytes.length)).toEqual(big.map((t) => t.data.byteLength));
    weights.forEach((w, i) => {
      expect(w.offset % EXTERNAL_ALIGN).toBe(0);
      if (i > 0) expect(w.offset).toBeGreaterThanOrEqual(weights[i - 1].offset + weights[i - 1].bytes.length);
      expect(w.bytes.buffer).toBe(big[i].data.buffer);
      expect(w.bytes.byteOffset).toBe(big[i].data.byteOffset);
    });
    const inline = decodeModel(model).graph.initializer.filter((t) => !(t as Stored).external_data?.length);
    expect(inline.every((t) => t.raw_data.length < EXTERNAL_ALIGN)).toBe(true);
  });

  it("perTensor: each large tensor a file of its own at offset 0, the net's weights as they are; read back, the converted model byte for byte", async () => {
    const lenet = await load('lenet');
    const conversion = convertGraph(lenet.graph, { outputs: 'all' });
    const { model, weights } = externalModel(conversion.model, WEIGHTS_FILE, true);
    const big = [...lenet.params.values()].flat().filter((t) => t.data.byteLength >= EXTERNAL_ALIGN);
    expect(weights.map((w, i) => [w.location, w.offset, w.bytes.buffer === big[i].data.buffer, w.bytes.byteOffset === big[i].data.byteOffset])).toEqual([
      ['weights-0.bin', 0, true, true],
      ['weights-1.bin', 0, true, true],
    ]);
    const files = new Map(weights.map((w) => [w.location!, w.bytes]));
    expect(Buffer.from(encodeModel(readBack(model, (location) => files.get(location)!))).equals(Buffer.from(encodeConversion(conversion)))).toBe(true);
  });
});

describe('ONNX Runtime sessions from files (Node)', () => {
  it('writes the model and its weights file, which a session maps: it runs after they are removed, as a session from the bytes does', async () => {
    const lenet = await load('lenet');
    const conversion = convertGraph(lenet.graph, { outputs: 'all' });
    const ext = externalModel(conversion.model);
    const files = nodePlatform.onnxModelFiles!(ext);
    const dir = path.dirname(files.path);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.onnx', WEIGHTS_FILE]);
    expect(Buffer.from(fs.readFileSync(files.path)).equals(Buffer.from(ext.model))).toBe(true);
    const file = fs.readFileSync(path.join(dir, WEIGHTS_FILE));
    for (const w of ext.weights) expect(Buffer.from(file.subarray(w.offset, w.offset + w.bytes.length)).equals(Buffer.from(w.bytes))).toBe(true);
    const options = { graphOptimizationLevel: 'all', logSeverityLevel: 3, intraOpNumThreads: 1 } as const;
    const mapped = await ort.InferenceSession.create(files.path, options);
    expect(files.remove()).toBe(true);
    expect(fs.existsSync(dir)).toBe(false);
    const fromBytes = await ort.InferenceSession.create(encodeConversion(conversion), options);
    const feeds = { data: new ort.Tensor('float32', randomArray(28 * 28, rng(7)), [1, 1, 28, 28]) };
    const [a, b] = [await mapped.run(feeds), await fromBytes.run(feeds)];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const name of Object.keys(b)) expect(Array.from(a[name].data as Float32Array), name).toEqual(Array.from(b[name].data as Float32Array));
    await Promise.all([mapped.release(), fromBytes.release()]);
  });

  it('runOnnx leaves no model files behind once its session is made', async () => {
    const lenet = await load('lenet');
    const { made, restore } = watchModelDirs();
    try {
      const out = await runOnnx(lenet.graph, { data: new Tensor([1, 1, 28, 28], randomArray(28 * 28, rng(3))) });
      expect(out.get('prob')!.dims).toEqual([1, 10]);
    } finally {
      restore();
    }
    expect(made.length).toBe(1);
    expect(fs.existsSync(made[0])).toBe(false);
  });

  it('makes the session from the bytes where the files cannot be written (a full or read-only temporary folder): the same outputs', async () => {
    const lenet = await load('lenet');
    const data = new Tensor([1, 1, 28, 28], randomArray(28 * 28, rng(4)));
    const mapped = await runOnnx(lenet.graph, { data });
    const write = nodePlatform.onnxModelFiles!;
    nodePlatform.onnxModelFiles = () => {
      throw new CremaError('cannot write the model for ONNX Runtime in /tmp/x: ENOSPC: no space left on device, write');
    };
    try {
      const fromBytes = await runOnnx(lenet.graph, { data });
      expect(fromBytes.get('prob')!.data).toEqual(mapped.get('prob')!.data);
    } finally {
      nodePlatform.onnxModelFiles = write;
    }
  });

  it('leaves out the NCHWc transformer only for a model whose Conv weights pass the bound', async () => {
    const lenet = await load('lenet');
    const model = convertGraph(lenet.graph).model;
    expect(convWeightBytes(model)).toBe(4 * (20 * 1 * 5 * 5 + 50 * 20 * 5 * 5)); // conv1's and conv2's weights, not their biases nor ip1's
    expect(layoutOptions(model)).toEqual({});
    expect(layoutOptions(model, convWeightBytes(model) - 1)).toEqual({ extra: { optimization: { disable_specified_optimizers: 'NchwcTransformer' } } });
    expect(NCHWC_MAX_BYTES).toBe(256 * 1048576);
  });
});

describe('model files a killed process left (sweepModelDirs)', () => {
  /** A pid no process has: a child's, once it has exited (spawned again in the unlikely case it was reused). */
  function deadPid(): number {
    for (;;) {
      const pid = spawnSync(process.execPath, ['-e', '']).pid!;
      try {
        process.kill(pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return pid;
      }
    }
  }

  /** A directory named as crema names its model files (or `name`), holding one file, last changed `age` ms before `now`. */
  function modelDir(root: string, pid: number, random: string, age: number, now: number, name = `crema-onnx-${pid}-${random}`): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, WEIGHTS_FILE), 'weights');
    fs.utimesSync(dir, (now - age) / 1000, (now - age) / 1000);
    return dir;
  }

  /** A temporary folder with a stale directory of a dead pid, a live pid's, a fresh one and look-alikes. */
  function folder(now: number) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-sweep-test-'));
    const dead = deadPid(), old = 2 * STALE_MS;
    const stale = modelDir(root, dead, 'aB3xYz', old, now);
    const live = modelDir(root, process.pid, 'qQ1wE2', old, now);
    const fresh = modelDir(root, dead, 'Zz9Yy8', STALE_MS - 1000, now);
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-sweep-target-'));
    fs.writeFileSync(path.join(elsewhere, 'keep'), 'x');
    fs.symlinkSync(elsewhere, path.join(root, `crema-onnx-${dead}-L1nk00`)); // a link of our pattern: never followed
    fs.writeFileSync(path.join(root, `crema-onnx-${dead}-F1le00`), 'a file'); // a file of our pattern: not ours
    modelDir(root, dead, '', old, now, 'crema-onnx-files-xxxxxx'); // another name (a test's, another tool's): not ours
    // an older crema's (no pid): one two hours old, one half an hour old
    const legacyOld = modelDir(root, 0, '', 2 * LEGACY_STALE_MS, now, 'crema-onnx-Ab12Cd');
    const legacyYoung = modelDir(root, 0, '', LEGACY_STALE_MS / 2, now, 'crema-onnx-Ef34Gh');
    return { root, dead, stale, live, fresh, elsewhere, legacyOld, legacyYoung };
  }

  const names = (root: string) => fs.readdirSync(root).sort();

  it('removes only the directories of dead pids last changed a minute or more ago (an older crema\'s, without a pid, an hour): not a live pid\'s, a fresh one, a link or a file', () => {
    const now = Date.now();
    const { root, dead, live, fresh, elsewhere, legacyYoung } = folder(now);
    expect([STALE_MS, LEGACY_STALE_MS]).toEqual([60_000, 3_600_000]);
    expect(sweepModelDirs(root, now).sort()).toEqual([`crema-onnx-${dead}-aB3xYz`, 'crema-onnx-Ab12Cd'].sort());
    expect(names(root)).toEqual([`crema-onnx-${dead}-F1le00`, `crema-onnx-${dead}-L1nk00`, path.basename(fresh), 'crema-onnx-files-xxxxxx', path.basename(live), path.basename(legacyYoung)].sort());
    expect(fs.readdirSync(elsewhere)).toEqual(['keep']); // the link's target untouched
    expect(fs.readFileSync(path.join(fresh, WEIGHTS_FILE), 'utf8')).toBe('weights');
    // a minute later the fresh one is stale too; the live pid's stays while its process lives
    expect(sweepModelDirs(root, now + STALE_MS)).toEqual([path.basename(fresh)]);
    expect(sweepModelDirs(root, now + 10 * STALE_MS)).toEqual([]);
    expect(sweepModelDirs(root, now + LEGACY_STALE_MS / 2)).toEqual([path.basename(legacyYoung)]); // an hour old now
    expect(fs.existsSync(live)).toBe(true);
    expect(sweepModelDirs(path.join(root, 'no such folder'), now)).toEqual([]);
    fs.rmSync(root, { recursive: true });
    fs.rmSync(elsewhere, { recursive: true });
  });

  it('runs when a session\'s files are written, in their folder, which then holds none of this session\'s', async () => {
    const lenet = await load('lenet');
    const { root, dead, live, fresh, elsewhere, legacyYoung } = folder(Date.now());
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = root; // os.tmpdir(), where the Node platform writes the model files
    const data = new Tensor([1, 1, 28, 28], randomArray(28 * 28, rng(5)));
    try {
      const out = await runOnnx(lenet.graph, { data });
      expect(out.get('prob')!.dims).toEqual([1, 10]);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    expect(names(root)).toEqual([`crema-onnx-${dead}-F1le00`, `crema-onnx-${dead}-L1nk00`, path.basename(fresh), 'crema-onnx-files-xxxxxx', path.basename(live), path.basename(legacyYoung)].sort());
    fs.rmSync(root, { recursive: true });
    fs.rmSync(elsewhere, { recursive: true });
  });

  it('never fails the session: a folder that cannot be listed, a directory that cannot be removed (read-only), the same outputs', async () => {
    const lenet = await load('lenet');
    const data = new Tensor([1, 1, 28, 28], randomArray(28 * 28, rng(6)));
    const want = (await runOnnx(lenet.graph, { data })).get('prob')!.data;
    const { root, stale, elsewhere, legacyOld } = folder(Date.now());
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = root;
    // as root, permissions refuse nothing: the file system's refusals are made here, where the sweep meets them
    const refused = (code: string) => Object.assign(new Error(`${code}: refused`), { code });
    const { made, restore } = watchModelDirs();
    const rm = vi.spyOn(fs, 'rmSync').mockImplementation(function (this: unknown, at, options) {
      if (String(at) === stale) throw refused('EROFS');
      return Reflect.apply(rmSync, fs, [at, options]);
    });
    try {
      expect((await runOnnx(lenet.graph, { data })).get('prob')!.data).toEqual(want);
      const removals = rm.mock.calls.map(([at]) => String(at));
      expect(removals.slice(0, -1).sort()).toEqual([stale, legacyOld].sort()); // both tried, the stale one refused
      expect(removals.at(-1)).toBe(made[0]); // then its own files
      expect(fs.existsSync(stale)).toBe(true);
      const list = vi.spyOn(fs, 'readdirSync').mockImplementation(() => {
        throw refused('EACCES');
      });
      try {
        expect((await runOnnx(lenet.graph, { data })).get('prob')!.data).toEqual(want);
      } finally {
        list.mockRestore();
      }
      expect(made.length).toBe(2); // both sessions from their files, removed once made
      for (const dir of made) expect(fs.existsSync(dir)).toBe(false);
    } finally {
      rm.mockRestore();
      restore();
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    fs.rmSync(root, { recursive: true });
    fs.rmSync(elsewhere, { recursive: true });
  });
});
