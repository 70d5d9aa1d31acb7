// The corpus's material (test/fixtures/corpus): each net's synthetic weights and input, regenerated here exactly as
// make-corpus.mjs made them for the referee (hashweights.mjs), and its manifest (corpus.test.ts, memory-plan.test.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/corpus');
const hashweights = path.join(dir, 'hashweights.mjs');

export interface Manifest {
  input: { dims: number[]; seed: number; amp: number };
  salt: string;
  blobs: string[];
  shapes: Record<string, number[]>;
}

/** A net's manifest.json. */
export function manifestOf(name: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, name, 'manifest.json'), 'utf8')) as Manifest;
}

const cache = path.join(os.tmpdir(), 'crema-corpus');

/** The net's synthetic weights and input, regenerated once per machine (cached by the spec's and input's content). */
export function material(name: string, m: Manifest): { weights: string; input: string } {
  fs.mkdirSync(cache, { recursive: true });
  const spec = path.join(dir, name, 'spec.json');
  const key = `${name}-${createHash('sha256').update(fs.readFileSync(spec)).digest('hex').slice(0, 12)}-${m.salt}`;
  const weights = path.join(cache, `${key}.caffemodel`), input = path.join(cache, `${key}-${m.input.seed}-${m.input.dims.join('x')}.npy`);
  const make = (out: string, args: string[]) => {
    if (fs.existsSync(out)) return;
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync(process.execPath, [hashweights, ...args.map((a) => (a === '@' ? tmp : a))]);
    fs.renameSync(tmp, out);
  };
  make(weights, ['model', spec, '@', '--salt', m.salt]);
  make(input, ['input', String(m.input.seed), String(m.input.amp), '@', ...m.input.dims.map(String)]);
  return { weights, input };
}
