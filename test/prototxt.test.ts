import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatFloat32, formatPrototxt, parsePrototxt } from '../src/caffe/prototxt.js';
import { paramsOf } from '../src/caffe/schema.js';
import type { Message } from '../src/caffe/message.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';
import { errorOf } from './helpers/cli.js';

const parse = (text: string, opts = {}): Message => parsePrototxt(text, 'net.prototxt', opts);


describe('parsePrototxt syntax', () => {
  test('fields, nesting forms, comments and repeated values', () => {
    const net = parse(`
      name: "tiny"   # a comment
      input: 'data'
      input_shape { dim: 1 dim: [3, 8, 8] }
      layer {
        name: "conv" type: "Convolution"; bottom: "data" top: "conv"
        convolution_param: { num_output: 4 kernel_size: [3] pad: 0x1 weight_filler < type: "xavier" > }
        include { phase: TEST }
        param { lr_mult: 1 } param { lr_mult: 2, decay_mult: 0 }
      }
      layer: { name: "pool" type: "Pooling" pooling_param { pool: 1 global_pooling: True } }
    `);
    expect(net).toEqual({
      name: 'tiny',
      input: ['data'],
      input_shape: [{ dim: [1, 3, 8, 8] }],
      layer: [
        {
          name: 'conv',
          type: 'Convolution',
          bottom: ['data'],
          top: ['conv'],
          convolution_param: { num_output: 4, kernel_size: [3], pad: [1], weight_filler: { type: 'xavier' } },
          include: [{ phase: 'TEST' }],
          param: [{ lr_mult: 1 }, { lr_mult: 2, decay_mult: 0 }],
        },
        { name: 'pool', type: 'Pooling', pooling_param: { pool: 'AVE', global_pooling: true } },
      ],
    });
  });

  test('numbers: floats, exponents, inf/nan, hex, octal, signs, float suffix', () => {
    const p = (v: string): number => parse(`layer { power_param { shift: ${v} } }`).layer[0].power_param.shift;
    expect(p('1e-4')).toBe(Math.fround(1e-4));
    expect(p('-2.5')).toBe(-2.5);
    expect(p('.5')).toBe(0.5);
    expect(p('3')).toBe(3);
    expect(p('1.5f')).toBe(1.5);
    expect(p('-inf')).toBe(-Infinity);
    expect(p('inf')).toBe(Infinity);
    expect(p('Infinity')).toBe(Infinity);
    expect(p('nan')).toBeNaN();
    const dim = (v: string): number => parse(`input_dim: ${v}`).input_dim[0];
    expect(dim('0x1F')).toBe(31);
    expect(dim('010')).toBe(8);
    expect(dim('-7')).toBe(-7);
    // int64 values stay exact up to 2^53
    expect(parse('input_shape { dim: 9007199254740991 }').input_shape[0].dim).toEqual([9007199254740991]);
  });

  test('booleans in every spelling', () => {
    const b = (v: string): boolean => parse(`layer { pooling_param { global_pooling: ${v} } }`).layer[0].pooling_param.global_pooling;
    for (const v of ['true', 'True', 't', '1']) expect(b(v)).toBe(true);
    for (const v of ['false', 'False', 'f', '0']) expect(b(v)).toBe(false);
  });

  test('strings: both quotes, escapes, adjacent concatenation, UTF-8', () => {
    const s = (v: string): string => parse(`name: ${v}`).name;
    expect(s(`"a\\"b"`)).toBe('a"b');
    expect(s(`'it\\'s'`)).toBe("it's");
    expect(s(`"tab\\there\\nnl"`)).toBe('tab\there\nnl');
    expect(s(`"back\\\\slash"`)).toBe('back\\slash');
    expect(s(`"\\101\\x42"`)).toBe('AB');
    expect(s(`"\\303\\251"`)).toBe('é'); // escaped UTF-8 bytes
    expect(s(`"conv" '1/' "3x3"`)).toBe('conv1/3x3');
    expect(s(`"crème"`)).toBe('crème');
  });

  test('enums by name or number', () => {
    const lrn = parse('layer { lrn_param { norm_region: WITHIN_CHANNEL } }').layer[0].lrn_param;
    expect(lrn.norm_region).toBe('WITHIN_CHANNEL');
    expect(parse('layer { lrn_param { norm_region: 0 } }').layer[0].lrn_param.norm_region).toBe('ACROSS_CHANNELS');
    expect(parse('layers { type: CONVOLUTION }').layers[0].type).toBe('CONVOLUTION');
    expect(parse('layers { type: 4 }').layers[0].type).toBe('CONVOLUTION');
  });

  test('BlobProto data comes out as typed arrays', () => {
    const net = parse('layer { name: "w" blobs { shape { dim: 2 } data: [1.5, -2] double_data: 0.1 } }');
    const blob = net.layer[0].blobs[0];
    expect(blob.data).toBeInstanceOf(Float32Array);
    expect(Array.from(blob.data)).toEqual([1.5, -2]);
    expect(blob.double_data).toBeInstanceOf(Float64Array);
    expect(blob.double_data[0]).toBe(0.1);
    expect(parsePrototxt('shape { dim: 1 } data: 3', 'm.txt', { typeName: 'BlobProto' }).data).toEqual(new Float32Array([3]));
  });

  test('other message types (solver)', () => {
    const s = parsePrototxt('net: "train.prototxt" base_lr: 0.01 solver_mode: CPU max_iter: 100', 's.prototxt', { typeName: 'SolverParameter' });
    expect(s).toEqual({ net: 'train.prototxt', base_lr: Math.fround(0.01), solver_mode: 'CPU', max_iter: 100 });
  });

  test('a byte-order mark and CRLF line ends are fine', () => {
    expect(parse('\uFEFFname: "bom"\r\ninput: "data"\r\n')).toEqual({ name: 'bom', input: ['data'] });
    expect(errorOf(() => parse('name: "x"\r\n  input "y"\r\n'))).toBe(`net.prototxt:2:9: expected ':', got string "y"`);
  });

  test('empty text is an empty net', () => {
    expect(parse('')).toEqual({});
    expect(parse('# only a comment\n')).toEqual({});
  });

  test('defaults come from caffe.proto through paramsOf', () => {
    const layer = parse('layer { name: "n" type: "LRN" lrn_param { alpha: 0.0001 } }').layer[0];
    const p = paramsOf(layer, 'lrn_param');
    expect(p).toMatchObject({ local_size: 5, alpha: Math.fround(0.0001), beta: 0.75, k: 1, norm_region: 'ACROSS_CHANNELS' });
    expect(paramsOf({ name: 'p', type: 'Pooling' }, 'pooling_param')).toMatchObject({ pool: 'MAX', stride: 1, round_mode: 'CEIL' });
  });
});

describe('parsePrototxt errors', () => {
  test('syntax errors give file:line:column and what was expected', () => {
    expect(errorOf(() => parse('name: "x"\nlayer {\n  name "y"\n}'))).toBe(`net.prototxt:3:8: expected ':', got string "y"`);
    expect(errorOf(() => parse('layer {\n  name: "y"\n'))).toBe(`net.prototxt:3:1: expected '}', got end of file`);
    expect(errorOf(() => parse('layer { name: "y" }}'))).toBe(`net.prototxt:1:20: expected a field name, got '}'`);
    expect(errorOf(() => parse('name: "abc'))).toBe('net.prototxt:1:7: unterminated string');
    expect(errorOf(() => parse('name: abc'))).toBe(`net.prototxt:1:7: expected a string, got 'abc'`);
    expect(errorOf(() => parse('input_dim: 1.5'))).toBe(`net.prototxt:1:12: expected an integer, got '1.5'`);
    expect(errorOf(() => parse('input_dim: 12abc'))).toBe(`net.prototxt:1:12: bad number '12abc'`);
    expect(errorOf(() => parse('layer { top: "a" } @'))).toBe('net.prototxt:1:20: unexpected character "@"');
    expect(errorOf(() => parse('layer { convolution_param { num_output: -1 } }'))).toBe(
      'net.prototxt:1:41: integer -1 out of range for uint32',
    );
    expect(errorOf(() => parse('name: "a" name: "b"'))).toBe(`net.prototxt:1:11: field 'name' is set more than once`);
    expect(errorOf(() => parse('name: ["a"]'))).toBe(`net.prototxt:1:7: field 'name' is not repeated: a list is not allowed`);
    expect(errorOf(() => parse('layer { pooling_param { global_pooling: yes } }'))).toBe(
      `net.prototxt:1:41: expected true or false, got 'yes'`,
    );
  });

  test('unknown field names the layer (even when its name comes later)', () => {
    const yolo = 'layer {\n  type: "Region"\n  region_param { classes: 20 anchors: [2, 3] }\n  name: "region"\n}\n';
    expect(errorOf(() => parse(yolo))).toBe(`net.prototxt:3:3: layer 'region' has unknown field 'region_param' (options.lenient skips it)`);
    expect(errorOf(() => parse('layer { name: "c" convolution_param { num_outputs: 3 } }'))).toBe(
      `net.prototxt:1:39: layer 'c' has unknown field 'num_outputs' in convolution_param: did you mean 'num_output'? (options.lenient skips it)`,
    );
    expect(errorOf(() => parse('layer { name: "c" convolution_param { weight_filler { kind: 1 } } }'))).toBe(
      `net.prototxt:1:55: layer 'c' has unknown field 'kind' in convolution_param.weight_filler (options.lenient skips it)`,
    );
    expect(errorOf(() => parse('layers { layer { name: "v0" bias: 1 } }'))).toBe(`net.prototxt:1:29: layer 'v0' has unknown field 'bias' (options.lenient skips it)`);
    expect(errorOf(() => parse('state { phase: TEST stages: "a" }'))).toBe(`net.prototxt:1:21: NetState has unknown field 'stages': did you mean 'stage'? (options.lenient skips it)`);
    expect(errorOf(() => parse('nmae: "x"'))).toBe(`net.prototxt:1:1: NetParameter has unknown field 'nmae': did you mean 'name'? (options.lenient skips it)`);
    expect(errorOf(() => parse('item {\n  name: "none_of_the_above"\n  label: 0\n}'))).toBe(
      "net.prototxt:1:1: NetParameter has unknown field 'item': this is a label map (the SSD fork's labelmap), not a net; crema detect takes it as --labels");
    // a solver given for the net: said so, not "--lenient skips it" (which would skip it all into an empty net)
    expect(errorOf(() => parse('net: "train_val.prototxt"\nbase_lr: 0.01\nsolver_mode: GPU\n'))).toBe(
      "net.prototxt:1:1: NetParameter has unknown field 'net': this is a solver (its 'net' is a SolverParameter field), not a net: give the net's prototxt (the solver's net: or train_net: names it)");
    expect(errorOf(() => parse('# solver\ntest_iter: 100\n'))).toBe(
      "net.prototxt:2:1: NetParameter has unknown field 'test_iter': this is a solver (its 'test_iter' is a SolverParameter field), not a net: give the net's prototxt (the solver's net: or train_net: names it)");
    // a stray type: (a layer's, outside its braces) is not taken for one
    expect(errorOf(() => parse('type: "ReLU"'))).toBe(`net.prototxt:1:1: NetParameter has unknown field 'type' (options.lenient skips it)`);
    expect(errorOf(() => parse('layer { [ext.thing]: 1 }'))).toBe(`net.prototxt:1:9: layer '#0' has unknown field '[ext.thing]' (options.lenient skips it)`);
  });

  test('lenient: unknown fields are skipped with a warning', () => {
    const warnings: string[] = [];
    const text =
      'layer { name: "mbox_prior" type: "Region" region_param { classes: 30 nested { a: [1, 2] } } top: "p" }\n' +
      'layer { name: "b" flip: true clip: -0.5 note: "x" "y" ratios: [1, 2] type: "ReLU" }';
    const net = parse(text, { lenient: true, warn: (m: string) => warnings.push(m) });
    expect(net.layer).toEqual([
      { name: 'mbox_prior', type: 'Region', top: ['p'] },
      { name: 'b', type: 'ReLU' },
    ]);
    expect(warnings).toEqual([
      `net.prototxt:1:43: layer 'mbox_prior' has unknown field 'region_param' (skipped)`,
      `net.prototxt:2:19: layer 'b' has unknown field 'flip' (skipped)`,
      `net.prototxt:2:30: layer 'b' has unknown field 'clip' (skipped)`,
      `net.prototxt:2:41: layer 'b' has unknown field 'note' (skipped)`,
      `net.prototxt:2:55: layer 'b' has unknown field 'ratios' (skipped)`,
    ]);
    // a fork's enum value too (Intel Caffe's MKL2017 engine): the field keeps its default; outside a layer too
    warnings.length = 0;
    const mkl = parse('layer { name: "c" type: "Convolution" convolution_param { engine: MKL2017 num_output: 2 } }\nstate { phase: TESTING }', { lenient: true, warn: (m: string) => warnings.push(m) });
    expect(mkl.layer).toEqual([{ name: 'c', type: 'Convolution', convolution_param: { num_output: 2 } }]);
    expect(mkl.state).toEqual({});
    expect(warnings).toEqual([
      `net.prototxt:1:67: layer 'c' has unknown value 'MKL2017' for 'engine' in convolution_param (expected one of DEFAULT, CAFFE, CUDNN) (skipped)`,
      `net.prototxt:2:16: unknown value 'TESTING' for 'phase' (expected one of TRAIN, TEST) (skipped)`,
    ]);
    expect(errorOf(() => parse('state { phase: TESTING }'))).toBe(`net.prototxt:1:16: unknown value 'TESTING' for 'phase' (expected one of TRAIN, TEST; options.lenient skips it)`);
    // lenient still refuses broken syntax inside the skipped value
    expect(errorOf(() => parse('layer { odd { a: 1 ', { lenient: true }))).toBe(`net.prototxt:1:20: expected '}', got end of file`);
  });

  test('bad enum names list the values', () => {
    expect(errorOf(() => parse('layer {\n  pooling_param { pool: MAXIMUM }\n}'))).toBe(
      `net.prototxt:2:25: layer '#0' has unknown value 'MAXIMUM' for 'pool' in pooling_param (expected one of MAX, AVE, STOCHASTIC; options.lenient skips it)`,
    );
    // a typo (two edits or fewer, or the case) is guessed, as an unknown field's is
    expect(errorOf(() => parse('layer {\n  type: "Pooling"\n  pooling_param { pool: MAXX }\n}'))).toBe(
      `net.prototxt:3:25: layer '#0' has unknown value 'MAXX' for 'pool' in pooling_param: did you mean 'MAX'? (expected one of MAX, AVE, STOCHASTIC; options.lenient skips it)`,
    );
    // V1's 49 layer types: the first few and a count, not a line of ~730 characters
    expect(errorOf(() => parse('layers { type: CONVOLUTOIN }'))).toBe(
      `net.prototxt:1:16: layer '#0' has unknown value 'CONVOLUTOIN' for 'type': did you mean 'CONVOLUTION'? (expected one of NONE, ABSVAL, ACCURACY, ARGMAX, BNLL, CONCAT, CONTRASTIVE_LOSS, CONVOLUTION, DATA, DECONVOLUTION, DROPOUT and 38 more; options.lenient skips it)`,
    );
    expect(errorOf(() => parse('layers { type: 99 }'))).toBe(
      `net.prototxt:1:16: 99 is not a value of LayerType for 'type' (NONE, ABSVAL, ACCURACY, ARGMAX, BNLL, CONCAT, CONTRASTIVE_LOSS, CONVOLUTION, DATA, DECONVOLUTION, DROPOUT and 38 more)`,
    );
    expect(errorOf(() => parse('layer { pooling_param { pool: 7 } }'))).toBe(
      `net.prototxt:1:31: 7 is not a value of PoolMethod for 'pool' (MAX, AVE, STOCHASTIC)`,
    );
    expect(errorOf(() => parse('layer { pooling_param { pool: "MAX" } }'))).toBe(
      `net.prototxt:1:31: expected one of MAX, AVE, STOCHASTIC, got string "MAX"`,
    );
  });
});

describe('formatPrototxt', () => {
  test('round-trips every kind of value', () => {
    const text = `name: "we\\"ird\\n\\303\\251"
layer {
  name: "a"
  type: "Power"
  power_param { power: 0.1 scale: -inf shift: nan }
  blobs { shape { dim: 3 } data: [1e-8, 3.4028235e38, -0] }
  include { phase: TRAIN stage: "x" }
  propagate_down: [true, false]
}
layers { type: INNER_PRODUCT inner_product_param { num_output: 10 } layer { name: "v0" pool: STOCHASTIC } }
input_shape { dim: -1 dim: 4 }`;
    const net = parse(text);
    const out = formatPrototxt(net);
    const again = parse(out);
    expect(again).toEqual(net);
    expect(out).toContain('  power_param {\n    power: 0.1\n    scale: -inf\n    shift: nan\n  }');
    expect(out).toContain('name: "we\\"ird\\n\\303\\251"');
    expect(out).toContain('    data: 1e-8\n');
    expect(out.split('\n')[1]).toBe('layer {');
  });

  test('float32 values print with the fewest digits that read back', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(Math.fround(1e-5))).toBe('0.00001');
    expect(formatFloat32(Math.fround(3.14159265))).toBe('3.1415927');
    expect(formatFloat32(1 / 3)).toBe('0.33333334');
    expect(formatFloat32(-0)).toBe('-0');
  });

  test('unknown keys are refused', () => {
    expect(errorOf(() => formatPrototxt({ layer: [{ name: 'a', bogus: 1 }] }))).toBe(
      `cannot write field 'bogus': LayerParameter has no such field`,
    );
  });
});

describe.skipIf(sharedMissing())('every shared prototxt parses', () => {
  const files: string[] = [];
  if (sharedDir) {
    const zoo = path.join(sharedDir, 'models/zoo');
    for (const f of fs.readdirSync(zoo)) if (f.endsWith('.prototxt')) files.push(path.join(zoo, f));
    const trained = path.join(sharedDir, 'models/trained');
    for (const m of fs.readdirSync(trained)) files.push(path.join(trained, m, 'deploy.prototxt'));
    for (const kind of ['sweep', 'zoo']) {
      const dir = path.join(sharedDir, 'reference', kind);
      for (const c of fs.readdirSync(dir)) {
        const p = path.join(dir, c, 'net.prototxt');
        if (fs.existsSync(p)) files.push(p);
      }
    }
  }

  test('found the files', () => {
    expect(files.length).toBeGreaterThan(60);
  });

  test.each(files.map((f) => [path.relative(sharedDir ?? '', f), f]))('%s', (_rel, file) => {
    const text = fs.readFileSync(file, 'utf8');
    const net = parsePrototxt(text, file);
    // every `layer {` / `layers {` block in the text became a layer
    const blocks = (text.replace(/#.*$/gm, '').match(/^\s*layers?\s*\{/gm) ?? []).length;
    expect((net.layer?.length ?? 0) + (net.layers?.length ?? 0)).toBe(blocks);
    expect(blocks).toBeGreaterThan(0);
    for (const l of [...(net.layer ?? []), ...(net.layers ?? [])]) expect(typeof l.name).toBe('string');
    expect(parsePrototxt(formatPrototxt(net), file)).toEqual(net);
  });
});
