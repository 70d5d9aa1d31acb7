// examples/app as a user runs it: installed from the packed tarball offline (npm 11), the plain ESM server and the
// strict TypeScript one, each loading a shipped model from bytes, answering HTTP during `await net.run`,
// converting to ONNX through the library, and exiting by themselves.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script (also run by hand and by .ci/run), no declarations
import { installPackedApp } from '../scripts/pack-app.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-example-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const app = path.join(tmp, 'app');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && !/onnxruntime/i.test(k)));
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: app, env, encoding: 'utf8' });

describe('examples/app', () => {
  it('installs from the tarball with TypeScript beside it', () => {
    installPackedApp(app, { from: path.resolve('examples/app'), dev: ['typescript', '@types/node'] });
    expect(fs.existsSync(path.join(app, 'node_modules/crema-caffe/dist/index.d.ts'))).toBe(true);
  });

  it('server.mjs (plain ESM) answers HTTP during net.run, converts to ONNX and exits', () => {
    const r = run('node', ['server.mjs']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^onnx: \d+ bytes\nrun: prob \[256, 10\]; the server answered [1-9]\d* requests meanwhile\n$/);
  });

  it('server.ts compiles under strict TypeScript against the package types and runs the same', () => {
    const tsc = run('npx', ['--no-install', 'tsc', '-p', '.']);
    expect(tsc.stdout + tsc.stderr).toBe('');
    const r = run('node', ['dist/server.js']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^onnx: \d+ bytes\nrun: prob \[256, 10\]; the server answered [1-9]\d* requests meanwhile\nafter dispose: this net was disposed \(ERR_CREMA_INPUT\)\n$/);
  });
});
