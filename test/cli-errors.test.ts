// Internal errors turned into one-line errors (exit 2): bad --labels, blob names no file can have, ONNX Runtime
// without weights, blobs named __proto__, yargs' fixed choices.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { cli, spawnCli } from './helpers/cli.js';

const lenet = (f: string) => path.join('models/lenet', f);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-errors-'));
const lastLine = (s: string) => s.trim().split('\n').at(-1);

function net(name: string, body: string): string {
  const file = path.join(tmp, `${name}.prototxt`);
  fs.writeFileSync(file, `name: "${name}"\ninput: "data"\ninput_shape { dim: 1 dim: 3 }\n${body}`);
  return file;
}
const x = path.join(tmp, 'x.npy');
writeNpy(x, new Tensor([1, 3], Float32Array.from([-1, 0.5, 2])));

describe('one-line errors instead of internal ones', () => {
  it('--labels naming a directory is refused before the forward (was EISDIR after it)', async () => {
    const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--labels', '.');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(''); // nothing printed: the net did not run
    expect(lastLine(r.stderr)).toBe('crema: .: is a directory');
  });

  it('a blob whose name cannot be a file name is refused under --dump, before the forward and any file', async () => {
    const file = net('nul', 'layer { name: "r" type: "ReLU" bottom: "data" top: "a\\000b" }\n');
    const dir = path.join(tmp, 'dump-nul');
    const r = await cli('run', file, '--input', x, '--dump', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("crema: --dump: blob 'a\\u0000b' cannot be a file name (a NUL, '.' or '..', or over 255 bytes); name the others with --blobs");
    expect(fs.existsSync(dir)).toBe(false);
    expect((await cli('run', file, '--input', x, '--dump', dir, '--blobs', 'data')).code).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['data.npy']);
  });

  it('verify, run and bench through ONNX Runtime without weights name the layers (was a stack trace, exit 70)', async () => {
    const want = "crema: no weights for 'conv1' (Convolution), 'conv2' (Convolution), 'ip1' (InnerProduct), 'ip2' (InnerProduct): give the .caffemodel that goes with the net";
    for (const args of [['verify'], ['run', '--input', lenet('example-input.npy'), '--backend', 'onnx'], ['bench', '--backend', 'onnx'], ['bench', '--backend', 'both']]) {
      const r = await cli(args[0], lenet('deploy.prototxt'), ...args.slice(1));
      expect(r.code, args.join(' ')).toBe(2);
      expect(lastLine(r.stderr)).toBe(want);
    }
  });

  it('a net of many layers without its weights names the first few and counts the rest, in the note and the error', async () => {
    const r = await cli('convert', 'models/zoo/resnet50.prototxt', '-o', path.join(tmp, 'r.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toEqual([
      'note: no weights given: layers that need weights have none: conv1, bn_conv1, scale_conv1, res2a_branch1, bn2a_branch1 and 155 more',
      "crema: no weights for 'conv1' (Convolution), 'bn_conv1' (BatchNorm), 'scale_conv1' (Scale), 'res2a_branch1' (Convolution), 'bn2a_branch1' (BatchNorm) and 155 more: give the .caffemodel that goes with the net",
    ]);
  });

  it('a blob name the net lacks: the likeliest meant, and the first dozen of its blobs (ResNet-50 has 74)', async () => {
    const r = await cli('run', 'models/zoo/resnet50.prototxt', '--dump', path.join(tmp, 'r'), '--blobs', 'res5c_branch2');
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe("crema: --blobs: no blob named 'res5c_branch2' (did you mean 'res5c_branch2a'?); the net's blobs: data, conv1, pool1, res2a_branch1, res2a_branch2a, res2a_branch2b, res2a_branch2c, res2a, res2b_branch2a, res2b_branch2b, res2b_branch2c and 63 more");
  });

  it('blobs named __proto__ and constructor go through ONNX Runtime, verify and --dump like any other', async () => {
    const file = net('proto', 'layer { name: "r" type: "ReLU" bottom: "data" top: "__proto__" }\n' +
      'layer { name: "t" type: "TanH" bottom: "__proto__" top: "constructor" }\n' +
      'layer { name: "s" type: "Sigmoid" bottom: "__proto__" top: "toString" }\n');
    const v = await cli('verify', file, '--input', x);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/verify: PASS: all 4 blobs within tolerance/);
    for (const backend of ['native', 'onnx']) {
      const dir = path.join(tmp, `dump-${backend}`);
      const r = await cli('run', file, '--input', x, '--dump', dir, '--backend', backend);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter((l) => !l.startsWith(' '))).toEqual(['constructor [1, 3]', 'toString [1, 3]']);
      expect(fs.readdirSync(dir).sort()).toEqual(['__proto__.npy', 'constructor.npy', 'data.npy', 'toString.npy']);
      expect([...readNpy(path.join(dir, '__proto__.npy')).data]).toEqual([0, 0.5, 2]);
      expect(readNpy(path.join(dir, 'constructor.npy')).data[2]).toBeCloseTo(Math.tanh(2), 6);
    }
  });

  it('an input named __proto__ feeds the net', async () => {
    const file = path.join(tmp, 'in-proto.prototxt');
    fs.writeFileSync(file, 'name: "p"\ninput: "__proto__"\ninput_shape { dim: 1 dim: 3 }\nlayer { name: "r" type: "ReLU" bottom: "__proto__" top: "y" }\n');
    for (const backend of ['native', 'onnx']) {
      const dir = path.join(tmp, `in-${backend}`);
      const r = await cli('run', file, '--input', `__proto__=${x}`, '--dump', dir, '--backend', backend);
      expect(r.code, r.stderr).toBe(0);
      expect([...readNpy(path.join(dir, 'y.npy')).data]).toEqual([0, 0.5, 2]);
    }
    // bench feeds ONNX Runtime too: the input is renamed in the session as run's is (it was fed nothing: an error).
    const b = await cli('bench', file, '--backend', 'onnx', '--iterations', '1', '--warmup', '0', '--json');
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)[0]).toMatchObject({ backend: 'onnx', batch: 1 });
  });

  it('a flag with fixed choices gets one line naming the flag and its choices', async () => {
    const r = await cli('run', lenet('deploy.prototxt'), '--backend', 'xx');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('crema: --backend xx: expected one of native, onnx');
    const two = await cli('verify', lenet('deploy.prototxt'), '--lrn', 'x', '--phase', 'y');
    expect(two.stderr).toBe('crema: --lrn x: expected one of native, decomposed; --phase y: expected one of TEST, TRAIN');
    expect((await cli('info', lenet('deploy.prototxt'), '--dialect', 'darknet')).stderr).toBe('crema: --dialect darknet: expected one of yolo, faceboxes, textboxes, hed, flownet');
  });

  it("yolov3-tiny (the YOLO ports' Caffe): one line naming the pool and --dialect's value; with it, the fork's shapes", async () => {
    const tiny = 'test/fixtures/forknets/yolov3_tiny/source.prototxt';
    const r = await cli('info', tiny);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: layer 'layer21-route' (Concat): bottom[1] 'layer9-conv' has shape [1, 256, 26, 26] but bottom[0] 'layer20-upsample' has [1, 128, 24, 24]: all inputs must have the same shape except at the concat axis 1; layer 'layer12-maxpool' before it pools 2 x 2 at stride 1, 13 x 13 to 12 x 12 in BVLC Caffe but to 13 x 13 in the YOLO ports' Caffe: for a net converted from darknet, load it with --dialect 'yolo'`);
    const ok = await cli('info', tiny, '--dialect', 'yolo', '--json');
    expect(ok.code).toBe(0);
    const blobs = JSON.parse(ok.stdout).blobs;
    expect([blobs['layer12-maxpool'], blobs['layer21-route'], blobs['layer23-conv']]).toEqual([[1, 512, 13, 13], [1, 384, 26, 26], [1, 255, 26, 26]]);
  });
});

describe('flags a new user gets wrong', () => {
  it('a missing required option names the flag to type (was "Missing required argument: output")', async () => {
    const r = await cli('draw', lenet('deploy.prototxt'));
    expect([r.code, r.stderr]).toEqual([2, 'crema: missing -o/--output (see --help)']);
    const s = await cli('show', lenet('deploy.prototxt'), lenet('weights.caffemodel'));
    expect([s.code, s.stderr]).toEqual([2, 'crema: missing -o/--output (see --help)']);
  });

  it('run --blobs without --dump is refused (it was ignored: only the outputs were printed)', async () => {
    const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--blobs', 'conv1');
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', 'crema: --blobs names the blobs --dump writes: give --dump DIR too']);
  });

  it('an empty flag value is refused (--threads \'\' ran one thread per core, --raw-scale \'\' zeroed the image)', async () => {
    const npy = lenet('example-input.npy');
    for (const [args, flag] of [[['--threads', ''], '--threads'], [['--threads='], '--threads'], [['--raw-scale', ''], '--raw-scale']] as const) {
      const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', npy, ...args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `crema: ${flag}: an empty value (leave the flag out for its default)`]);
    }
    const bare = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', npy, '--threads');
    expect([bare.code, bare.stderr]).toEqual([2, 'crema: --threads: needs a value']);
    // any flag that takes one value, typed without it, took its default silently (or was a yargs stack trace)
    const iterations = await cli('bench', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--iterations', '--json');
    expect([iterations.code, iterations.stdout, iterations.stderr]).toEqual([2, '', 'crema: --iterations: needs a value']);
    const o = await cli('convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o');
    expect([o.code, o.stderr]).toEqual([2, 'crema: -o: needs a value']);
    // repeatable flags still take several values
    const two = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', npy, npy);
    expect([two.code, two.stderr]).toEqual([2, `crema: --input ${npy}: the net has no more inputs to feed (inputs: data)`]);
  });

  it('a single-valued flag typed twice is refused (a list, which detect split as a string: a stack trace)', async () => {
    const ssh = (f: string) => path.join('test/fixtures/fork/ssh-pyramid', f);
    for (const [args, flag] of [
      [['--pyramid', '500,800', '--pyramid', '600,900'], '--pyramid'],
      [['--no-pyramid', '--pyramid', '500,800'], '--pyramid'],
      [['--scale', '600', '--scale', '800'], '--scale'],
    ] as const) {
      const r = await cli('detect', ssh('net.prototxt'), ssh('weights.caffemodel'), ssh('image.png'), ...args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `crema: ${flag}: given 2 times; give it once`]);
    }
    const threads = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--threads', '1', '--threads', '2');
    expect([threads.code, threads.stderr]).toEqual([2, 'crema: --threads: given 2 times; give it once']);
  });

  it('a repeatable flag typed without a value is refused (it parsed as an empty list and ran as if absent)', async () => {
    const npy = lenet('example-input.npy');
    const run = (...args: string[]) => cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), ...args);
    for (const [args, flag] of [
      [['--input'], '--input'],
      [['--input', '--threads', '1'], '--input'],
      [['--stage', '--input', npy], '--stage'],
      [['--input', npy, '--stage'], '--stage'],
      [['--data-shape', '--input', npy], '--data-shape'],
      [['--plugin', '--input', npy], '--plugin'],
    ] as const) {
      const r = await run(...args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `crema: ${flag}: needs a value`]);
    }
    const verify = await cli('verify', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input');
    expect([verify.code, verify.stdout, verify.stderr]).toEqual([2, '', 'crema: --input: needs a value']);
    const show = await cli('show', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', path.join(tmp, 'show'), '--blobs', 'conv1', '--input');
    expect([show.code, show.stdout, show.stderr]).toEqual([2, '', 'crema: --input: needs a value']);
    // a flag of two values given one (pose's --hand PROTOTXT CAFFEMODEL): how many it takes
    const hand = await cli('pose', lenet('deploy.prototxt'), lenet('weights.caffemodel'), 'x.png', '--hand', lenet('deploy.prototxt'));
    expect([hand.code, hand.stdout, hand.stderr]).toEqual([2, '', 'crema: --hand: needs 2 values']);
    // classify / detect without images: the positionals missing, in --help's words (was "Not enough non-option arguments: got 2, need at least 3")
    const classify = await cli('classify', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--top', '2');
    expect([classify.code, classify.stdout, classify.stderr]).toEqual([2, '', 'crema: missing <images..> (see --help)']);
    const detect = await cli('detect', lenet('deploy.prototxt'), '--json');
    expect([detect.code, detect.stdout, detect.stderr]).toEqual([2, '', 'crema: missing <weights> <images..> (see --help)']);
    expect((await run('--input', npy, '--stage', 'a', 'b')).code).toBe(0);
  });

  it('upgrade IN - writes to stdout, as README and --help say (yargs read the positional - as \'\': "cannot write: EISDIR")', async () => {
    const r = await spawnCli(process.cwd(), 'upgrade', 'models/cifar10_full/deploy.prototxt', '-');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^name: "CIFAR10_full_deploy"\nlayer \{\n {2}name: "input"/);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('wrote the V2 file to stdout');
  });

  it('--mean-per-channel with mean values, or without --mean, is refused (it did nothing)', async () => {
    const cifar = (f: string) => path.join('models/cifar10_full', f);
    const args = ['classify', cifar('deploy.prototxt'), cifar('weights.caffemodel'), cifar('examples/cat.jpg')];
    const v = await cli(...args, '--mean', '125,123,114', '--mean-per-channel');
    expect([v.code, v.stdout, v.stderr]).toEqual([2, '', 'crema: --mean-per-channel averages a mean image over each channel; --mean 125,123,114 gives values per channel already (leave the flag out)']);
    const none = await cli(...args, '--mean-per-channel');
    expect([none.code, none.stdout, none.stderr]).toEqual([2, '', 'crema: --mean-per-channel averages a mean image over each channel: give the image with --mean FILE.binaryproto or FILE.npy']);
  });

  it('an empty image file says so, naming it (was: cannot decode the image (Input file contains unsupported image format))', async () => {
    const empty = path.join(tmp, 'empty.jpg');
    fs.writeFileSync(empty, '');
    const r = await cli('run', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', '--input', empty);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `crema: ${empty}: empty file, not an image`]);
  });

  it('a file that is plainly not an image says what it is (was: cannot decode the image (Input file contains unsupported image format))', async () => {
    const text = path.join(tmp, 'notes.jpg'), npy = path.join(tmp, 'input.png');
    fs.writeFileSync(text, 'hello\n');
    fs.copyFileSync('models/cifar10_full/example-input.npy', npy);
    for (const [file, kind] of [[text, 'a text file (a .prototxt?)'], [npy, 'a NumPy .npy file']]) {
      const r = await cli('run', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', '--input', file);
      expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `crema: ${file}: this is ${kind}, not an image`]);
    }
  });
});

describe('--input a new user gets wrong', () => {
  it('an input of another net says which input and shape made the layer refuse (was only: conv1 weights do not fit)', async () => {
    const cifar = 'models/cifar10_full/example-input.npy';
    const want = "crema: input 'data' given as [1, 3, 32, 32] (the net's [1, 1, 28, 28]): layer 'conv1' (Convolution): the weights (blob 0) has shape [20, 1, 5, 5] but the layer needs [20, 3, 5, 5]";
    for (const command of ['run', 'verify']) {
      const r = await cli(command, lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', cifar);
      expect([r.code, r.stdout, r.stderr], command).toEqual([2, '', want]);
    }
    const s = await cli('show', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', cifar, '--blobs', 'conv1', '-o', path.join(tmp, 'show-cifar'));
    expect([s.code, s.stderr]).toEqual([2, want]);
  });

  it('an input that takes the net beyond 16 GiB says which input and shape made it (was the bound alone)', async () => {
    // 1 x 3 as the prototxt gives it; 100 x 3 fed: each Tile makes ~1e9 values, five blobs of them in all.
    const tiles = Array.from({ length: 5 }, (_, i) => `layer { name: "t${i}" type: "Tile" bottom: "data" top: "t${i}" tile_param { axis: 1 tiles: 3333333 } }`).join('\n');
    const file = net('big', tiles), wide = path.join(tmp, 'wide.npy');
    writeNpy(wide, new Tensor([100, 3], new Float32Array(300)));
    const r = await cli('run', file, '--input', wide);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', "crema: input 'data' given as [100, 3] (the net's [1, 3]): the net's blobs would hold 4,999,999,800 values (18.6 GiB) at these input shapes, beyond crema's bound of 16 GiB; use a smaller batch or input"]);
  });

  it('NAME= naming no input, or no file after =, is refused as such (was: cannot open nope=…: ENOENT)', async () => {
    const npy = lenet('example-input.npy');
    const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', `nope=${npy}`);
    expect([r.code, r.stderr]).toEqual([2, `crema: --input nope=${npy}: the net has no input 'nope' (inputs: data)`]);
    const e = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', 'data=');
    expect([e.code, e.stderr]).toEqual([2, "crema: --input data=: no file after '='"]);
  });
});

describe('flags typed where a new user types them', () => {
  it('a repeatable flag before the net took it as a value: said with the way out (was only: missing <net>)', async () => {
    const prototxt = lenet('deploy.prototxt');
    const stage = await cli('info', '--stage', 'deploy', prototxt);
    expect([stage.code, stage.stderr]).toEqual([2, `crema: missing <net> (see --help): --stage took 'deploy' '${prototxt}' (it takes every value after it: put them first)`]);
    const eq = await cli('run', `--data-shape=data=1,1,28,28`, prototxt, lenet('weights.caffemodel'));
    expect([eq.code, eq.stderr]).toEqual([2, `crema: missing <net> (see --help): --data-shape took 'data=1,1,28,28' '${prototxt}' '${lenet('weights.caffemodel')}' (it takes every value after it: put them first)`]);
    // after the net, the same flags are fine
    expect((await cli('info', prototxt, '--stage', 'deploy')).code).toBe(0);
  });

  it('-i is --input in every command that takes --input (run, verify, show), its refusals naming -i as typed', async () => {
    const [prototxt, weights, npy] = [lenet('deploy.prototxt'), lenet('weights.caffemodel'), lenet('example-input.npy')];
    const long = await cli('run', prototxt, weights, '--input', npy, '--json');
    const short = await cli('run', prototxt, weights, '-i', npy, '--json');
    expect([short.code, short.stderr, short.stdout]).toEqual([0, '', long.stdout]);
    const verify = await cli('verify', prototxt, weights, '-i', npy, '--json');
    expect([verify.code, JSON.parse(verify.stdout).pass, JSON.parse(verify.stdout).input]).toEqual([0, true, JSON.parse((await cli('verify', prototxt, weights, '--input', npy, '--json')).stdout).input]);
    const dir = path.join(tmp, 'show-i');
    expect((await cli('show', prototxt, weights, '-i', npy, '-o', dir, '--blobs', 'conv1')).code).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['conv1.png']);
    const bare = await cli('run', prototxt, weights, '-i');
    expect([bare.code, bare.stdout, bare.stderr]).toEqual([2, '', 'crema: -i: needs a value']);
    const first = await cli('run', '-i', npy, prototxt, weights);
    expect([first.code, first.stderr]).toEqual([2, `crema: missing <net> (see --help): -i took '${npy}' '${prototxt}' '${weights}' (it takes every value after it: put them first)`]);
  });

  it('a data layer of unknown size names --data-shape as typed', async () => {
    const file = net('mnist', 'layer { name: "mnist" type: "Data" top: "img" top: "label" data_param { batch_size: 64 } }\nlayer { name: "r" type: "ReLU" bottom: "img" top: "r" }\n');
    const r = await cli('info', file);
    expect([r.code, r.stderr.trim().split('\n').at(-1)]).toEqual([2, `crema: ${file}: layer 'mnist' (Data): cannot turn it into an Input layer: its images come from a database and transform_param.crop_size is not set; give the shape of 'img' (--data-shape img=N,C,H,W)`]);
    expect((await cli('info', file, '--data-shape', 'img=64,1,28,28')).code).toBe(0);
  });

  it("a fork's field or value names --lenient, which skips it with a warning", async () => {
    const file = net('mkl', 'layer { name: "relu" type: "ReLU" bottom: "data" top: "r" relu_param { engine: MKL2017 } }\n');
    const strict = await cli('info', file);
    expect([strict.code, strict.stderr]).toEqual([2, `crema: ${file}:4:80: layer 'relu' has unknown value 'MKL2017' for 'engine' in relu_param (expected one of DEFAULT, CAFFE, CUDNN; --lenient skips it)`]);
    const lenient = await cli('info', file, '--lenient');
    expect(lenient.code).toBe(0);
    expect(lenient.stderr.split('\n')[0]).toBe(`warning: ${file}:4:80: layer 'relu' has unknown value 'MKL2017' for 'engine' in relu_param (expected one of DEFAULT, CAFFE, CUDNN) (skipped)`);
  });

  it('a mistyped flag is named as typed, with the flag likeliest meant; a word too many is no flag (was yargs\' "Unknown argument: inptu")', async () => {
    const cases: [string[], string][] = [
      [['run', lenet('deploy.prototxt'), '--inptu', lenet('example-input.npy')], 'crema: unknown option --inptu (did you mean --input?)'],
      [['bench', lenet('deploy.prototxt'), '--thread', '1'], 'crema: unknown option --thread (did you mean --threads?)'],
      [['convert', lenet('deploy.prototxt'), '-o', path.join(tmp, 'n.onnx'), '--any-szie'], 'crema: unknown option --any-szie (did you mean --any-size?)'],
      [['info', lenet('deploy.prototxt'), '--jsno=1', '--frobnicate'], 'crema: unknown option --jsno (did you mean --json?); unknown option --frobnicate'],
      [['info', lenet('deploy.prototxt'), lenet('weights.caffemodel'), 'extra'], "crema: unexpected argument 'extra' (see --help)"],
    ];
    for (const [args, want] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(want);
    }
  });

  it("the README's models/... paths typed in an app name where the package has them (was only 'no such file')", async () => {
    // The built CLI run from another directory, as in an app: its models are not under ./models there.
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-app-'));
    const run = (...args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.resolve('bin/crema.js'), ...args], { cwd: app });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    const shipped = path.resolve('models').split(path.sep).join('/'); // as installed: a relative path would climb out of the app (../../work/...)
    const r = await run('classify', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', 'models/lenet/examples/', '--raw-scale', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: models/lenet/deploy.prototxt: no such file (the shipped one is ${shipped}/lenet/deploy.prototxt)\n`);
    const faces = await run('faces', 'models/mtcnn', 'x.jpg');
    expect(faces.stderr).toBe(`crema: models/mtcnn: no such directory (MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4)) (the shipped one is ${shipped}/mtcnn)\n`);
    const missing = await run('info', 'models/lenet/nothing.prototxt');
    expect(missing.stderr).toBe('crema: models/lenet/nothing.prototxt: no such file\n'); // no hint where there is nothing to point to
    // The README's plugin example names examples/plugins/ as a checkout has it; the package ships it too.
    const pkg = path.resolve('.').split(path.sep).join('/');
    const plugin = await run('run', 'examples/plugins/hswish.prototxt', '--plugin', 'examples/plugins/hswish.js', '--input', 'data=examples/plugins/input.npy');
    expect(plugin.stderr).toBe(`crema: --plugin examples/plugins/hswish.js: no such file (the shipped one is ${pkg}/examples/plugins/hswish.js)\n`);
  });

  it('--input naming a directory or a missing file says so, not its extension (was "got \'no extension\'")', async () => {
    const cases: [string, string][] = [
      ['models/lenet/examples', 'crema: models/lenet/examples: is a directory'],
      [path.join(tmp, 'nothing'), `crema: ${path.join(tmp, 'nothing')}: no such file`],
      ['package.json', "crema: package.json: crema reads inputs from .npy files and images (.jpg, .jpeg, .png, .webp), got '.json'"],
    ];
    for (const [input, want] of cases) {
      const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', input);
      expect(r.code, input).toBe(2);
      expect(r.stderr).toBe(want);
    }
  });
});
