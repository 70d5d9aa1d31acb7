#!/usr/bin/env node
// crema's benchmarks against ONNX Runtime, as the performance issue states its goals (docs/PERFORMANCE.md).
//   npm run bench [-- --quick] [-- --only lrn,alexnet,zoo,busy,memory,batch,opencv,load,ortweb] [-- --nets alexnet,resnet50]
//                 [-- --iterations N] [-- --json FILE]
// Prints one table: case, backend, threads, median / min / max ms, ratio to the ONNX Runtime reference of the
// same case (same run, same thread count, runs interleaved), the goal and whether it is met. Builds dist/ first
// when src/ is newer. Needs ../shared (models, zoo specs, tools/hashweights.mjs) for everything but LRN; VGG-16,
// Inception-v3 and OpenPose come from models/zoo when ../shared lacks them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { startHog } from './hog.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const quick = args.includes('--quick');
const only = new Set(flag('--only', 'lrn,alexnet,zoo,busy,memory,batch,opencv,load,ortweb').split(','));
const jsonFile = flag('--json', undefined);
const netsOnly = flag('--nets', undefined)?.split(','); // the zoo, busy, batch and ortweb sections on these nets only
const scale = Number(flag('--iterations', quick ? 0.4 : 1)); // a factor on each section's iteration count
const iters = (n) => Math.max(2, Math.round(n * scale));

buildIfStale();
await import('../dist/platform/node.js'); // the Node platform under the core (as the package's entry installs it)
const { loadNet } = await import('../dist/caffe/load.js');
const { Net } = await import('../dist/runtime/net.js');
const { lrnLayer } = await import('../dist/layers/lrn.js');
const { Tensor } = await import('../dist/tensor.js');
const { convertGraph } = await import('../dist/onnx/convert.js');
const { encodeModel } = await import('../dist/onnx/proto.js');
const { openBenchSession } = await import('../dist/bench/onnx.js');
const { interleave, summarize } = await import('../dist/bench/stats.js');
const { setNativeThreads } = await import('../dist/bench/bench-net.js');
const { collectGarbage } = await import('../dist/kernels/wasm.js');
const { columnsTable } = await import('../dist/cli/table.js');
const { comparePair } = await import('../dist/verify/compare.js');
const { CORE_PROBE, coreProbe, coreSpeed } = await import('../dist/bench/probe.js');
const { kernelBound } = await import('../dist/bench/bound.js');
/** max|ours - ref| / max(1, max|ref|), the project's measure of agreement. */
const maxRelDiff = (ours, ref) => comparePair(new Tensor([ours.length], ours), new Tensor([ref.length], ref), 0).rel;

/** Runs `npm run build` when a source (src/, assembly/) is newer than dist/; its errors are reported. */
function buildIfStale() {
  const newest = (dir, ext) => {
    let t = 0;
    if (!fs.existsSync(dir)) return 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
      if (e.isFile() && e.name.endsWith(ext)) t = Math.max(t, fs.statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs);
    return t;
  };
  const sources = Math.max(newest(path.join(root, 'src'), '.ts'), newest(path.join(root, 'assembly'), '.ts'));
  if (sources <= Math.min(newest(path.join(root, 'dist'), '.js'), newest(path.join(root, 'dist'), '.wasm'))) return;
  console.error('src/ is newer than dist/: building (npm run build) ...');
  try {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    console.error('warning: the build reported errors; benchmarking what dist/ holds');
  }
}

// ---------------------------------------------------------------------------------------------------------
// Results: one row per timed contender; `ref` names the row its ratio is taken to.
const rows = [];
const notes = [];
function addRow(row) {
  rows.push(row);
  return row;
}
function addTimed(group, name, backend, threads, samples, extra = {}) {
  return addRow({ group, case: name, backend, threads, ...summarize(samples), ...extra });
}
/** ratio = row / reference (medians); `goal` is the largest ratio allowed (or smallest, with `atLeast`). */
function judge(row, ref, goal, goalText, { atLeast = false, value } = {}) {
  row.ratio = value ?? row.median_ms / ref.median_ms;
  row.ratio_to = ref ? `${ref.backend}${ref.threads ? ` ${ref.threads}t` : ''}` : undefined;
  row.goal = goalText;
  row.met = goal === undefined ? undefined : atLeast ? row.ratio >= goal : row.ratio <= goal;
}

// ---------------------------------------------------------------------------------------------------------
// Minimal ONNX writer (schema: proto/onnx.proto), for models written here by hand rather than by crema's
// converter: the LRN op / subgraph and the hand-built AlexNet that goal 4 compares the converter against.
const onnx = new protobuf.Root().loadSync(path.join(root, 'proto/onnx.proto'), { keepCase: true });
const ModelProto = onnx.lookupType('onnx.ModelProto');
const FLOAT = 1, A_FLOAT = 1, A_INT = 2, A_INTS = 7;
const attrs = (o) =>
  Object.entries(o).map(([name, v]) =>
    Array.isArray(v) ? { name, type: A_INTS, ints: v } : Number.isInteger(v) && !String(name).match(/alpha|beta|bias/) ? { name, type: A_INT, i: v } : { name, type: A_FLOAT, f: v },
  );
const node = (op_type, input, output, a = {}, name = output[0]) => ({ op_type, input, output, name, attribute: attrs(a) });
const floatInit = (name, dims, data) => ({ name, dims, data_type: FLOAT, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
const valueInfo = (name, dims) => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });
function modelBytes(name, nodes, initializer, input, output) {
  const model = { ir_version: 8, producer_name: 'crema scripts/bench.mjs', opset_import: [{ domain: '', version: 17 }], graph: { name, node: nodes, initializer, input, output } };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

// ORT's pool threads spin for a while after each run; interleaved with other contenders, that spinning would
// take a core from whatever runs next, so it is off for every session here (CREMA_BENCH_SPIN=1 turns it on).
const spin = process.env.CREMA_BENCH_SPIN === '1';

/**
 * An ORT session as `crema bench` opens one (src/bench/onnx.ts): crema's conversion (a ModelObj) as users' sessions
 * are, from the model files with the weights mapped; a hand-built model from its bytes. `run`, `outputNames` and
 * `release` as ORT's.
 */
async function session(model, threads) {
  const s = await openBenchSession(model, { threads, spin });
  return { run: (feeds, fetches) => s.session.run(feeds, fetches), outputNames: s.session.outputNames, release: () => s.release() };
}

function hashData(count, seed, amplitude) {
  const data = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * amplitude;
  }
  return data;
}


// ---------------------------------------------------------------------------------------------------------
// LRN alone (round two's goal 1: ≤ 0.35 × ORT's op; round one's goals 1 and 2), one thread each, native layer vs ONNX Runtime's LRN op (ACROSS) or the equivalent
// subgraph (WITHIN: ONNX has no such op), on AlexNet's norm1 / norm2 shapes.
const LRN_SHAPES = [[1, 96, 55, 55], [1, 256, 27, 27]];
const ALPHA = 1e-4, K = 1;

function lrnAcrossModel(dims, n, beta) {
  return modelBytes('lrn', [node('LRN', ['x'], ['y'], { size: n, alpha: ALPHA, beta, bias: K })], [], [valueInfo('x', dims)], [valueInfo('y', dims)]);
}

function lrnWithinModel(dims, n, beta) {
  const pad = (n - 1) / 2;
  const nodes = [
    node('Mul', ['x', 'x'], ['sq']),
    node('AveragePool', ['sq'], ['avg'], { kernel_shape: [n, n], pads: [pad, pad, pad, pad], strides: [1, 1], count_include_pad: 1 }),
    node('Mul', ['avg', 'alpha'], ['scaled']),
    node('Add', ['scaled', 'one'], ['base']),
    node('Pow', ['base', 'negbeta'], ['factor']),
    node('Mul', ['x', 'factor'], ['y']),
  ];
  const scalar = (name, v) => floatInit(name, [], Float32Array.of(v));
  return modelBytes('lrn', nodes, [scalar('alpha', ALPHA), scalar('one', 1), scalar('negbeta', -beta)], [valueInfo('x', dims)], [valueInfo('y', dims)]);
}

/** A native LRN layer and an ONNX Runtime session computing the same thing on the same input. */
async function lrnPair(region, dims, n, beta) {
  const x = hashData(dims.reduce((a, b) => a * b, 1), dims[1] * 31 + n, 50); // activations in norm1's range
  const def = { name: 'norm', type: 'LRN', bottom: ['x'], top: ['y'], lrn_param: { local_size: n, alpha: ALPHA, beta, k: K, norm_region: region === 'within' ? 'WITHIN_CHANNEL' : 'ACROSS_CHANNELS' } };
  const layer = lrnLayer.create(def, []);
  const bottom = new Tensor(dims, x), top = Tensor.zeros(layer.reshape([dims])[0]);
  const s = await session(region === 'within' ? lrnWithinModel(dims, n, beta) : lrnAcrossModel(dims, n, beta), 1);
  const feeds = { x: new ort.Tensor('float32', x, dims) };
  let theirs;
  return {
    label: `LRN ${region} [${dims.join(',')}] n=${n}${beta !== 0.75 ? ` beta=${beta}` : ''}`,
    ortName: region === 'within' ? 'ORT subgraph' : 'ORT LRN op',
    native: () => layer.forward([bottom], [top]),
    onnx: async () => (theirs = (await s.run(feeds)).y),
    /** Checks that both computed the same, then frees the session. */
    async finish() {
      const diff = maxRelDiff(top.data, theirs.data);
      if (diff > 1e-4) notes.push(`${this.label}: native and ONNX Runtime differ by ${diff.toExponential(1)} (relative)`);
      await s.release();
    },
  };
}

/** Times several LRN cases in one interleaved loop (so that load from elsewhere hits them all alike). */
async function lrnGroup(cases) {
  const pairs = [];
  for (const [region, dims, n, beta] of cases) pairs.push(await lrnPair(region, dims, n, beta));
  const contenders = pairs.flatMap((p, i) => [{ name: `native${i}`, run: p.native }, { name: `onnx${i}`, run: p.onnx }]);
  const samples = await interleave(contenders, { iterations: iters(40), warmup: 3 });
  const out = [];
  for (const [i, p] of pairs.entries()) {
    await p.finish();
    const ref = addTimed('lrn', p.label, p.ortName, 1, samples.get(`onnx${i}`));
    out.push({ ours: addTimed('lrn', p.label, 'native', 1, samples.get(`native${i}`)), ref });
  }
  return out;
}

async function benchLrn() {
  const sizes = [3, 5, 7, 9, 11];
  for (const region of ['across', 'within']) {
    const limit = region === 'across' ? 0.35 : 0.8;
    for (const dims of LRN_SHAPES) {
      const results = await lrnGroup(sizes.map((n) => [region, dims, n, 0.75]));
      results.forEach(({ ours, ref }, i) => judge(ours, ref, sizes[i] === 5 ? limit : undefined, sizes[i] === 5 ? `≤ ${limit}` : 'flat in n'));
      const medians = results.map((r) => r.ours.median_ms);
      const mid = [...medians].sort((a, b) => a - b)[2];
      const spread = Math.max(...medians.map((m) => Math.abs(m / mid - 1)));
      addRow({ group: 'lrn', case: `LRN ${region} [${dims.join(',')}] n=3..11`, backend: 'native', threads: 1, median_ms: mid, min_ms: Math.min(...medians), max_ms: Math.max(...medians), ratio: spread, ratio_to: 'spread of medians', goal: '≤ 0.15', met: spread <= 0.15 });
    }
  }
  for (const dims of LRN_SHAPES) for (const { ours, ref } of await lrnGroup([0.5, 0.6, 1, 1.3, 2].map((beta) => ['across', dims, 5, beta]))) judge(ours, ref, 1, '≤ 1.0 (any beta)');
}

// ---------------------------------------------------------------------------------------------------------
// Goals 3 and 4: AlexNet, batch 1. The hand-built graph is written here, op by op, from the same weights:
// Conv / Relu / LRN / MaxPool / Flatten / Gemm / Softmax, nothing Caffe-specific.
function needShared(what) {
  if (fs.existsSync(path.join(shared, 'reference'))) return true;
  console.error(`skipped ${what}: needs ../shared (models, zoo weight specs) beside the checkout`);
  notes.push(`${what} skipped: ../shared is missing`);
  return false;
}

/**
 * Zoo weights, regenerated deterministically from the net's weight spec once and cached in the temp directory
 * (shared's hashweights.mjs, or the repository's copy, test/fixtures/corpus/hashweights.mjs, without ../shared).
 */
function zooWeights(model) {
  const file = path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`);
  if (!fs.existsSync(file)) {
    console.error(`generating ${model} weights into ${file} ...`);
    const tmp = `${file}.${process.pid}.tmp`;
    const tool = [path.join(shared, 'tools/hashweights.mjs'), path.join(root, 'test/fixtures/corpus/hashweights.mjs')].find((f) => fs.existsSync(f));
    execFileSync(process.execPath, [tool, 'model', zooSpec(model), tmp, '--salt', 'dev'], { stdio: 'inherit' });
    fs.renameSync(tmp, file);
  }
  return file;
}

/** The first of `files` that exists (else the first, for the message). */
const firstFile = (...files) => files.find((f) => fs.existsSync(f)) ?? files[0];

/** A zoo net's prototxt: ../shared's, else the repository's models/zoo (VGG-16, Inception-v3, OpenPose: sources in models/README.md). */
function zooPrototxt(model) {
  return firstFile(path.join(shared, 'models/zoo', `${model}.prototxt`), path.join(root, 'models/zoo', `${model}.prototxt`));
}

/** A zoo net's weight spec (blob shapes per layer, as `caffe-ref spec` writes it): ../shared's, else models/zoo/specs. */
function zooSpec(model) {
  return firstFile(path.join(shared, 'reference/zoo', model, 'spec.json'), path.join(root, 'models/zoo/specs', `${model}.json`));
}

function handBuiltAlexNet(net) {
  const nodes = [], inits = [];
  let x = net.inputs[0];
  const inDims = net.shapes.get(x);
  for (const l of net.layers) {
    const d = l.def, w = l.weights;
    const weight = (i) => {
      inits.push(floatInit(`${l.name}_${i}`, [...w[i].dims], w[i].data));
      return `${l.name}_${i}`;
    };
    const out = l.tops[0] === x ? `${l.name}_out` : l.tops[0];
    switch (l.type) {
      case 'Input':
        continue;
      case 'Convolution': {
        const p = d.convolution_param;
        const k = p.kernel_size[0], s = p.stride?.[0] ?? 1, pad = p.pad?.[0] ?? 0;
        nodes.push(node('Conv', [x, weight(0), weight(1)], [out], { kernel_shape: [k, k], strides: [s, s], pads: [pad, pad, pad, pad], group: p.group ?? 1 }));
        break;
      }
      case 'ReLU':
        nodes.push(node('Relu', [x], [out]));
        break;
      case 'LRN': {
        const p = d.lrn_param;
        nodes.push(node('LRN', [x], [out], { size: p.local_size, alpha: p.alpha, beta: p.beta, bias: p.k ?? 1 }));
        break;
      }
      case 'Pooling': {
        const p = d.pooling_param;
        const k = p.kernel_size, s = p.stride ?? 1;
        nodes.push(node('MaxPool', [x], [out], { kernel_shape: [k, k], strides: [s, s], ceil_mode: 1 }));
        break;
      }
      case 'InnerProduct': {
        const flat = `${l.name}_flat`;
        nodes.push(node('Flatten', [x], [flat], { axis: 1 }));
        nodes.push(node('Gemm', [flat, weight(0), weight(1)], [out], { transB: 1 }));
        break;
      }
      case 'Dropout':
        continue; // inference: the identity
      case 'Softmax':
        nodes.push(node('Softmax', [x], [out], { axis: 1 }));
        break;
      default:
        throw new Error(`hand-built AlexNet: no op for layer type ${l.type}`);
    }
    x = out;
  }
  const outDims = net.shapes.get(net.outputs[0]);
  return modelBytes('alexnet_hand_built', nodes, inits, [valueInfo(net.inputs[0], inDims)], [valueInfo(x, outDims)]);
}

async function benchAlexNet() {
  if (!needShared('AlexNet')) return;
  const weights = zooWeights('alexnet');
  const net = await Net.load(zooPrototxt('alexnet'), weights);
  const input = net.inputs[0], dims = net.shapes.get(input);
  const x = new Tensor(dims, hashData(dims.reduce((a, b) => a * b, 1), 7, 100));
  const feeds = { [input]: new ort.Tensor('float32', x.data, [...dims]) };
  const nativeOut = net.forward({ [input]: x })[net.outputs[0]].data.slice();
  const hand = handBuiltAlexNet(net);
  const converted = convertGraph(net.graph, {}).model;
  const decomposed = convertGraph(net.graph, { lrn: 'decomposed' }).model;
  const it = iters(15);
  for (const threads of [1, 2]) {
    const sessions = { hand: await session(hand, threads), crema: await session(converted, threads), decomposed: await session(decomposed, threads) };
    const runOrt = (s) => async () => Object.values(await s.run(feeds))[0];
    const handOut = Object.values(await sessions.hand.run(feeds))[0].data;
    const diff = maxRelDiff(nativeOut, handOut);
    if (diff > 1e-4) notes.push(`AlexNet: the hand-built graph's output differs from native by ${diff.toExponential(1)}`);
    const contenders = [
      { name: 'hand', run: runOrt(sessions.hand) },
      { name: 'crema', run: runOrt(sessions.crema) },
      { name: 'decomposed', run: runOrt(sessions.decomposed) },
    ];
    const nt = await setNativeThreads(threads, [net]);
    if (nt === threads) contenders.push({ name: 'native', run: () => net.forward({ [input]: x }) });
    const samples = await interleave(contenders, { iterations: it, warmup: 2 });
    const ref = addTimed('alexnet', 'AlexNet batch 1', 'ORT hand-built', threads, samples.get('hand'));
    judge(addTimed('alexnet', 'AlexNet batch 1', 'onnx (crema graph)', threads, samples.get('crema')), ref, 1, '≤ 1.0');
    judge(addTimed('alexnet', 'AlexNet batch 1', 'onnx --lrn decomposed', threads, samples.get('decomposed')), ref, 0.85, '≤ 0.85');
    if (samples.has('native')) judge(addTimed('alexnet', 'AlexNet batch 1', 'native', threads, samples.get('native')), ref, 1, 'G1: ≤ 1.0');
    else notes.push(`AlexNet native at ${threads} threads: not run (the native engine uses ${nt} thread${nt === 1 ? '' : 's'})`);
    for (const s of Object.values(sessions)) await s.release();
  }
}

// Round one's goal 6: loading AlexNet (Net.load: prototxt + 233 MB caffemodel), each run in a fresh process.
async function benchLoad() {
  if (!needShared('loading')) return;
  const weights = zooWeights('alexnet'), prototxt = zooPrototxt('alexnet');
  // Three kinds of child: bare node, node that imports crema, node that loads AlexNet with Net.load's defaults.
  // Peak RSS from /proc's VmHWM where there is one: getrusage's maxRSS survives exec, so a child forked from this
  // (large) process would report this process's size.
  const report = `const { readFileSync } = await import('node:fs');
    let hwm = 0;
    try { hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; } catch {}
    console.log(JSON.stringify({ ms, rss: hwm || process.resourceUsage().maxRSS * 1024 }));`;
  const code = {
    bare: `const ms = 0; ${report}`,
    imported: `await import(${JSON.stringify(path.join(root, 'dist/index.js'))}); const ms = 0; ${report}`,
    load: `const { Net } = await import(${JSON.stringify(path.join(root, 'dist/index.js'))});
      const t0 = performance.now();
      await Net.load(process.argv[2], process.argv[3]);
      const ms = performance.now() - t0;
      ${report}`,
  };
  // Scripts in files, not \`-e\`: worker threads would inherit --input-type=module.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-load-'));
  const child = (kind) => {
    const file = path.join(dir, `${kind}.mjs`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, code[kind]);
    return JSON.parse(execFileSync(process.execPath, [file, prototxt, weights], { encoding: 'utf8' }).trim().split('\n').at(-1));
  };
  const runs = [], bare = [], imported = [];
  for (let i = 0; i < (quick ? 3 : 5); i++) {
    bare.push(child('bare').rss);
    imported.push(child('imported').rss);
    runs.push(child('load'));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const size = fs.statSync(weights).size;
  const row = addTimed('load', 'AlexNet Net.load (233 MB)', 'native', 1, runs.map((r) => r.ms));
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const peak = med(runs.map((r) => r.rss)), base = med(bare), withCrema = med(imported);
  // Memory loading costs: the loading child's peak RSS above bare node's.
  row.ratio = (peak - base) / size;
  row.ratio_to = 'peak RSS - bare node, / file';
  row.goal = 'round one: ≤ 400 ms, ≤ 1.25 × file';
  row.met = row.median_ms <= 400 && row.ratio <= 1.25;
  const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  notes.push(`loading: peak RSS ${mib(peak)} for a ${mib(size)} file; bare node ${mib(base)}, node + crema imported (no net) ${mib(withCrema)}`);
}

// Round two's goals (issue 12). Goal 1: AlexNet / CaffeNet native ≤ 1.0 × ORT; goal 2: the other nets ≤ 1.5 ×
// (MobileNets ≤ 2.0 ×), at 1 and 2 threads, ORT running crema's conversion. Nets whose prototxt or weight spec
// is not in ../shared (VGG-16, Inception-v3, OpenPose) are named as skipped.
const ZOO = [
  ['alexnet', 1, 1], ['caffenet', 1, 1], ['googlenet', 2, 1.5], ['vgg16', 2, 1.5], ['resnet50', 2, 1.5],
  ['squeezenet_v1.1', 2, 1.5], ['inception_v3', 2, 1.5], ['openpose', 2, 1.5], ['mobilenet', 2, 2], ['mobilenet_v2', 2, 2],
];
/** Quiet ratios and native medians of the zoo section, by `model threads`, for goal 3's comparison. */
const quiet = new Map();

function zooAvailable(model) {
  if (netsOnly && !netsOnly.includes(model)) return false;
  const ok = fs.existsSync(zooPrototxt(model)) && fs.existsSync(zooSpec(model));
  if (!ok) notes.push(`${model}: skipped (no prototxt or weight spec in ../shared or models/zoo)`);
  return ok;
}

/**
 * Disposes nets and lets their blobs' wasm blocks come back before the next net loads: blobs live in the kernels'
 * one 4 GiB memory and are returned when the collector finalizes them, which a benchmark loading every zoo net in
 * one process would otherwise outrun (batch 8 of VGG-16 after all the others: "cannot fit 277 MiB more").
 */
async function release(...nets) {
  for (const net of nets) await net.dispose();
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 0)); // FinalizationRegistry callbacks run as tasks after a GC
}

/** A zoo net loaded with its seeded input, crema's ONNX model of it and ORT's feeds (the zoo and ortweb sections). */
async function zooCase(model) {
  const net = await Net.load(zooPrototxt(model), zooWeights(model));
  const input = net.inputs[0], dims = net.shapes.get(input);
  const x = new Tensor(dims, hashData(dims.reduce((a, b) => a * b, 1), 11, 100));
  const converted = convertGraph(net.graph, {}).model;
  return { net, input, dims, x, converted, feeds: { [input]: new ort.Tensor('float32', x.data, [...dims]) } };
}

/**
 * Native vs ORT (crema's graph) per net and thread count, interleaved; rows in `group`, judged by `judgeRow`. With
 * `together`, both thread counts' four contenders (native and ORT at 1 and 2 threads) are interleaved in one run,
 * so that a net's 1-thread and 2-thread rows come from the same minutes (the busy section's "2 threads <= 1
 * thread": timed one after the other, the load moving between the two runs decided it, round eight).
 */
async function zooRatios(group, label, judgeRow, { together = false } = {}) {
  // Untimed rounds before the timed ones. Just after an ORT session is created (240 MB of AlexNet's weights packed
  // and the unpacked ones freed) the next two rounds run slow on both backends: AlexNet at 2 threads, native 15-24
  // ms against 11.5-12 and ORT 17-19 against 14.7 (docs/PERFORMANCE.md, round twenty-three). With one warm-up round
  // the second slow one was timed, and the first, native's first counted parallel forward (the net is warm from its
  // 1-thread row: ForwardJudge), sent the next three forwards alone when it was slower than them: AlexNet's 2-thread
  // row at its 1-thread time (20.6 ms, 1.27x ORT) in 3 runs of 4. Three rounds take both slow ones and the judge's
  // try after them; the busy section still times one parallel try (P A A | A P A A A A A A).
  const warmup = 3;
  for (const [model, goal, limit] of ZOO) {
    if (!zooAvailable(model)) continue;
    const { net, input, x, converted, feeds } = await zooCase(model);
    const iterations = iters(model === 'vgg16' || model === 'openpose' ? 4 : 8);
    const probe = coreProbe() ?? []; // timed among the forwards: the `core` column
    const ideal = kernelBound(net.graph).ideal; // the `bound` column
    const record = (threads, samples, native = 'native', onnx = 'onnx') => {
      const ref = addTimed(group, `${model} batch 1${label}`, 'onnx (crema graph)', threads, samples.get(onnx));
      const row = addTimed(group, `${model} batch 1${label}`, 'native', threads, samples.get(native), { ...coreOf(samples), ideal_macs: ideal, ref_ms: ref.median_ms });
      judgeRow(model, threads, goal, limit, ref, row);
    };
    if (together && (await setNativeThreads(2, [net])) === 2) {
      const sessions = [await session(converted, 1), await session(converted, 2)];
      const contenders = [1, 2].flatMap((threads) => [
        { name: `native ${threads}`, run: () => ((net.threads = threads), net.forward({ [input]: x })) },
        { name: `onnx ${threads}`, run: () => sessions[threads - 1].run(feeds) },
      ]).concat(probe);
      const samples = await interleave(contenders, { iterations, warmup });
      for (const s of sessions) await s.release();
      for (const threads of [1, 2]) record(threads, samples, `native ${threads}`, `onnx ${threads}`);
      await release(net);
      continue;
    }
    if (together) notes.push(`${model}${label}: 1 and 2 threads timed one after the other (the native engine has fewer than 2 threads)`);
    for (const threads of [1, 2]) {
      const nt = await setNativeThreads(threads, [net]);
      if (nt !== threads) {
        notes.push(`${model} at ${threads} threads: skipped (the native engine uses ${nt} thread${nt === 1 ? '' : 's'})`);
        continue;
      }
      const s = await session(converted, threads);
      const samples = await interleave(
        [{ name: 'native', run: () => net.forward({ [input]: x }) }, { name: 'onnx', run: () => s.run(feeds) }].concat(probe),
        { iterations, warmup },
      );
      await s.release();
      record(threads, samples);
    }
    await release(net);
  }
}

/**
 * The core probe's median rate over a row's rounds (src/bench/probe.ts: crema's GEMM kernel on cached data, timed
 * among the forwards), and the fastest probe run of the whole benchmark: the table's `core` column is the one
 * against the other, how much of this core the native engine had while the row was timed (another thread on the
 * same physical core slows crema's kernels by up to 1.6x and ONNX Runtime's barely: docs/PERFORMANCE.md, round
 * seventeen).
 */
let coreBest = 0;
function coreOf(samples) {
  const core = coreSpeed(samples.get(CORE_PROBE));
  if (!core) return {};
  coreBest = Math.max(coreBest, core.max_gmacs);
  return { core_gmacs: core.median_gmacs };
}

async function benchZoo() {
  if (!needShared('zoo models')) return;
  await zooRatios('zoo', '', (model, threads, goal, limit, ref, row) => {
    judge(row, ref, limit, `G${goal}: ≤ ${limit.toFixed(1)}`);
    quiet.set(`${model} ${threads}`, { ratio: row.ratio, native: row.median_ms });
  });
}

/** A CPU-bound process on one core for as long as `fn` runs (goal 3's load, started by the benchmark itself). */
async function underLoad(fn) {
  const hog = startHog();
  await new Promise((resolve) => setTimeout(resolve, 200));
  try {
    await fn();
  } finally {
    hog.kill();
  }
}

// Goal 3: the zoo again with a busy core: each ratio worsens by at most 25 % against the quiet run above, and
// two native threads are not slower than one.
async function benchBusy() {
  if (!needShared('under load')) return;
  const busy = new Map();
  await underLoad(() =>
    zooRatios('busy', ', 1 core busy', (model, threads, goal, limit, ref, row) => {
      judge(row, ref, undefined, '');
      busy.set(`${model} ${threads}`, row);
      const q = quiet.get(`${model} ${threads}`);
      if (q) judge(row, ref, 1.25, 'G3: ≤ 1.25 × quiet ratio', { value: row.ratio / q.ratio });
      if (q) row.ratio_to = `ratio ${(row.median_ms / ref.median_ms).toFixed(2)} / quiet ${q.ratio.toFixed(2)}`;
      const one = busy.get(`${model} 1`);
      if (threads === 2 && one) {
        const r = addRow({ group: 'busy', case: `${model}, 1 core busy: native 2 threads vs 1`, backend: 'native', threads: 2, median_ms: row.median_ms, min_ms: row.min_ms, max_ms: row.max_ms });
        judge(r, one, 1, 'G3: 2 threads ≤ 1 thread');
        r.ratio_to = 'native 1t';
      }
    }, { together: true }),
  );
  if (!quiet.size) notes.push('under load: run with the zoo section (--only zoo,busy) for the ratios to quiet');
}

// Goal 5: images per second at batch 8 against batch 1, native, on goal 2's nets (one net per batch size,
// sharing the loaded weights), all threads.
async function benchBatch() {
  if (!needShared('batch 8')) return;
  for (const [model, goal] of ZOO) {
    if (goal !== 2 || !zooAvailable(model)) continue;
    const { net: param, weights } = await loadNet(zooPrototxt(model), zooWeights(model));
    const one = Net.fromNetParameter(param, weights);
    const input = one.inputs[0], dims = one.shapes.get(input);
    const x1 = new Tensor(dims, hashData(dims.reduce((a, b) => a * b, 1), 7, 100));
    const dims8 = [8, ...dims.slice(1)];
    const x8 = new Tensor(dims8, hashData(dims8.reduce((a, b) => a * b, 1), 7, 100));
    // Each forward marked alone or not (the ForwardJudge's count): round fifty-one's MobileNet batch-1 reference
    // read 24.9 ms "at 2 threads" against the zoo row's 14.6, one thread's time, and the row could not tell.
    const ways = { 1: [], 8: [] };
    const marked = (name, net, x) => ({ name, run: () => {
      const before = net.forwardJudge?.aloneForwards ?? 0;
      net.forward({ [input]: x });
      ways[name].push((net.forwardJudge?.aloneForwards ?? 0) > before);
    } });
    const batchOne = marked('1', one, x1);
    // Three forwards of each net before the timed ones: a net's first forwards at two threads are its ForwardJudge's
    // trials (parallel cold, parallel, alone: src/runtime/forward-judge.ts), not its steady speed. With one warm-up
    // the alone trial (one thread's speed) was one of the four timed forwards of batch 1 and of batch 8, and the
    // second, slow parallel forward another (ResNet-50 at batch 1: 105 and 123 ms against a steady ~66; round sixteen).
    // Four timed forwards for the nets whose batch 8 takes seconds (VGG-16, OpenPose), eight for the others: with four,
    // MobileNet's row read 0.95x batch 1's images a second where 8 alternated rounds of the same two nets gave 1.08-1.21
    // (docs/PERFORMANCE.md, round twenty-seven).
    const options = { iterations: iters(model === 'vgg16' || model === 'openpose' ? 4 : 8), warmup: 3 };
    // OpenPose's two nets do not fit the kernels' one 4 GiB memory together at batch 8 (each holds 1.15 GB of
    // Winograd weights; batch 8's blobs take 2 GB more): batch 1 is timed first and freed, then batch 8, not
    // interleaved. The weights are read once: the batch 8 net is made from the same map (shared, refcounted) before
    // batch 1's net is freed, so that they stay; its blobs grow to batch 8 at its first forward, after that release.
    const together = model !== 'openpose';
    const samples = new Map();
    if (!together) {
      await setNativeThreads(0, [one]);
      for (const [name, times] of await interleave([batchOne], options)) samples.set(name, times);
    }
    const eight = Net.fromNetParameter(param, weights);
    if (!together) await release(one);
    eight.forward({ [input]: x8 }); // reshape once, outside the timing
    const threads = await setNativeThreads(0, together ? [one, eight] : [eight]);
    const contenders = [...(together ? [batchOne] : []), marked('8', eight, x8)];
    for (const [name, times] of await interleave(contenders, options)) samples.set(name, times);
    if (!together) notes.push(`${model}: batch 1 and batch 8 timed one after the other (their two nets do not fit the kernels' 4 GiB together)`);
    const b1 = addTimed('batch', `${model} batch 1 (batch reference)`, 'native', threads, samples.get('1'), { batch: 1 });
    const b8 = addTimed('batch', `${model} batch 8`, 'native', threads, samples.get('8'), { batch: 8 });
    judge(b8, b1, 1.5, 'G5: img/s ≥ 1.5 × batch 1', { atLeast: true, value: (8 / b8.median_ms) / (1 / b1.median_ms) });
    b8.ratio_to = 'img/s vs batch 1';
    for (const [batch, marks] of Object.entries(ways)) {
      const alone = marks.slice(-options.iterations).filter(Boolean).length; // the timed ones: the last
      if (alone) notes.push(`${model} batch ${batch}: ${alone} of its ${options.iterations} timed forwards ran alone (one thread's speed: the ForwardJudge)`);
    }
    if (together) await ortBatchGain(model, one, eight, x1, x8, threads, options);
    await release(...(together ? [one, eight] : [eight]));
  }
}

/**
 * ONNX Runtime's own batch 8 / batch 1 images per second on the same net and threads, for comparison (not a goal):
 * where ORT's kernels are already at their peak at batch 1, batch 8 cannot gain much either.
 */
async function ortBatchGain(model, one, eight, x1, x8, threads, options) {
  const input = one.inputs[0];
  const sessions = await Promise.all([one, eight].map((n) => session(convertGraph(n.graph, {}).model, threads)));
  const feeds = [x1, x8].map((x) => ({ [input]: new ort.Tensor('float32', x.data, [...x.dims]) }));
  const samples = await interleave(sessions.map((s, i) => ({ name: String(i), run: () => s.run(feeds[i]) })), options);
  await Promise.all(sessions.map((s) => s.release()));
  const b1 = addTimed('batch', `${model} batch 1 (batch reference)`, 'onnx (crema graph)', threads, samples.get('0'), { batch: 1 });
  const b8 = addTimed('batch', `${model} batch 8`, 'onnx (crema graph)', threads, samples.get('1'), { batch: 8 });
  judge(b8, b1, undefined, 'ORT, for comparison', { value: (8 / b8.median_ms) / (1 / b1.median_ms) });
  b8.ratio_to = 'img/s vs batch 1';
}

// Goal 4: AlexNet's resident memory after the first forward (a fresh process: VmRSS then, minus a bare node's,
// over the caffemodel's size) and the first forward's time against the next ones'.
async function benchMemory() {
  if (!needShared('memory')) return;
  const weights = zooWeights('alexnet');
  const rssOf = `() => Number(/VmRSS:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024 || process.memoryUsage().rss`;
  const script = `import fs from 'node:fs';
    const rss = ${rssOf};
    const bare = rss();
    const { Net } = await import(${JSON.stringify(path.join(root, 'dist/index.js'))});
    const net = await Net.load(process.argv[2], process.argv[3]);
    const input = net.inputs[0], x = new Float32Array(net.shapes.get(input).reduce((a, b) => a * b, 1)).fill(0.5);
    const times = [];
    for (let i = 0; i < 6; i++) { const t = performance.now(); net.forward({ [input]: x }); times.push(performance.now() - t); if (i === 0) times.rss = rss(); }
    console.log(JSON.stringify({ bare, rss: times.rss, first: times[0], steady: times.slice(1).sort((a, b) => a - b)[2] }));`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-memory-'));
  const file = path.join(dir, 'memory.mjs');
  fs.writeFileSync(file, script);
  const runs = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(JSON.parse(execFileSync(process.execPath, [file, zooPrototxt('alexnet'), weights], { encoding: 'utf8' }).trim().split('\n').at(-1)));
  fs.rmSync(dir, { recursive: true, force: true });
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const size = fs.statSync(weights).size, mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const rss = med(runs.map((r) => r.rss - r.bare));
  const mem = addRow({ group: 'memory', case: `AlexNet resident after the first forward: ${mib(rss)} above bare node, file ${mib(size)}`, backend: 'native', threads: os.availableParallelism() });
  judge(mem, undefined, 1.3, 'G4: ≤ 1.3 × file', { value: rss / size });
  mem.ratio_to = 'RSS - bare node, / file';
  const first = addTimed('memory', 'AlexNet first forward (after Net.load)', 'native', mem.threads, runs.map((r) => r.first));
  const steady = addTimed('memory', 'AlexNet steady forward', 'native', mem.threads, runs.map((r) => r.steady));
  judge(first, steady, 3, 'G4: ≤ 3 × steady');
  first.ratio_to = 'steady';
  notes.push(`memory: whole RSS after the first forward ${mib(med(runs.map((r) => r.rss)))} (bare node ${mib(med(runs.map((r) => r.bare)))})`);
}

// Goal 6: the JavaScript peer, opencv.js (@techstark/opencv-js, OpenCV's dnn compiled to WebAssembly: how JS users
// run Caffe models today), on AlexNet, GoogLeNet and ResNet-50: native ≥ 10 × its speed, both on one thread
// (opencv.js is built without threads), the same input, interleaved; their outputs are compared.
async function loadOpenCv() {
  const require = createRequire(import.meta.url);
  let cv;
  try {
    cv = require('@techstark/opencv-js');
  } catch {
    return undefined;
  }
  if (!cv.Mat) await new Promise((resolve) => (cv.onRuntimeInitialized = resolve));
  // Wrapped: the module is a thenable resolving to itself, so returning it from an async function never settles.
  return { cv };
}

async function benchOpenCv() {
  if (!needShared('opencv.js')) return;
  const { cv } = (await loadOpenCv()) ?? {};
  if (!cv) {
    notes.push('opencv.js: skipped (@techstark/opencv-js is not installed: npm ci installs the dev dependencies)');
    return;
  }
  for (const model of ['alexnet', 'googlenet', 'resnet50']) {
    if (!zooAvailable(model)) continue;
    const net = await Net.load(zooPrototxt(model), zooWeights(model), { threads: 1 });
    await setNativeThreads(1, [net]);
    const input = net.inputs[0], dims = net.shapes.get(input);
    const x = new Tensor(dims, hashData(dims.reduce((a, b) => a * b, 1), 13, 100));
    cv.FS_createDataFile('/', `${model}.prototxt`, fs.readFileSync(zooPrototxt(model)), true, false, false);
    cv.FS_createDataFile('/', `${model}.caffemodel`, fs.readFileSync(zooWeights(model)), true, false, false);
    const cvNet = cv.readNetFromCaffe(`${model}.prototxt`, `${model}.caffemodel`);
    cv.FS_unlink(`/${model}.caffemodel`);
    // An NCHW blob of the input's shape (blobFromImage of a blank image), then filled with the same values.
    const image = new cv.Mat(dims[2], dims[3], cv.CV_32FC3, new cv.Scalar(0, 0, 0));
    const blob = cv.blobFromImage(image, 1, new cv.Size(dims[3], dims[2]), new cv.Scalar(0, 0, 0, 0), false, false);
    blob.data32F.set(x.data);
    const runCv = () => {
      cvNet.setInput(blob);
      const out = cvNet.forward();
      const data = out.data32F.slice();
      out.delete();
      return data;
    };
    const diff = maxRelDiff(net.forward({ [input]: x })[net.outputs[0]].data, runCv());
    if (diff > 1e-4) notes.push(`opencv.js ${model}: its output differs from native by ${diff.toExponential(1)}`);
    const samples = await interleave(
      [{ name: 'native', run: () => net.forward({ [input]: x }) }, { name: 'opencv', run: runCv }],
      { iterations: iters(3), warmup: 1 },
    );
    for (const m of [image, blob, cvNet]) m.delete();
    const ref = addTimed('opencv', `${model} batch 1`, 'opencv.js', 1, samples.get('opencv'));
    const row = addTimed('opencv', `${model} batch 1`, 'native', 1, samples.get('native'));
    judge(row, ref, 10, 'G6: ≥ 10 × opencv.js', { atLeast: true, value: ref.median_ms / row.median_ms });
    row.ratio_to = 'speed vs opencv.js';
  }
}

// ---------------------------------------------------------------------------------------------------------
// The other JavaScript engine: onnxruntime-web (ONNX Runtime's own WebAssembly build, wasm execution provider,
// 128-bit SIMD) on the zoo, at 1 and 2 threads, beside crema native and onnxruntime-node, on the same input and
// the same ONNX file (crema's conversion); the six contenders of a net interleaved in one run. Information, not a
// goal of issue 12: native / ORT-web says where crema stands among the JS engines, ORT-web / ORT-node what ONNX
// Runtime itself loses in WebAssembly against its AVX-512 build (docs/PERFORMANCE.md, round fourteen).
// ORT-web runs in one worker thread per thread count (scripts/ortweb.mjs: its thread count is fixed per module
// instance); its pool threads are threads of this process, so the CPU time per run (cpu/wall) shows them at work.
async function benchOrtWeb() {
  if (!needShared('onnxruntime-web')) return;
  const { startOrtWeb } = await import('./ortweb.mjs');
  const webs = [await startOrtWeb(1), await startOrtWeb(2)];
  if (!webs[0]) {
    notes.push('onnxruntime-web: skipped (not installed: npm ci installs the dev dependencies, or npm install onnxruntime-web)');
    return;
  }
  const version = webs[0].info.version;
  try {
    for (const [model] of ZOO) {
      if (!zooAvailable(model)) continue;
      const { net, input, dims, x, converted, feeds } = await zooCase(model);
      const bytes = encodeModel(converted); // onnxruntime-web's model: its bytes
      const both = (await setNativeThreads(2, [net])) === 2;
      const threadCounts = both ? [1, 2] : [1];
      if (!both) notes.push(`ortweb ${model}: 1 thread only (the native engine has fewer than 2 threads)`);
      const sessions = [];
      for (const threads of threadCounts) {
        sessions.push(await session(converted, threads));
        await webs[threads - 1].load(bytes, input, dims, x.data);
      }
      // Outputs first, one run of each contender (their warm-up): ORT-web at each thread count against native and
      // onnxruntime-node at the same count.
      for (const threads of threadCounts) {
        net.threads = threads;
        const native = net.forward({ [input]: x })[net.outputs[0]].data;
        const node = (await sessions[threads - 1].run(feeds))[sessions[threads - 1].outputNames[0]].data;
        const web = await webs[threads - 1].run(true);
        const [dn, dw] = [maxRelDiff(native, web), maxRelDiff(node, web)];
        if (dn > 1e-4 || dw > 1e-4) notes.push(`ortweb ${model} ${threads}t: onnxruntime-web's output differs by ${dn.toExponential(1)} from native, ${dw.toExponential(1)} from onnxruntime-node (of scale)`);
      }
      // CPU time over wall time per contender (every thread of this process, ORT-web's pool threads included).
      const cpu = new Map();
      const timed = (name, fn) => async () => {
        const c0 = process.cpuUsage(), t0 = performance.now();
        await fn();
        const c = process.cpuUsage(c0), acc = cpu.get(name) ?? { cpu: 0, wall: 0 };
        cpu.set(name, { cpu: acc.cpu + (c.user + c.system) / 1000, wall: acc.wall + performance.now() - t0 });
      };
      const contenders = threadCounts.flatMap((threads) => [
        { name: `native ${threads}`, run: timed(`native ${threads}`, () => ((net.threads = threads), net.forward({ [input]: x }))) },
        { name: `node ${threads}`, run: timed(`node ${threads}`, () => sessions[threads - 1].run(feeds)) },
        { name: `web ${threads}`, run: timed(`web ${threads}`, () => webs[threads - 1].run()) },
      ]);
      // ORT-web takes 2-7 × native's time (OpenPose: 14 s a forward): fewer rounds than the zoo section, the output
      // check above their warm-up; the section takes about 5 minutes, half of it OpenPose (--nets to leave it out).
      const samples = await interleave(contenders, { iterations: iters(model === 'vgg16' || model === 'openpose' ? 2 : 3), warmup: 0 });
      for (const s of sessions) await s.release();
      for (const threads of threadCounts) await webs[threads - 1].release();
      const usage = (name) => {
        const u = cpu.get(name);
        return { cpu_per_wall: Number((u.cpu / u.wall).toFixed(2)) };
      };
      for (const threads of threadCounts) {
        const name = `${model} batch 1`;
        const onnxRow = addTimed('ortweb', name, 'onnx (crema graph)', threads, samples.get(`node ${threads}`), usage(`node ${threads}`));
        const webRow = addTimed('ortweb', name, `onnxruntime-web ${version}`, threads, samples.get(`web ${threads}`), usage(`web ${threads}`));
        judge(webRow, onnxRow, undefined, 'peer: ORT-web / ORT-node');
        const row = addTimed('ortweb', name, 'native', threads, samples.get(`native ${threads}`), usage(`native ${threads}`));
        judge(row, webRow, undefined, 'peer: native / ORT-web');
        row.ratio_to = `onnxruntime-web ${threads}t`;
        row.ratio_to_onnx = row.median_ms / onnxRow.median_ms;
      }
      await release(net);
    }
  } finally {
    for (const web of webs) await web.close();
  }
  notes.push(`ortweb: onnxruntime-web ${version} (wasm execution provider, SIMD, no proxy, a worker thread per thread count) on crema's ONNX file; no goal of issue 12: native / ORT-web is where crema stands among the JavaScript engines, ORT-web / ORT-node what ONNX Runtime loses in WebAssembly; cpu_per_wall in --json`);
}

// ---------------------------------------------------------------------------------------------------------
/**
 * The CPU beyond its model name, which a VM often shortens ("AMD EPYC" for Zen 4 and Zen 5 alike): family and model
 * and the widest x86 SIMD, from /proc/cpuinfo where there is one. ORT's kernels use AVX-512 where it is, and how
 * wide the units behind it are (Zen 4 256-bit, Zen 5 512-bit) moves every ratio (docs/PERFORMANCE.md, round sixteen).
 */
function cpuId() {
  let text;
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0];
  } catch {
    return undefined;
  }
  const field = (name) => text.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const simd = ['avx512f', 'avx2', 'avx', 'sse4_2'].find((f) => flags.has(f));
  const family = field('cpu family'), model = field('model');
  return family === undefined ? undefined : `${field('vendor_id') ?? ''} family ${family} model ${model}${simd ? `, ${simd.replace('avx512f', 'AVX-512').toUpperCase()}` : ''}`.trim();
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpu_id: cpuId(),
  cores: os.availableParallelism(),
  memory_gib: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  onnxruntime: ort.env.versions?.common ?? 'unknown',
  load_average_before: os.loadavg().map((x) => Number(x.toFixed(2))),
};
const started = performance.now();
const sections = { lrn: benchLrn, alexnet: benchAlexNet, zoo: benchZoo, busy: benchBusy, memory: benchMemory, batch: benchBatch, opencv: benchOpenCv, load: benchLoad, ortweb: benchOrtWeb };
for (const [name, fn] of Object.entries(sections)) {
  if (!only.has(name)) continue;
  console.error(`bench: ${name} ...`);
  await fn();
}
machine.load_average_after = os.loadavg().map((x) => Number(x.toFixed(2)));

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 1 : x >= 10 ? 2 : 3) : '-');
const table = columnsTable(['case', 'backend', 'threads', 'median ms', 'min ms', 'max ms', 'ratio', 'goal', 'met', 'core', 'bound'], 2);
machine.core_max_gmacs = coreBest ? Number(coreBest.toFixed(1)) : undefined;
for (const r of rows) {
  // The least ratio to ORT any native forward could have here: the fewest multiply-adds crema's algorithms need
  // (src/bench/bound.ts) at the probe's fastest rate on every thread (nothing else of the forward counted).
  if (r.ideal_macs && coreBest) r.bound = r.ideal_macs / (coreBest * 1e6 * r.threads) / r.ref_ms;
  table.push([r.case, r.backend, r.threads ?? '', fmt(r.median_ms), fmt(r.min_ms), fmt(r.max_ms), r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}${r.ratio_to ? ` (${r.ratio_to})` : ''}`, r.goal ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO', r.core_gmacs && coreBest ? `${Math.round((100 * r.core_gmacs) / coreBest)} %` : '', r.bound === undefined ? '' : r.bound.toFixed(2)]);
}
console.log(`crema bench: ${machine.cpu}${machine.cpu_id ? ` (${machine.cpu_id})` : ''}, ${machine.cores} cores, Node ${machine.node}, ONNX Runtime ${machine.onnxruntime}; load average ${machine.load_average_before.join(' ')} before, ${machine.load_average_after.join(' ')} after`);
console.log('ratio: median / median of the ONNX Runtime row of the same case and thread count, timed interleaved in this run');
if (coreBest) console.log(`core: the core probe's median rate during the row (crema's GEMM kernel on cached data, src/bench/probe.ts) against its fastest in this run, ${coreBest.toFixed(1)} G multiply-adds/s; well under 100 %, another thread shared the core and the native row is slower for it (ONNX Runtime's barely)`);
if (rows.some((r) => r.bound !== undefined))
  console.log("bound: the ratio a native forward would have doing only the fewest multiply-adds crema's algorithms need (src/bench/bound.ts: 1x1 as they are, Winograd's best cut elsewhere) at the probe's fastest rate on every thread; a goal below it is out of reach of 128-bit kernels on this host");
console.log(table.toString());
for (const n of notes) console.log(`note: ${n}`);
console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
if (jsonFile) {
  fs.writeFileSync(jsonFile, `${JSON.stringify({ machine, rows, notes }, null, 2)}\n`);
  console.error(`wrote ${jsonFile}`);
}
