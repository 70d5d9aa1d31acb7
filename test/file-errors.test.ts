// Every file a user names (prototxt, caffemodel, .caffemodel.h5, .npy, a mean, an image, a plugin, labels, an
// output's directory) says one thing per cause, in the same words: `no such file`, `is a directory`, `permission
// denied`, `a part of its path is a file, not a directory`, ... (fileErrorWords in src/util/errors.ts). Before,
// a missing .npy or caffemodel said `cannot open: ENOENT`, a missing image `no such file`, a plugin Node's resolver.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Net } from '../src/runtime/net.js';
import { fileErrorWords } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { cli, errorOf } from './helpers/cli.js';

const lenetDir = path.join(import.meta.dirname, '../models/lenet');
const net = path.join(lenetDir, 'deploy.prototxt');
const weights = path.join(lenetDir, 'weights.caffemodel');
const input = path.join(lenetDir, 'example-input.npy');
const digit = path.join(lenetDir, 'examples/digit-7.png');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-file-errors-'));
const at = (name: string): string => path.join(tmp, name);
fs.writeFileSync(at('afile'), 'x');
for (const d of ['d.prototxt', 'd.caffemodel', 'd.caffemodel.h5', 'd.npy', 'd.binaryproto', 'd.png', 'd.mjs', 'd.txt']) fs.mkdirSync(at(d));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** `crema ARGS` with FILE standing for the named file: its one line on stderr and exit status 2. */
async function said(args: (file: string) => string[], file: string): Promise<string> {
  const r = await cli(...args(file));
  expect(r.code).toBe(2);
  return r.stderr;
}

// Each file a user can name, as the CLI takes it (the file's extension as the command expects it).
const paths: [string, string, (f: string) => string[]][] = [
  ['the prototxt', 'prototxt', (f) => ['info', f]],
  ['the caffemodel', 'caffemodel', (f) => ['info', net, f]],
  ['HDF5 weights', 'caffemodel.h5', (f) => ['info', net, f]],
  ['an input .npy', 'npy', (f) => ['run', net, weights, '--input', f, '--threads', '1']],
  ['an input image', 'png', (f) => ['run', net, weights, '--input', f, '--raw-scale', '1', '--threads', '1']],
  ['a mean .binaryproto', 'binaryproto', (f) => ['run', net, weights, '--input', digit, '--mean', f, '--threads', '1']],
  ['a plugin', 'mjs', (f) => ['info', net, '--plugin', f]],
  ['labels', 'txt', (f) => ['run', net, weights, '--input', input, '--labels', f, '--threads', '1']],
];

describe('a file the user names', () => {
  it.each(paths)('%s: no such file, is a directory, a file in its path', async (_, ext, args) => {
    const flag = args('X').includes('--plugin') ? '--plugin ' : '';
    for (const [file, why] of [
      [at(`missing.${ext}`), 'no such file'],
      [at(`d.${ext}`), 'is a directory'],
      [at(`afile/x.${ext}`), 'a part of its path is a file, not a directory'],
    ]) expect(await said(args, file)).toBe(`crema: ${flag}${file}: ${why}`);
  });

  it.each(paths)('%s: permission denied', async (_, ext, args) => {
    // Root reads every file whatever its mode: the open fails as it would for another user.
    const file = at(`locked.${ext}`);
    fs.copyFileSync(ext === 'caffemodel' ? weights : ext === 'npy' ? input : ext === 'png' ? digit : net, file);
    const open = fs.openSync;
    vi.spyOn(fs, 'openSync').mockImplementation((p, ...rest) => {
      if (p === file) throw Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES', path: file });
      return open(p, ...rest);
    });
    expect(await said(args, file)).toBe(`crema: ${args('X').includes('--plugin') ? '--plugin ' : ''}${file}: permission denied`);
  });

  it('classify skips each unreadable image saying why, and classifies the rest', async () => {
    const printed: string[] = [], warned: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (warned.push(String(chunk)), true));
    await cli('classify', net, weights, at('missing.png'), at('afile/x.png'), digit, '--raw-scale', '1', '--threads', '1');
    expect(printed.join('')).toContain(`Prediction for ${digit}`);
    expect(warned.join('').trimEnd().split('\n')).toEqual([
      `crema: skipped ${at('missing.png')}: no such file`,
      `crema: skipped ${at('afile/x.png')}: a part of its path is a file, not a directory`,
    ]);
  });

  it('the library says the same (Net.load, readNpy, plugins)', async () => {
    await expect(Net.load(at('missing.prototxt'))).rejects.toThrow(`${at('missing.prototxt')}: no such file`);
    await expect(Net.load(net, at('d.caffemodel'))).rejects.toThrow(`${at('d.caffemodel')}: is a directory`);
    await expect(Net.load(net, at('d.caffemodel.h5'))).rejects.toThrow(`${at('d.caffemodel.h5')}: is a directory`);
    expect(errorOf(() => readNpy(at('missing.npy')))).toBe(`${at('missing.npy')}: no such file`);
    await expect(Net.load(net, weights, { plugins: [at('d.mjs')], threads: 1 })).rejects.toThrow(`options.plugins ${at('d.mjs')}: is a directory`);
  });
});

describe("an output's directory", () => {
  it('run --dump, show -o: cannot create the directory (a file in the way, permission denied)', async () => {
    expect(await said((f) => ['run', net, weights, '--input', input, '--dump', f, '--threads', '1'], at('afile/out'))).toBe(
      `crema: ${at('afile/out')}: cannot create the directory: a file is in the way`);
    const mkdir = fs.mkdirSync;
    vi.spyOn(fs, 'mkdirSync').mockImplementation((p, ...rest) => {
      if (p === at('locked-out')) throw Object.assign(new Error('EACCES'), { code: 'EACCES', path: p });
      return mkdir(p, ...rest);
    });
    expect(await said((f) => ['run', net, weights, '--input', input, '--dump', f, '--threads', '1'], at('locked-out'))).toBe(
      `crema: ${at('locked-out')}: cannot create the directory: permission denied`);
  });

  // Every command that makes an output directory (util/files makeOutputDir, one level at a time), under /proc.
  it.each([
    ['run --dump', ['run', net, weights, '--input', input, '--dump', '/proc/self/crema-out', '--threads', '1'], '/proc/self/crema-out', ''],
    ['convert --triton', ['convert', net, weights, '--triton', '/proc/self/crema-repo'], '/proc/self/crema-repo/LeNet/1', '/proc/self/crema-repo'],
    ['show -o', ['show', net, weights, '--input', input, '--blobs', 'conv1', '-o', '/proc/crema-x'], '/proc/crema-x', ''],
  ])('%s under /proc: the real error in one line, exit 2 (recursive mkdir hung there forever)', async (_, args, dir, level) => {
    // A child process with a timeout: a hang inside mkdirSync would block this test's own thread for good.
    const r = await new Promise<{ code: number | string | null; stderr: string }>((resolve) =>
      execFile(process.execPath, ['bin/crema.js', ...args],
        { cwd: path.join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 30_000 }, (err, _stdout, stderr) =>
          resolve({ code: err ? (err.killed ? 'timed out' : err.code ?? null) : 0, stderr })));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`crema: ${dir}: cannot create the directory${level && ` ${level}`}: the file system there does not take new directories\n`);
  });

  it('run --dump: its own folder made without recursion, so a read-only file system says so (recursive mkdir said ENOENT)', async () => {
    // Tests run as root, where a chmod 0555 directory still takes writes: a read-only mount is simulated as Node 20
    // meets one, mkdir of a level inside it failing with EROFS and the recursive form with ENOENT.
    const mkdir = fs.mkdirSync;
    vi.spyOn(fs, 'mkdirSync').mockImplementation((p, options) => {
      if (String(p).startsWith(at('ro') + path.sep)) throw Object.assign(new Error('mkdir'), { code: options ? 'ENOENT' : 'EROFS', path: p });
      return mkdir(p, options);
    });
    fs.mkdirSync(at('ro'));
    expect(await said((f) => ['run', net, weights, '--input', input, '--dump', f, '--threads', '1'], at('ro/sub'))).toBe(
      `crema: ${at('ro/sub')}: cannot create the directory: on a read-only file system`);
    expect(await said((f) => ['run', net, weights, '--input', input, '--dump', f, '--threads', '1'], at('afile/sub'))).toBe(
      `crema: ${at('afile/sub')}: cannot create the directory: a file is in the way`);
  });

  it('convert -o: cannot write (a file in its path; the directory missing)', async () => {
    expect(await said((f) => ['convert', net, weights, '-o', f], at('afile/x.onnx'))).toBe(
      `crema: ${at('afile/x.onnx')}: cannot write: a part of its path is a file, not a directory`);
    expect(await said((f) => ['convert', net, weights, '-o', f], at('nodir/x.onnx'))).toBe(
      `crema: ${at('nodir/x.onnx')}: the directory ${at('nodir')} does not exist`);
  });
});

it('fileErrorWords: the codes in words, the rare ones as their code', () => {
  expect(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG'].map((c) => fileErrorWords(c))).toEqual([
    'no such file', 'permission denied', 'permission denied', 'is a directory', 'a part of its path is a file, not a directory',
    'too many levels of symbolic links', 'the name is too long',
  ]);
  expect(fileErrorWords('EIO')).toBe('cannot read it (EIO)');
  expect(fileErrorWords('EIO', 'write')).toBe('EIO');
});
