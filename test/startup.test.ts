// Startup: `crema --help`, `crema --version` and `crema info` import only what they use (the README's first
// commands answer in well under 0.3 s). Not a timed test: it checks which modules each command loads, the cause of
// the speed (each of onnxruntime-node, sharp, h5wasm, Graphviz, yargs' other commands costs tens of ms to import).
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

/** The modules `crema ...args` loads (package names under node_modules, and files of dist/ relative to it). */
function modulesLoadedBy(...args: string[]): Promise<{ code: number; packages: Set<string>; dist: Set<string> }> {
  return modulesLoadedByNode('bin/crema.js', ...args);
}

function modulesLoadedByNode(...nodeArgs: string[]): Promise<{ code: number; packages: Set<string>; dist: Set<string> }> {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'crema-startup-')), 'modules.txt');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', './test/helpers/module-log.mjs', ...nodeArgs], { cwd: root, env: { ...process.env, CREMA_MODULE_LOG: log } }, (err) => {
      const files = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((f) => (f.startsWith('file:') ? decodeURIComponent(new URL(f).pathname) : f));
      fs.rmSync(path.dirname(log), { recursive: true, force: true });
      const packages = new Set(files.flatMap((f) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? []));
      const dist = new Set(files.filter((f) => f.startsWith(path.join(root, 'dist/'))).map((f) => path.relative(path.join(root, 'dist'), f)));
      resolve({ code: err ? Number(err.code) : 0, packages, dist });
    });
  });
}

/** Imported only by the features that need them: never at startup. */
const HEAVY = ['onnxruntime-node', 'onnxruntime-common', 'sharp', 'h5wasm', '@hpcc-js/wasm-graphviz', 'cli-progress', 'cli-table3'];

describe('startup', () => {
  it('a checkout without dist/ (npm install --ignore-scripts) says in one line how to build it, exit 2', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-nodist-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(path.join(root, 'bin/crema.js'), path.join(dir, 'bin/crema.js'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }');
    const r = spawnSync(process.execPath, [path.join(dir, 'bin/crema.js'), 'info', 'net.prototxt'], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    expect([r.status, r.stdout, r.stderr]).toEqual([2, '', `crema: ${path.join(dir, 'dist')}/ is not built: \`npm run build\` in ${dir}/ builds it (npm install does, unless --ignore-scripts)\n`]);
  });

  it('crema --version loads nothing of crema but package.json', async () => {
    const r = await modulesLoadedBy('--version');
    expect(r.code).toBe(0);
    expect([...r.packages]).toEqual([]);
    expect([...r.dist]).toEqual([]);
  });

  it('crema --help loads no command module and no engine', async () => {
    const r = await modulesLoadedBy('--help');
    expect(r.code).toBe(0);
    expect([...r.dist].filter((f) => f.startsWith('cli/commands/'))).toEqual(['cli/commands/index.js']);
    expect([...r.dist].filter((f) => /^(runtime|graph|caffe|kernels|onnx)\/|^layers\/registry/.test(f))).toEqual([]);
    expect([...r.packages].filter((p) => HEAVY.includes(p) || p === 'protobufjs')).toEqual([]);
  });

  it('crema info loads the info command, the parser and the graph: no ONNX Runtime, images, HDF5, Graphviz or other command', async () => {
    const r = await modulesLoadedBy('info', 'models/cifar10_full/deploy.prototxt');
    expect(r.code).toBe(0);
    expect([...r.packages].filter((p) => HEAVY.includes(p))).toEqual([]);
    const commands = [...r.dist].filter((f) => f.startsWith('cli/commands/'));
    expect(commands.sort()).toEqual(['cli/commands/index.js', 'cli/commands/info.js']);
    // ONNX Runtime's runner, verify, bench, the image pipeline and HDF5 reader are other features' modules.
    const others = [...r.dist].filter((f) => /^(onnx\/(run|ort|convert|triton)|verify\/|bench\/(?!counts)|image\/|detect\/|caffe\/hdf5|web\/)/.test(f));
    expect(others).toEqual([]);
  });

  it("import('crema-caffe') loads no optional or heavy package (ONNX Runtime, h5wasm, sharp, Graphviz) until used", async () => {
    const r = await modulesLoadedByNode('--input-type=module', '-e', "await import('./dist/index.js')");
    expect(r.code).toBe(0);
    expect(r.dist.has('index.js')).toBe(true);
    expect([...r.packages].filter((p) => HEAVY.includes(p) || p === 'yargs')).toEqual([]);
  });
});
