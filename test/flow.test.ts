// crema flow: FlowNet 2.0's scripts/run-flownet.py restated (src/detect/flow.ts). Referees: the templates filled by
// run-flownet.py's own lines under Python 2.7.18, as the script ran (fixtures/flownet/fill-py2.py: Python 2's str() of
// the scales, 12 digits), for several sizes, as sha256 of the text; made in ../shared's caffe-ref chroot by
// fixtures/flownet/make-flow.py (python3 3.9, numpy 1.19.5): a .flo written by run-flownet.py's own writeFlow;
// flow_vis's flow_to_color restated, on a synthetic flow. The whole command
// on two small images with FlowNet2-S and synthetic weights (hashweights from ../shared: skipped loudly without it)
// against `crema run` of the filled net on .npy inputs made here from the images' bytes, natively and in ONNX Runtime;
// a 16-bit gray PNG's values as Pillow 8.1 reads them (gray16.json); the scales of every width to 8192 as python3
// formats them, run here (skipped loudly without it).
import { createHash } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonFixed8 } from '../src/detect/disparity.js';
import { fillFlowTemplate, floBytes, flowColors, flowInputs, flowLengths, flowVariables } from '../src/detect/flow.js';
import { FlowNets } from '../src/detect/flow-net.js';
import { flow, loadFlow, loadImage } from '../src/index.js';
import type { Net } from '../src/runtime/net.js';
import { readNpy, writeNpy } from '../src/util/npy.js';
import { printfF, printfG } from '../src/util/round.js';
import { cli } from './helpers/cli.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';
import { flowPattern, flownetWeights } from './helpers/flownet.js';

const dir = path.join(import.meta.dirname, 'fixtures/flownet');
const fixture = (name: string) => path.join(dir, name);
const template = (name: string) => fs.readFileSync(fixture(`${name}.prototxt.template`), 'utf8');
const asFlow = (file: string) => {
  const t = readNpy(fixture(file));
  return { height: t.dims[0], width: t.dims[1], data: t.data };
};

describe("the template filled as run-flownet.py fills it under Python 2.7 (byte for byte)", () => {
  const fills = JSON.parse(fs.readFileSync(fixture('fill.json'), 'utf8')) as Record<string, string>;
  it.each(Object.keys(fills))('%s', (key) => {
    const [name, size] = key.split(' '), [w, h] = size.split('x').map(Number);
    expect(createHash('sha256').update(fillFlowTemplate(template(name), w, h)).digest('hex')).toBe(fills[key]);
  });
  it('96 x 64: the filled fixtures the FlowNet tests run, and the scale 0.75 they check', () => {
    for (const name of ['FlowNet2-S', 'FlowNet2-ss', 'FlowNet2']) expect(fillFlowTemplate(template(name), 96, 64)).toBe(fs.readFileSync(fixture(`${name}.prototxt`), 'utf8'));
  });
  it('refuses a variable run-flownet.py does not fill, naming the line', () => {
    expect(() => fillFlowTemplate('input: "img0"\n  dim: $TARGET_HEIGHT$\n  dim: $TARGET_DEPTH$\n', 96, 64, 'my.template')).toThrow(
      'my.template:3: unknown template variable $TARGET_DEPTH$ (run-flownet.py fills $TARGET_WIDTH$ $TARGET_HEIGHT$ $ADAPTED_WIDTH$ $ADAPTED_HEIGHT$ $SCALE_WIDTH$ $SCALE_HEIGHT$)');
  });
});

/** Values the printf tests write, with '%.12g' and '%.3f': powers of ten, carries into the next one, ties. */
const PRINTF_CASES = [1, 0.1, 0.01, 0.001, 0.0001, 0.00999999999999, 0.0999999999999951, 0.99999999999951, 9.9999999999995, 0.5, 0.0625, 0.1234567890125, 123456789012.5, 2.675, 1.0005, 0.0005];

/**
 * The scales' referee, python3 run once: for every width w to 8192 (aw its multiple of 64) run-flownet.py's str() of
 * w / aw (Python 2's '%.12g', '.0' on a whole number: Python 3's format '.12') and demo.py's '%.8f'; PRINTF_CASES'
 * '%.12g %.3f'. Undefined without python3: those tests are skipped, loudly.
 */
const python = (() => {
  const script = `import json
widths = [(w, -(-w // 64) * 64) for w in range(1, 8193)]
print(json.dumps({'str': [format(w / aw, '.12') for w, aw in widths], 'f8': ['%.8f' % (w / aw) for w, aw in widths],
  'printf': ['%.12g %.3f' % (x, x) for x in ${JSON.stringify(PRINTF_CASES)}]}))`;
  const run = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  return run.status === 0 ? (JSON.parse(run.stdout) as { str: string[]; f8: string[]; printf: string[] }) : undefined;
})();
if (!python) console.warn("\n*** python3 is missing: the scales against Python's formatting (test/flow.test.ts) are SKIPPED ***\n");

describe.skipIf(!python)('the scales as Python writes them, every width 1 to 8192 (python3 run here)', () => {
  const widths = Array.from({ length: 8192 }, (_, i) => i + 1);
  it("run-flownet.py's str() of width / adapted width: Python 2's '%.12g' with '.0' on a whole number, ties included (8129 / 8192)", () => {
    const scales = widths.map((w) => flowVariables(w, w));
    expect(scales.map((v) => v.SCALE_WIDTH)).toEqual(python!.str);
    expect(scales.map((v) => v.SCALE_HEIGHT)).toEqual(python!.str);
    expect(python!.str[8128]).toBe('0.992309570312'); // a tie toPrecision rounds up (16 widths did)
  });
  it("demo.py's '%.8f' of the disparity's x scale", () => {
    expect(widths.map((w) => pythonFixed8(w, Math.ceil(w / 64) * 64))).toEqual(python!.f8);
  });
  it("printfG and printfF at powers of ten, carries and ties, as Python's '%.12g' and '%.3f'", () => {
    expect(PRINTF_CASES.map((x) => `${printfG(x, 12)} ${printfF(x, 3)}`)).toEqual(python!.printf);
  });
});

describe('the .flo and the colour picture', () => {
  it("the .flo's bytes are run-flownet.py's writeFlow's", () => {
    expect(Buffer.from(floBytes(asFlow('flo.npy')))).toEqual(fs.readFileSync(fixture('flo.flo')));
  });
  it("the picture's bytes are flow_vis's flow_to_color's (every angle and radius, zeros, a far outlier)", () => {
    expect(Buffer.from(flowColors(asFlow('vis.npy')))).toEqual(fs.readFileSync(fixture('vis.rgb')));
  });
  it("the summary's lengths: the largest and the mean over every pixel (zeros counted)", () => {
    expect(flowLengths({ width: 3, height: 1, data: new Float32Array([3, 4, 0, 0, -6, 8]) })).toEqual({ max: 10, mean: 5 });
  });
});

describe("the images as run-flownet.py feeds them", () => {
  it("a 16-bit gray PNG: Pillow's 0..65535 values (scipy.misc.imread's uint16) in all three channels, not bytes", async () => {
    const im = await loadImage(fixture('gray16.png'), true, false), want = JSON.parse(fs.readFileSync(fixture('gray16.json'), 'utf8')) as number[];
    expect([...flowInputs(im, im, ['a', 'b']).img0.data]).toEqual([...want, ...want, ...want]);
  });
});

describe("many pairs on one net, as run-flownet-many.py runs its list", () => {
  /** A FlowNets over FlowNet2-S's template whose "nets" record the size they were filled for, and their disposal. */
  const counting = (text: string) => {
    const events: string[] = [];
    const load = async (prototxt: Uint8Array) => {
      const dims = /dim: (\d+)\s+dim: (\d+)\s*}/.exec(new TextDecoder().decode(prototxt))!;
      const size = `${dims[2]}x${dims[1]}`;
      events.push(`load ${size}`);
      return { dispose: () => events.push(`dispose ${size}`) } as unknown as Net;
    };
    return { nets: new FlowNets(new TextEncoder().encode(text), 'FlowNet2-S.prototxt.template', load), events };
  };

  it('the template is filled and loaded again only when the size changes (the script fills it then); the net of the last size is kept', async () => {
    const { nets, events } = counting(template('FlowNet2-S'));
    for (const [w, h] of [[100, 50], [100, 50], [70, 40], [70, 40], [70, 40], [100, 50]]) await nets.netFor(w, h);
    await nets.dispose();
    expect(events).toEqual(['load 100x50', 'dispose 100x50', 'load 70x40', 'dispose 70x40', 'load 100x50', 'dispose 100x50']);
    expect(nets.loaded).toBe(3);
  });

  it('a net already filled is loaded once, whatever the sizes (checkFlowNet refuses another size)', async () => {
    const { nets, events } = counting(fs.readFileSync(fixture('FlowNet2-S.prototxt'), 'utf8'));
    for (const [w, h] of [[96, 64], [70, 40]]) await nets.netFor(w, h);
    expect(events).toEqual(['load 96x64']);
  });

  it('crema flow --list refuses a bad list before any work, naming the file and line', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-flowlist-'));
    const list = (name: string, text: string) => {
      fs.writeFileSync(path.join(tmp, name), text);
      return path.join(tmp, name);
    };
    const run = (...args: string[]) => cli('flow', fixture('FlowNet2-S.prototxt.template'), path.join(tmp, 'no-weights.caffemodel'), ...args);
    const short = list('short.txt', `a.png b.png ${tmp}/first.flo\n\n   \nc.png d.png\n`);
    expect(await run('--list', short)).toEqual({ code: 2, stdout: '', stderr: `crema: ${short}:4: expected "img0 img1 out.flo" (three paths, no spaces in them), got 2 fields` });
    expect(fs.existsSync(path.join(tmp, 'first.flo'))).toBe(false);
    const long = list('long.txt', 'my frame 0.png my frame 1.png out.flo\n');
    expect((await run('--list', long)).stderr).toBe(`crema: ${long}:1: expected "img0 img1 out.flo" (three paths, no spaces in them), got 7 fields`);
    const twice = list('twice.txt', 'a.png b.png x.flo\nb.png c.png y.flo\r\nc.png d.png x.flo\n');
    expect((await run('--list', twice)).stderr).toBe(`crema: ${twice}:3: x.flo is written by line 1 already`);
    const nodir = list('nodir.txt', `a.png b.png ${tmp}/x.flo\nb.png c.png ${tmp}/none/y.flo\n`);
    expect((await run('--list', nodir)).stderr).toBe(`crema: ${nodir}:2: ${tmp}/none/y.flo: the directory ${tmp}/none does not exist`);
    const empty = list('empty.txt', '\n  \n');
    expect((await run('--list', empty)).stderr).toBe(`crema: ${empty}: no pairs (a line "img0 img1 out.flo" each)`);
    expect((await run('--list', path.join(tmp, 'missing.txt'))).stderr).toBe(`crema: ${path.join(tmp, 'missing.txt')}: no such file`);
    expect((await run('a.png', 'b.png', '--list', twice, '-o', 'x.flo')).stderr).toBe('crema: flow --list: the list gives the pairs and their outputs; drop IMG0 IMG1 and -o');
    expect((await run('a.png')).stderr).toBe('crema: flow: give IMG0 and IMG1, or --list FILE (lines "img0 img1 out.flo")');
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describe.skipIf(sharedMissing())('crema flow with FlowNet2-S (synthetic weights), against crema run of the filled net', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-flow-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const at = (name: string) => path.join(tmp, name);
  const W = 100, H = 50;
  const templateFile = fixture('FlowNet2-S.prototxt.template');

  const weights = (() => {
    let made: string | undefined;
    return () => (made ??= flownetWeights(tmp, W, H));
  })();

  /** A smooth colour pattern, shifted by (dx, dy), as PNG; its raw RGB bytes beside. */
  async function image(name: string, dx: number, dy: number, channels: 1 | 3 = 3): Promise<Uint8Array> {
    const { default: sharp } = await import('sharp');
    const px = flowPattern(W, H, dx, dy, channels);
    await sharp(px, { raw: { width: W, height: H, channels } }).png().toFile(at(name));
    return px;
  }
  /** run-flownet.py's input from the bytes: 1 x 3 x H x W float, BGR (gray in all three). */
  const npyOf = (px: Uint8Array, channels: number, file: string) => {
    const data = new Float32Array(3 * W * H);
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) data[c * W * H + i] = px[i * channels + (channels === 3 ? 2 - c : 0)];
    writeNpy(at(file), { dims: [1, 3, H, W], data });
  };
  const readFlo = (file: string) => {
    const b = fs.readFileSync(file);
    return { tag: b.subarray(0, 4).toString('latin1'), w: b.readInt32LE(4), h: b.readInt32LE(8), data: new Float32Array(b.buffer.slice(b.byteOffset + 12, b.byteOffset + b.length)) };
  };

  beforeAll(async () => {
    npyOf(await image('a.png', 0, 0), 3, 'a.npy');
    npyOf(await image('b.png', 2, 1), 3, 'b.npy');
    fs.writeFileSync(at('filled.prototxt'), fillFlowTemplate(template('FlowNet2-S'), W, H));
  });

  it('writes the .flo of crema run\'s predict_flow_final (transposed to H x W x 2, bit for bit) and its picture, the loading notes on stderr; --backend onnx within the tolerance', async () => {
    const ran = await cli('run', at('filled.prototxt'), weights(), '--input', `img0=${at('a.npy')}`, '--input', `img1=${at('b.npy')}`, '--dump', at('dump'), '--blobs', 'predict_flow_final', '--threads', '2');
    expect(ran.code, ran.stderr).toBe(0);
    const ref = readNpy(at('dump/predict_flow_final.npy'));
    expect(ref.dims).toEqual([1, 2, H, W]);
    const want = Float32Array.from({ length: 2 * W * H }, (_, i) => ref.data[(i % 2) * W * H + (i >> 1)]);

    const out = await cli('flow', templateFile, weights(), at('a.png'), at('b.png'), '-o', at('out.flo'), '--png', at('out.png'), '--threads', '2');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toBe(`note: DataAugmentation 'img0s_aug': a net of FlowNet 2.0's Caffe (lmb-freiburg/flownet2), loaded in the flownet dialect (its Eltwise takes one bottom)
note: ${weights()}: scale_conv1 takes the prototxt's fillers, as Caffe fills a layer the weights leave out`);
    expect(out.stdout).toMatch(new RegExp(`^${at('a.png')} -> ${at('b.png')} \\(100 x 50\\): flow length max [0-9.e+-]+, mean [0-9.e+-]+ pixels; wrote ${at('out.flo')}, ${at('out.png')}$`));
    const flo = readFlo(at('out.flo'));
    expect([flo.tag, flo.w, flo.h]).toEqual(['PIEH', W, H]);
    expect(flo.data).toEqual(want);
    const { default: sharp } = await import('sharp');
    const png = await sharp(at('out.png')).raw().toBuffer();
    expect(Buffer.from(png)).toEqual(Buffer.from(flowColors({ width: W, height: H, data: want })));

    const onnx = await cli('flow', templateFile, weights(), at('a.png'), at('b.png'), '-o', at('onnx.flo'), '--backend', 'onnx', '--threads', '2');
    expect(onnx.code, onnx.stderr).toBe(0);
    expect(relativeDifference(readFlo(at('onnx.flo')).data, want)).toBeLessThanOrEqual(TOLERANCE);
  }, 300_000);

  it('a gray pair is the same flow as its channel in all three (numpy broadcasts run-flownet.py\'s 1 x 1 x H x W); a filled net of their size works as the template', async () => {
    const g0 = await image('g0.png', 0, 0, 1), g1 = await image('g1.png', 3, 0, 1);
    const { default: sharp } = await import('sharp');
    const tile = async (px: Uint8Array, file: string) => sharp(Uint8Array.from({ length: 3 * px.length }, (_, i) => px[Math.trunc(i / 3)]), { raw: { width: W, height: H, channels: 3 } }).png().toFile(at(file));
    await tile(g0, 'c0.png');
    await tile(g1, 'c1.png');
    const gray = await flow(templateFile, weights(), at('g0.png'), at('g1.png'), { threads: 2 });
    expect(gray.data).toEqual((await flow(templateFile, weights(), at('c0.png'), at('c1.png'), { threads: 2 })).data);
    expect(gray.data).toEqual((await flow(at('filled.prototxt'), weights(), at('c0.png'), at('c1.png'), { threads: 2 })).data);
  }, 300_000);

  it('--list: each pair\'s .flo bit for bit the single command\'s, paths from the working directory as the script opens them; one net a size; an unreadable pair or one of two sizes skipped (exit 1), the rest written', async () => {
    const { default: sharp } = await import('sharp');
    const small = (name: string, dx: number) => sharp(flowPattern(70, 40, dx, 0), { raw: { width: 70, height: 40, channels: 3 } }).png().toFile(at(name));
    await small('s0.png', 0);
    await small('s1.png', 2);
    fs.mkdirSync(at('out'), { recursive: true });
    fs.writeFileSync(at('pairs.txt'), 'a.png b.png out/ab.flo\nb.png a.png out/ba.flo\n\ns0.png s1.png out/s.flo\nmissing.png b.png out/m.flo\na.png s1.png out/two.flo\na.png b.png out/ab2.flo\n');
    const root = path.join(import.meta.dirname, '..');
    const ran = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [path.join(root, 'bin/crema.js'), 'flow', templateFile, weights(), '--list', 'pairs.txt', '--threads', '2'], { cwd: tmp, encoding: 'utf8' }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr })));
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stderr.split('\n').filter((l) => l.startsWith('crema:'))).toEqual([
      'crema: skipped pairs.txt:5: missing.png: no such file',
      'crema: skipped pairs.txt:6: a.png is 100 x 50 but s1.png is 70 x 40: FlowNet takes two images of one size',
    ]);
    expect(ran.stdout.split('\n').filter(Boolean).map((l) => l.replace(/ max [^,]+, mean \S+/, ''))).toEqual([
      'a.png -> b.png (100 x 50): flow length pixels; wrote out/ab.flo', 'b.png -> a.png (100 x 50): flow length pixels; wrote out/ba.flo',
      's0.png -> s1.png (70 x 40): flow length pixels; wrote out/s.flo', 'a.png -> b.png (100 x 50): flow length pixels; wrote out/ab2.flo',
    ]);
    expect(fs.readdirSync(at('out')).sort()).toEqual(['ab.flo', 'ab2.flo', 'ba.flo', 's.flo']);
    for (const [out, img0, img1] of [['ab', 'a', 'b'], ['ba', 'b', 'a'], ['s', 's0', 's1'], ['ab2', 'a', 'b']]) {
      const one = await cli('flow', templateFile, weights(), at(`${img0}.png`), at(`${img1}.png`), '-o', at(`one-${out}.flo`), '--threads', '2');
      expect(one.code, one.stderr).toBe(0);
      expect(fs.readFileSync(at(`out/${out}.flo`)), out).toEqual(fs.readFileSync(at(`one-${out}.flo`)));
    }
    // the library: one runner, the same flows
    const runner = loadFlow(templateFile, weights(), { threads: 2 });
    try {
      for (const [out, img0, img1] of [['ab', 'a', 'b'], ['s', 's0', 's1'], ['ba', 'b', 'a']])
        expect(Buffer.from(floBytes(await runner.flow(at(`${img0}.png`), await loadImage(at(`${img1}.png`), true, false)))), out).toEqual(fs.readFileSync(at(`out/${out}.flo`)));
    } finally {
      await runner.dispose();
    }
  }, 300_000);

  it('--list --backend onnx: each pair\'s .flo the native --list\'s within the tolerance (two sizes: a net each), the same lines out', async () => {
    const { default: sharp } = await import('sharp');
    const small = (name: string, dx: number) => sharp(flowPattern(70, 40, dx, 1), { raw: { width: 70, height: 40, channels: 3 } }).png().toFile(at(name));
    await Promise.all([image('p0.png', 0, 0), image('p1.png', 1, 2), small('q0.png', 0), small('q1.png', 3)]);
    const list = (dir: string) => (fs.mkdirSync(at(dir), { recursive: true }), fs.writeFileSync(at(`${dir}.txt`), `p0.png p1.png ${dir}/p.flo\nq0.png q1.png ${dir}/q.flo\np1.png p0.png ${dir}/r.flo\n`));
    const runList = (dir: string, ...more: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      list(dir);
      execFile(process.execPath, [path.join(import.meta.dirname, '..', 'bin/crema.js'), 'flow', templateFile, weights(), '--list', `${dir}.txt`, '--threads', '2', ...more], { cwd: tmp, encoding: 'utf8' }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
    });
    const [native, onnx] = [await runList('native'), await runList('onnx', '--backend', 'onnx')];
    expect([native.code, onnx.code], onnx.stderr).toEqual([0, 0]);
    const lines = (r: { stdout: string }, dir: string) => r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/ max [^,]+, mean \S+/, '').replace(`${dir}/`, ''));
    expect(lines(onnx, 'onnx')).toEqual(lines(native, 'native'));
    expect(lines(onnx, 'onnx')).toHaveLength(3);
    for (const name of ['p', 'q', 'r']) {
      const [want, got] = [readFlo(at(`native/${name}.flo`)), readFlo(at(`onnx/${name}.flo`))];
      expect([got.tag, got.w, got.h], name).toEqual([want.tag, want.w, want.h]);
      expect(want.data.some((v) => v !== 0), `${name}: a flow that tells`).toBe(true);
      expect(relativeDifference(got.data, want.data), name).toBeLessThanOrEqual(TOLERANCE);
    }
  }, 300_000);

  it('refuses in one line: images of two sizes, a net filled for another size, a net with no flow, an unknown $VAR$; the filled text\'s errors name the template and its line', async () => {
    const { default: sharp } = await import('sharp');
    await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } }).png().toFile(at('small.png'));
    const sizes = await cli('flow', templateFile, weights(), at('a.png'), at('small.png'));
    expect([sizes.code, sizes.stderr]).toEqual([2, `crema: ${at('a.png')} is 100 x 50 but ${at('small.png')} is 40 x 30: FlowNet takes two images of one size`]);
    const other = await cli('flow', fixture('FlowNet2-S.prototxt'), weights(), at('a.png'), at('b.png'));
    expect(other.stderr).toBe(`crema: ${fixture('FlowNet2-S.prototxt')} is filled for 96 x 64 images (its input 'img0'), the images are 100 x 50: give the template (with $TARGET_WIDTH$ ...) or a net filled for their size`);
    fs.writeFileSync(at('noflow.prototxt'), 'name: "two"\ninput: "img0"\ninput_shape { dim: 1 dim: 3 dim: $TARGET_HEIGHT$ dim: $TARGET_WIDTH$ }\ninput: "img1"\ninput_shape { dim: 1 dim: 3 dim: $TARGET_HEIGHT$ dim: $TARGET_WIDTH$ }\nlayer { name: "sum" type: "Eltwise" bottom: "img0" bottom: "img1" top: "sum" }\n');
    const none = await cli('flow', at('noflow.prototxt'), weights(), at('a.png'), at('b.png'));
    expect(none.stderr).toBe(`crema: ${at('noflow.prototxt')} has no blob 'predict_flow_final' of 1 x 2 x 50 x 100 (none): run-flownet.py takes the flow from it`);
    fs.writeFileSync(at('unknown.template'), template('FlowNet2-S').replace('dim: $TARGET_HEIGHT$', 'dim: $HEIGHT$'));
    const unknown = await cli('flow', at('unknown.template'), weights(), at('a.png'), at('b.png'));
    expect(unknown.stderr).toBe(`crema: ${at('unknown.template')}:6: unknown template variable $HEIGHT$ (run-flownet.py fills $TARGET_WIDTH$ $TARGET_HEIGHT$ $ADAPTED_WIDTH$ $ADAPTED_HEIGHT$ $SCALE_WIDTH$ $SCALE_HEIGHT$)`);
    fs.writeFileSync(at('cut.template'), 'input: "img0"\ninput_shape { dim: 1 dim: 3 dim: $TARGET_HEIGHT$ dim: $TARGET_WIDTH$ }\nlayer { name: "x"\n');
    expect((await cli('flow', at('cut.template'), weights(), at('a.png'), at('b.png'))).stderr).toBe(`crema: ${at('cut.template')}:4:1: expected '}', got end of file`);
  }, 300_000);
});
