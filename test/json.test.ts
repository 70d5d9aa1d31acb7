// The one --json convention (src/cli/json.ts): one JSON value, whole numbers as they are, others to 6 significant
// digits, null (with a field saying why) for a number that is not finite: never "Infinity" or "NaN" strings.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toJson } from '../src/cli/json.js';
import { encodeNpy } from '../src/util/npy.js';
import { Tensor } from '../src/tensor.js';
import { cli } from './helpers/cli.js';

const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'];

describe('toJson', () => {
  it('rounds to 6 significant digits, keeps whole numbers, writes non-finite numbers as null', () => {
    expect(toJson({ a: 0.58200615644, b: 1234567890123, c: Infinity, d: -Infinity, e: NaN, f: [1e-9 / 3, -2.5] })).toBe(
      '{"a":0.582006,"b":1234567890123,"c":null,"d":null,"e":null,"f":[3.33333e-10,-2.5]}',
    );
  });
});

describe('--json of each command: one JSON object on one line', () => {
  it('info', async () => {
    const r = await cli('info', ...lenet, '--json');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(1);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(['blobs', 'layers']);
  });

  it('run: a label is null without labels, probabilities to 6 digits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-json-'));
    fs.copyFileSync(lenet[0], path.join(dir, 'deploy.prototxt')); // no labels.txt beside it
    const r = await cli('run', path.join(dir, 'deploy.prototxt'), lenet[1], '--input', 'models/lenet/example-input.npy', '--top', '1', '--json');
    expect(r.code).toBe(0);
    const [{ top: [[best]] }] = JSON.parse(r.stdout).outputs;
    expect(best.label).toBeNull();
    expect(String(best.prob).replace(/^0\.|e.*$/g, '').replace('.', '').length).toBeLessThanOrEqual(6);
  });

  it('verify: a blob whose shapes differ has abs and rel null and says why in mismatch', async () => {
    const ref = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-json-'));
    const input = new Tensor([1, 1, 28, 28], new Float32Array(784).fill(0.5));
    fs.writeFileSync(path.join(ref, 'data.npy'), encodeNpy(input));
    fs.writeFileSync(path.join(ref, 'prob.npy'), encodeNpy(new Tensor([1, 5], new Float32Array(5))));
    const r = await cli('verify', ...lenet, '--reference', ref, '--json');
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/Infinity|NaN/);
    const prob = JSON.parse(r.stdout).blobs.find((b: { blob: string }) => b.blob === 'prob');
    expect(prob.pairs.native_reference).toEqual({ abs: null, rel: null, pass: false, mismatch: 'shape [1, 10] vs [1, 5]' });
  });
});
