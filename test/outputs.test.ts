// Writing outputs without losing anything of the user's: regular files replaced atomically (through a symlink,
// keeping the link and the file's mode), devices / FIFOs / stdout written straight, no temporary file left
// behind by an error or a signal. The spawned cases run bin/crema.js (needs `npm run build`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { cli } from './helpers/cli.js';

const lenet = (f: string) => path.join('models/lenet', f);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'crema-out-'));
const crema = (...args: string[]) => spawnSync('node', ['bin/crema.js', ...args], { encoding: 'buffer', maxBuffer: 1 << 26 });
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('convert / upgrade outputs', () => {
  it('write straight into a character device: /dev/null stays a device', async () => {
    const r = await cli('convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', '/dev/null');
    expect(r.code).toBe(0);
    expect(fs.lstatSync('/dev/null').isCharacterDevice()).toBe(true);
    const u = await cli('upgrade', lenet('deploy.prototxt'), '/dev/null');
    expect(u.code).toBe(0);
    expect(fs.lstatSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('follow a symlink: the file it points to is replaced (keeping its mode), the link stays a link', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'real.prototxt'), 'old');
    fs.chmodSync(path.join(dir, 'real.prototxt'), 0o640);
    fs.symlinkSync('real.prototxt', path.join(dir, 'link.prototxt'));
    const r = await cli('upgrade', lenet('deploy.prototxt'), path.join(dir, 'link.prototxt'));
    expect(r.code).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'link.prototxt')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'real.prototxt'), 'utf8')).toMatch(/^name: "LeNet"\n/);
    expect(fs.statSync(path.join(dir, 'real.prototxt')).mode & 0o777).toBe(0o640);
    // A dangling link: the file it names is created, the link kept.
    fs.symlinkSync('new.onnx', path.join(dir, 'dangling.onnx'));
    expect((await cli('convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', path.join(dir, 'dangling.onnx'))).code).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'dangling.onnx')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(dir, 'new.onnx')).size).toBeGreaterThan(1e6);
    expect(leftovers(dir)).toEqual([]);
  });

  it('-o - and a symlink to /proc/self/fd/1 write to stdout, the same bytes as a file', () => {
    const dir = tmp();
    const file = crema('convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', path.join(dir, 'a.onnx'));
    expect(file.status).toBe(0);
    const model = fs.readFileSync(path.join(dir, 'a.onnx'));
    const piped = crema('convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', '-');
    expect(piped.status).toBe(0);
    expect(piped.stdout.equals(model)).toBe(true); // only the model: what crema says went to stderr
    expect(piped.stderr.toString()).toMatch(/^wrote the model to stdout: 1\.7 MB, opset 17, /m);
    fs.symlinkSync('/proc/self/fd/1', path.join(dir, 'out'));
    const linked = crema('upgrade', lenet('deploy.prototxt'), path.join(dir, 'out'));
    expect(linked.status).toBe(0);
    expect(linked.stdout.toString()).toMatch(/^name: "LeNet"\nlayer \{/);
    expect(fs.lstatSync(path.join(dir, 'out')).isSymbolicLink()).toBe(true);
  });

  it('write into a FIFO straight (a reader gets the whole file)', async () => {
    const dir = tmp(), fifo = path.join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
    const reader = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      fs.createReadStream(fifo).on('data', (c) => chunks.push(c as Buffer)).on('end', () => resolve(Buffer.concat(chunks)));
    });
    const r = await cli('upgrade', lenet('deploy.prototxt'), fifo);
    expect(r.code).toBe(0);
    expect((await reader).toString()).toMatch(/^name: "LeNet"\n/);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('refuse a directory, a missing directory and an unwritable place in one line, leaving nothing behind', async () => {
    const dir = tmp();
    const r = await cli('upgrade', lenet('deploy.prototxt'), dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: ${dir}: is a directory, expected a file name`);
    const missing = await cli('upgrade', lenet('deploy.prototxt'), path.join(dir, 'no/such.prototxt'));
    expect(missing.stderr).toBe(`crema: ${path.join(dir, 'no/such.prototxt')}: the directory ${path.join(dir, 'no')} does not exist`);
    const blocked = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--dump', path.join(dir, 'x.onnx', 'sub'));
    expect(blocked.stderr).toBe(`crema: ${path.join(dir, 'x.onnx', 'sub')}: the directory ${path.join(dir, 'x.onnx')} does not exist`); // an output directory is made, not its parents
    fs.writeFileSync(path.join(dir, 'file'), '');
    const inFile = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--dump', path.join(dir, 'file', 'sub'));
    expect(blocked.code).toBe(2);
    expect(inFile.code).toBe(2);
    expect(inFile.stderr).toBe(`crema: ${path.join(dir, 'file', 'sub')}: cannot create the directory: a file is in the way`);
    expect(leftovers(dir)).toEqual([]);
  });

  it('one rule: an output directory is created when its parent exists (run --dump, show -o), refused naming the missing parent otherwise', async () => {
    const dir = tmp(), lenetRun = ['run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy')];
    const show = (out: string) => cli('show', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--blobs', 'conv1', '-o', out);
    expect((await cli(...lenetRun, '--dump', path.join(dir, 'dump'))).code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'dump'))).toContain('prob.npy');
    expect((await show(path.join(dir, 'pictures'))).code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'pictures')).length).toBeGreaterThan(0);
    const dump = await cli(...lenetRun, '--dump', path.join(dir, 'nonexist', 'd'));
    expect([dump.code, dump.stderr]).toEqual([2, `crema: ${path.join(dir, 'nonexist', 'd')}: the directory ${path.join(dir, 'nonexist')} does not exist`]);
    const pictures = await show(path.join(dir, 'nonexist', 'p'));
    expect([pictures.code, pictures.stderr]).toEqual([2, `crema: ${path.join(dir, 'nonexist', 'p')}: the directory ${path.join(dir, 'nonexist')} does not exist`]);
    expect(fs.existsSync(path.join(dir, 'nonexist'))).toBe(false);
  });

  it('run --dump, show and draw write through the same writer (a symlinked output stays a link)', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'target.svg'), 'old');
    fs.symlinkSync('target.svg', path.join(dir, 'net.svg'));
    expect((await cli('draw', lenet('deploy.prototxt'), '-o', path.join(dir, 'net.svg'))).code).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'net.svg')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'target.svg'), 'utf8')).toContain('<svg');
    fs.mkdirSync(path.join(dir, 'dump'));
    fs.symlinkSync('/dev/null', path.join(dir, 'dump', 'prob.npy'));
    expect((await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', lenet('example-input.npy'), '--dump', path.join(dir, 'dump'))).code).toBe(0);
    expect(fs.lstatSync(path.join(dir, 'dump', 'prob.npy')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(dir, 'dump', 'conv1.npy')).size).toBe(128 + 20 * 24 * 24 * 4);
    expect(leftovers(path.join(dir, 'dump'))).toEqual([]);
  });
});

describe('an output that is one of the inputs', () => {
  it('is refused in one line, leaving the input as it was (convert -o the weights once replaced them with the ONNX model)', async () => {
    const dir = tmp();
    const prototxt = path.join(dir, 'net.prototxt'), weights = path.join(dir, 'net.caffemodel');
    fs.copyFileSync(lenet('deploy.prototxt'), prototxt);
    fs.copyFileSync(lenet('weights.caffemodel'), weights);
    fs.symlinkSync('net.caffemodel', path.join(dir, 'link.onnx'));
    const before = fs.readFileSync(weights);
    const cases: [string[], string][] = [
      [['convert', prototxt, weights, '-o', weights], `crema: ${weights}: is an input of this command: writing it would replace it; give another output`],
      [['convert', prototxt, weights, '-o', path.join(dir, 'link.onnx')],
        `crema: ${path.join(dir, 'link.onnx')}: is the same file as ${weights}, an input of this command: writing it would replace it; give another output`],
      [['convert', prototxt, weights, '-o', `${dir}/./net.prototxt`],
        `crema: ${dir}/./net.prototxt: is the same file as ${prototxt}, an input of this command: writing it would replace it; give another output`],
      [['upgrade', prototxt, prototxt], `crema: ${prototxt}: is an input of this command: writing it would replace it; give another output`],
      [['upgrade', weights, weights], `crema: ${weights}: is an input of this command: writing it would replace it; give another output`],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(message);
    }
    expect(fs.readFileSync(weights).equals(before)).toBe(true);
    expect(fs.readFileSync(prototxt, 'utf8')).toBe(fs.readFileSync(lenet('deploy.prototxt'), 'utf8'));
    expect(leftovers(dir)).toEqual([]);
  });

  it('run --dump over its --input writes no blob at all', async () => {
    const dir = tmp();
    fs.copyFileSync(lenet('example-input.npy'), path.join(dir, 'prob.npy')); // the last blob: the others would be written first
    const r = await cli('run', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '--input', `data=${path.join(dir, 'prob.npy')}`, '--dump', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: ${path.join(dir, 'prob.npy')}: is an input of this command: writing it would replace it; give another output`);
    expect(fs.readdirSync(dir)).toEqual(['prob.npy']);
    expect(fs.readFileSync(path.join(dir, 'prob.npy')).equals(fs.readFileSync(lenet('example-input.npy')))).toBe(true);
  });

  it('the library writes where it is told: the guard is the CLI\'s', async () => {
    const dir = tmp();
    const weights = path.join(dir, 'w.caffemodel');
    fs.copyFileSync(lenet('weights.caffemodel'), weights);
    const { Net, convert } = await import('../src/index.js');
    const net = await Net.load(lenet('deploy.prototxt'), weights);
    await convert(net, { file: weights });
    expect(fs.readFileSync(weights).subarray(0, 4).toString('latin1')).not.toBe(fs.readFileSync(lenet('weights.caffemodel')).subarray(0, 4).toString('latin1'));
  });
});

describe('a read-only output file', () => {
  it('is refused, not replaced by a rename in its writable directory', () => {
    // As root every file is writable: run as nobody then (runuser), in a directory nobody can reach and write.
    const asRoot = process.getuid?.() === 0;
    const dir = asRoot ? fs.mkdtempSync('/tmp/crema-ro-') : tmp();
    fs.chmodSync(dir, 0o777);
    const out = path.join(dir, 'ro.onnx');
    fs.writeFileSync(out, 'old');
    fs.chmodSync(out, 0o444);
    const args = ['bin/crema.js', 'convert', lenet('deploy.prototxt'), lenet('weights.caffemodel'), '-o', out];
    const r = asRoot ? spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, ...args], { encoding: 'utf8' })
      : spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (asRoot && r.error) return; // no runuser: nothing to check as root
    fs.chmodSync(dir, 0o755);
    expect(r.stderr).toBe(`crema: ${out}: cannot write: the file is read-only\n`);
    expect(r.status).toBe(2);
    expect(fs.readFileSync(out, 'utf8')).toBe('old');
    expect(leftovers(dir)).toEqual([]);
    if (asRoot) fs.rmSync(dir, { recursive: true });
  });
});

describe('an interrupted convert', () => {
  // A net whose model is about 100 MB, so the write is under way when the signal comes (sent as soon as the
  // temporary file appears).
  function bigNet(dir: string): [string, string] {
    const prototxt = path.join(dir, 'big.prototxt'), weights = path.join(dir, 'big.caffemodel');
    fs.writeFileSync(prototxt, 'name: "big"\ninput: "data"\ninput_shape { dim: 1 dim: 4096 }\n' +
      'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 6144 } }\n');
    const w = new Float32Array(6144 * 4096).fill(0.5), b = new Float32Array(6144);
    fs.writeFileSync(weights, encodeCaffemodel({ name: 'big', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [6144, 4096] }, data: w }, { shape: { dim: [6144] }, data: b }] }] }));
    return [prototxt, weights];
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`by ${signal} leaves no temporary file and the old output untouched`, async () => {
      const dir = tmp();
      const [prototxt, weights] = bigNet(dir);
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      fs.writeFileSync(path.join(out, 'big.onnx'), 'the old model');
      const child = spawn('node', ['bin/crema.js', 'convert', prototxt, weights, '-o', path.join(out, 'big.onnx')], { stdio: 'ignore' });
      const watcher = fs.watch(out, () => {
        if (leftovers(out).length) child.kill(signal);
      });
      const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
      watcher.close();
      expect(status.signal).toBe(signal);
      expect(fs.readdirSync(out)).toEqual(['big.onnx']);
      expect(fs.readFileSync(path.join(out, 'big.onnx'), 'utf8')).toBe('the old model');
    }, 60_000);
  }

  it('--triton by SIGINT leaves no version directory (an empty one is a version Triton cannot load, and the next convert counted it)', async () => {
    const dir = tmp();
    const [prototxt, weights] = bigNet(dir);
    const repo = path.join(dir, 'repo');
    fs.mkdirSync(repo);
    const child = spawn('node', ['bin/crema.js', 'convert', prototxt, weights, '--triton', repo], { stdio: 'ignore' });
    const version = path.join(repo, 'big', '1');
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && fs.existsSync(version) && leftovers(version).length) {
        sent = true;
        child.kill('SIGINT');
      }
    }, 10);
    const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    clearInterval(poll);
    expect(sent).toBe(true);
    expect(status.signal).toBe('SIGINT');
    expect(fs.readdirSync(repo)).toEqual([]); // the model's directory made for this version goes too; the repository stays
  }, 60_000);

  // \`once\`: Node removes such a listener before it calls it, so crema's listeners must run first to see it.
  it.each(['on', 'once'])("in a program with its own SIGINT listener (process.%s; the library's convert with a file): the program decides, its listener called once, the write completed", async (how) => {
    const dir = tmp();
    const [prototxt, weights] = bigNet(dir);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const file = path.join(out, 'big.onnx');
    const script = `import { Net, convert } from ${JSON.stringify(path.resolve('dist/index.js'))};
      let calls = 0;
      process.${how}('SIGINT', () => calls++);
      const net = await Net.load(${JSON.stringify(prototxt)}, ${JSON.stringify(weights)});
      const { size } = await convert(net, { file: ${JSON.stringify(file)} });
      console.log(JSON.stringify({ calls, size }));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '', sent = false;
    child.stdout.on('data', (d) => (stdout += d));
    const watcher = fs.watch(out, () => {
      if (!sent && leftovers(out).length) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    watcher.close();
    expect(sent).toBe(true);
    expect(code).toBe(0);
    const { calls, size } = JSON.parse(stdout) as { calls: number; size: number };
    expect(calls).toBe(1);
    expect(fs.readdirSync(out)).toEqual(['big.onnx']);
    expect(fs.statSync(file).size).toBe(size);
  }, 60_000);
});

describe('an interrupted run --dump', () => {
  // Four blobs of 32 MB (a DummyData of constants and three Powers: no input, no weights), so the dump is under way
  // when the signal comes: sent once the second blob's temporary file appears, when the first blob is complete.
  it('by SIGINT writes none of the blobs: the dump directory stays as it was, no temporary file left', async () => {
    const dir = tmp();
    const prototxt = path.join(dir, 'big.prototxt');
    fs.writeFileSync(prototxt, 'name: "big"\n' +
      'layer { name: "data" type: "DummyData" top: "data" dummy_data_param { shape { dim: 1 dim: 8 dim: 1024 dim: 1024 } data_filler { type: "constant" value: 1 } } }\n' +
      ['data', 'p1', 'p2', 'p3'].slice(1).map((p, i, a) => `layer { name: "${p}" type: "Power" bottom: "${i ? a[i - 1] : 'data'}" top: "${p}" power_param { scale: 2 } }\n`).join(''));
    const out = path.join(dir, 'dump');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'p1.npy'), 'the last dump');
    const child = spawn('node', ['bin/crema.js', 'run', prototxt, '--dump', out], { stdio: 'ignore' });
    const seen = new Set<string>();
    let sent = false;
    const watcher = fs.watch(out, () => {
      for (const f of leftovers(out)) seen.add(f);
      if (!sent && seen.size >= 2) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    watcher.close();
    expect(sent).toBe(true);
    expect(status.signal).toBe('SIGINT');
    expect(fs.readdirSync(out)).toEqual(['p1.npy']);
    expect(fs.readFileSync(path.join(out, 'p1.npy'), 'utf8')).toBe('the last dump');
  }, 60_000);
});
