#!/usr/bin/env node
// Builds crema for the browser with esbuild (part of `npm run build`; run after `tsc` and the wasm builds):
//   dist/browser/  the library's browser entry (crema.js), its engine worker (crema-worker.js) and the kernels
//   dist/web/      the page that `crema ui` serves (index.html, app.js, the same worker and kernels)
// `node scripts/build-browser.mjs --static DIR` writes the page with the shipped models as plain files for any
// static host. Each .wasm comes twice: as built (shared memory, for cross-origin isolated pages, where worker threads
// join it) and as *-single.wasm, the same module importing unshared memory (any page; one thread).
// The core must not reach a Node module: any `node:` import in a browser bundle fails the build.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (...p) => path.join(root, ...p);

/**
 * Refuses Node built-ins and Node-only packages on crema's browser path, naming who imported them. A dependency's
 * guarded `require('fs')` (protobufjs keeps one for loading .proto files, which crema never asks of it) gets an
 * empty module.
 */
const noNode = {
  name: 'no-node',
  setup(build) {
    build.onResolve({ filter: /^(node:|fs$|path$|os$|worker_threads$|sharp$|h5wasm\/node$|onnxruntime-node$)/ }, (args) => {
      const importer = path.relative(root, args.importer);
      // by the path's own node_modules part: a worktree's node_modules may be a link to another checkout's
      if (/(^|\/)node_modules\/@?protobufjs\//.test(args.importer.split(path.sep).join('/'))) return { path: args.path, namespace: 'empty' };
      return { errors: [{ text: `${args.path} is Node-only and must not be reached from the browser entry (imported by ${importer})` }] };
    });
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome114',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  loader: { '.proto': 'text' },
  plugins: [noNode],
  logLevel: 'warning',
  metafile: true,
  // onnxruntime-web and h5wasm (optional peers) are imported on first use, by URL or by the application's bundler:
  // never here.
  external: ['onnxruntime-web', 'onnxruntime-web/*', 'h5wasm'],
};

/** The memory import's limits flag: bit 1 = shared. The kernels use no atomic instruction, so clearing it is all. */
export function unshareMemory(bytes) {
  const out = Uint8Array.from(bytes);
  let p = 8;
  const uleb = () => {
    let v = 0, shift = 0, b;
    do {
      b = out[p++];
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (p < out.length) {
    const id = out[p++], size = uleb(), end = p + size;
    if (id === 2) {
      for (let n = uleb(); n > 0; n--) {
        for (let name = 0; name < 2; name++) {
          const length = uleb(); // module name, then field name
          p += length;
        }
        const kind = out[p++];
        if (kind === 2) {
          out[p] &= ~2;
          return out;
        }
        if (kind === 0) uleb();
        else if (kind === 1) {
          p++; // element type
          if (out[p++] & 1) uleb(); // limits: flags, min, max when flagged
          uleb();
        }
        else if (kind === 3) p += 2;
        else throw new Error(`unexpected import kind ${kind}`);
      }
    }
    p = end;
  }
  throw new Error('the kernels import no memory');
}

function copyKernels(dir) {
  for (const name of ['kernels.wasm', 'kernels-fma.wasm']) {
    const bytes = fs.readFileSync(at('dist', name));
    fs.writeFileSync(path.join(dir, name), bytes);
    fs.writeFileSync(path.join(dir, name.replace('.wasm', '-single.wasm')), unshareMemory(bytes));
  }
}

/** Bundles `entry` as dir/name.js; what it imports dynamically becomes crema-*.js chunks beside it. Returns the metafile. */
async function bundle(entry, dir, name) {
  return (await esbuild.build({ ...common, entryPoints: { [name]: at(entry) }, outdir: dir, splitting: true, chunkNames: 'crema-[name]-[hash]' })).metafile;
}

/** The files `start` (an output of the metafile, by name) loads before it runs: itself and its static imports. */
function staticClosure(meta, dir, start, seen = new Set()) {
  const key = path.relative(root, path.join(dir, start));
  if (seen.has(key) || !meta.outputs[key]) return seen;
  seen.add(key);
  for (const i of meta.outputs[key].imports) if (i.kind === 'import-statement') staticClosure(meta, dir, path.relative(dir, path.join(root, i.path)), seen);
  return seen;
}

/** The worker's parts by when they load: the engine at start, the rest on first use (each without what loaded before). */
function workerParts(meta, dir) {
  const files = Object.keys(meta.outputs).filter((f) => f.endsWith('.js')).map((f) => path.relative(dir, path.join(root, f)));
  const engine = staticClosure(meta, dir, 'crema-worker.js');
  const lazy = (re) => {
    const all = new Set();
    for (const f of files.filter((f) => re.test(f))) staticClosure(meta, dir, f, all);
    return [...all].filter((f) => !engine.has(f));
  };
  const writer = lazy(/^crema-convert-/);
  const ort = lazy(/^crema-(run|blobs)-/).filter((f) => !writer.includes(f));
  const names = (list) => [...list].map((f) => path.basename(f));
  return { engine: names(engine), writer: names(writer), ort: names(ort) };
}

const sum = (list, size) => list.reduce((n, f) => n + size(f), 0);

function gzipped(file) {
  return gzipSync(fs.readFileSync(file), { level: 9 }).length;
}

/** The library's browser build, then the page; prints each file's size, raw and gzipped. */
async function main() {
  const staticDir = process.argv.includes('--static') ? path.resolve(process.argv[process.argv.indexOf('--static') + 1]) : undefined;
  const lib = at('dist/browser'), web = staticDir ?? at('dist/web');
  for (const dir of [lib, web]) fs.mkdirSync(dir, { recursive: true });
  for (const dir of [lib, web]) for (const f of fs.readdirSync(dir)) if (/^crema-.*\.js(\.map)?$/.test(f)) fs.rmSync(path.join(dir, f)); // old chunks
  await bundle('src/browser/index.ts', lib, 'crema');
  const worker = workerParts(await bundle('src/browser/engine-worker.ts', lib, 'crema-worker'), lib);
  copyKernels(lib);
  await bundle('web/app.ts', web, 'app');
  await bundle('web/bench.ts', web, 'bench');
  // opencv.js's worker for the benchmark page: a classic worker (opencv.js is a script for importScripts).
  await esbuild.build({ ...common, format: 'iife', entryPoints: { 'bench-opencv': at('web/bench-opencv.ts') }, outdir: web });
  // onnxruntime-web's worker for the benchmark page: a module worker importing it from /ort/ (never bundled).
  await esbuild.build({ ...common, entryPoints: { 'bench-ortweb': at('web/bench-ortweb.ts') }, outdir: web });
  for (const f of fs.readdirSync(lib).filter((f) => /^crema-.*\.(js|map)$|\.wasm$/.test(f))) fs.copyFileSync(path.join(lib, f), path.join(web, f));
  for (const f of ['index.html', 'style.css', 'bench.html']) fs.copyFileSync(at('web', f), path.join(web, f));
  if (staticDir) {
    copyModels(path.join(web, 'models'));
    copyOnnxRuntime(path.join(web, 'ort'));
    copyH5wasm(path.join(web, 'h5wasm'));
  }
  const parts = {
    'crema.js (the page side)': ['crema.js'],
    'the engine (crema-worker.js and its chunks)': worker.engine,
    'the ONNX writer (loaded on the first convert)': worker.writer,
    'the ONNX backend and verify (loaded on first use; onnxruntime-web itself not counted)': worker.ort,
    'kernels-fma.wasm': ['kernels-fma.wasm'],
  };
  const sizes = Object.fromEntries(
    Object.entries(parts).map(([what, list]) => [what, { bytes: sum(list, (f) => fs.statSync(path.join(lib, f)).size), gzip: sum(list, (f) => gzipped(path.join(lib, f))) }]),
  );
  fs.writeFileSync(path.join(lib, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
  const kb = (n) => `${(n / 1024).toFixed(0)} kB`;
  console.log(`browser build: ${Object.entries(sizes).map(([f, s]) => `${f} ${kb(s.bytes)} (${kb(s.gzip)} gzipped)`).join('; ')}`);
}

/** The shipped models the page offers (prototxt, weights, labels, example images). */
export const SHIPPED_MODELS = ['lenet', 'cifar10_full', 'cifar10_quick', 'mtcnn'];

function copyModels(dir) {
  for (const m of SHIPPED_MODELS) fs.cpSync(at('models', m), path.join(dir, m), { recursive: true });
}

/** The files of onnxruntime-web the page loads (ONNX backend, verify), when it is installed; `crema ui` serves the same. */
export const ORT_FILES = ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm'];

function copyOnnxRuntime(dir) {
  let from;
  try {
    from = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'));
  } catch {
    console.warn('build-browser: onnxruntime-web is not installed: the static page runs without the ONNX backend and verify');
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ORT_FILES) fs.copyFileSync(path.join(from, f), path.join(dir, f));
}

/** h5wasm's ESM build (HDF5 weights in the page), when it is installed; `crema ui` serves the same at /h5wasm/. */
export const H5WASM_FILES = ['hdf5_hl.js', 'hdf5_util.js', 'file_handlers.js'];

/** The directory of h5wasm's ESM build, or undefined when h5wasm (an optional peer) is not installed. */
export function h5wasmDir() {
  try {
    return path.dirname(fileURLToPath(import.meta.resolve('h5wasm'))); // its exports have an 'import' condition only
  } catch {
    return undefined;
  }
}

function copyH5wasm(dir) {
  const from = h5wasmDir();
  if (!from) {
    console.warn('build-browser: h5wasm is not installed: the static page reads no HDF5 weights');
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const f of H5WASM_FILES) fs.copyFileSync(path.join(from, f), path.join(dir, f));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // esbuild has printed what failed, with the importer: no stack trace on top.
  await main().catch((err) => {
    console.error(`build-browser: ${err.message.split('\n')[0]}`);
    process.exit(1);
  });
}
