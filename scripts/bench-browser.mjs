#!/usr/bin/env node
// AlexNet (batch 1): crema's engine in headless Chromium, the same engine in Node at the same thread count, and
// opencv.js (@techstark/opencv-js) and onnxruntime-web (ONNX Runtime's WebAssembly build, on crema's ONNX file,
// at the page's thread count) in the same Chromium:
//   npm run bench:browser [-- --rounds N] [--opencv-every K] [--no-opencv] [--no-ortweb] [--quiet]
// One page per thread count (1 and 2) and one Node net per thread count, all loaded at once. A round runs one forward
// on each of them, one at a time, never two at once, in an order that turns from round to round (Chromium, Node or
// onnxruntime-web first, one thread or two first), and opencv.js every K rounds: load from elsewhere lands on all
// of them alike. crema / ORT-web in Chromium is the median of the rounds' ratios of the two forwards, each timed in
// its own worker.
// Chromium / Node is the median of the rounds' own ratios (each round's Chromium forward over the Node forward
// beside it), printed with its interquartile range and the 95 % confidence interval of that median, which says
// whether the goal is met, not met, or not settled by this run. Each round's line (unless --quiet) has both sides'
// times, Chromium's forward inside its engine worker, and the ways the forward judges chose (P parallel, A alone).
// Needs ../shared (the AlexNet prototxt and tools/hashweights.mjs for its weights) and Debian's chromium.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import '../dist/platform/node.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { convertGraph, encodeConversion } from '../dist/onnx/convert.js';
import { Net } from '../dist/runtime/net.js';
import { startUiServer } from '../dist/web/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');
const arg = (name, d) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : d);
const rounds = Number(arg('--rounds', arg('--iterations', 60))); // --iterations: the old name
const WARMUP = 5;
const opencvEvery = Number(arg('--opencv-every', 4));
const withOpenCv = !process.argv.includes('--no-opencv');
// onnxruntime-web (an optional peer, a dev dependency here): served at /ort/ by the UI server when installed.
const withOrtWeb = !process.argv.includes('--no-ortweb') && fs.existsSync(path.join(root, 'node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs'));
const showRounds = !process.argv.includes('--quiet');
const threads = [1, Math.min(2, os.availableParallelism())].filter((t, i, a) => a.indexOf(t) === i);
const CHROMIUM = process.env.CREMA_CHROMIUM ?? '/usr/bin/chromium';

for (const [what, file] of [['../shared', path.join(shared, 'reference')], ['chromium', CHROMIUM]]) {
  if (!fs.existsSync(file)) {
    console.error(`bench:browser needs ${what} (${file})`);
    process.exit(2);
  }
}

/** AlexNet's weights from shared's spec (deterministic), cached in the temp directory as scripts/bench.mjs does. */
function alexnetWeights() {
  const file = path.join(os.tmpdir(), 'crema-bench-alexnet.caffemodel');
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    execFileSync(process.execPath, [path.join(shared, 'tools/hashweights.mjs'), 'model', path.join(shared, 'reference/zoo/alexnet/spec.json'), tmp, '--salt', 'dev'], { stdio: 'inherit' });
    fs.renameSync(tmp, file);
  }
  return file;
}

const load1 = () => os.loadavg()[0].toFixed(1);
const loads = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
/** The q-quantile of xs (linear between ranks). */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b), at = (s.length - 1) * q, lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
}
const median = (xs) => quantile(xs, 0.5);
/**
 * A 95 % confidence interval of the median of n samples, distribution-free: the order statistics whose ranks the
 * binomial(n, 1/2) puts 1.96 standard deviations either side of n/2.
 */
function medianInterval(xs) {
  const s = [...xs].sort((a, b) => a - b), n = s.length, d = 1.96 * Math.sqrt(n) / 2;
  return [s[Math.max(0, Math.floor(n / 2 - d))], s[Math.min(n - 1, Math.ceil(n / 2 + d) - 1)]];
}

/** The same engine in Node: a function timing one forward on the bench page's input, with its pool's counters. */
async function nodeRunner(prototxt, weights, t) {
  const net = await Net.load(prototxt, weights, { threads: t });
  const name = net.inputs[0], dims = net.shapes.get(name);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) - 128);
  let ways = '';
  const judge = net.forwardJudge;
  if (judge) {
    const choose = judge.choose.bind(judge);
    judge.choose = (key) => {
      const way = choose(key);
      ways += way === 'alone' ? 'A' : 'P';
      return way;
    };
  }
  const pool = wasmEngine()?.pool;
  const run = () => {
    const w0 = pool?.wakeups ?? 0, c0 = pool?.cut ?? 0, wait0 = pool?.waitedMs ?? 0;
    ways = '';
    const t0 = performance.now();
    net.forward({ [name]: data });
    const ms = performance.now() - t0;
    return { ms, forwardMs: ms, ways, wakeups: (pool?.wakeups ?? 0) - w0, cut: (pool?.cut ?? 0) - c0, waitedMs: (pool?.waitedMs ?? 0) - wait0 };
  };
  return { run, dispose: () => net.dispose() };
}

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    protocolTimeout: 1_800_000, // a loaded machine can keep the page busy for minutes
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, profile };
}

/** Opens the bench page, prints its log as it grows, and resolves once its nets are loaded. */
async function openPage(browser, url, label) {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`  page ${label}: ${m.text()}`));
  await page.goto(url);
  let shown = 0;
  for (;;) {
    const lines = (await page.$eval('#out', (e) => e.textContent)).trim().split('\n').filter(Boolean);
    for (const line of lines.slice(shown)) console.error(`  chromium ${label}: ${line}`);
    shown = lines.length;
    const state = await page.evaluate('[globalThis.benchPage !== undefined, globalThis.benchError]');
    if (state[1]) throw new Error(`the benchmark page failed: ${state[1]}`);
    if (state[0]) return page;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A line of medians and the interquartile range: "36.1 (35.0-38.2)". */
const spread = (xs, digits = 1) => `${median(xs).toFixed(digits)} (${quantile(xs, 0.25).toFixed(digits)}-${quantile(xs, 0.75).toFixed(digits)})`;

/** What one side's engine did per forward: the forward judge's ways, wake-ups, cut polls, the main thread's wait. */
function counters(samples) {
  const ways = samples.map((x) => x.ways ?? '').join('');
  const mean = (k) => samples.reduce((a, x) => a + (x[k] ?? 0), 0) / samples.length;
  return `ways ${ways.split('P').length - 1}P/${ways.split('A').length - 1}A, woke ${mean('wakeups').toFixed(1)}, cut ${mean('cut').toFixed(2)}, waited ${mean('waitedMs').toFixed(2)} ms a forward`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-browser-'));
const { browser, profile } = await launch();
try {
  const prototxt = path.join(shared, 'models/zoo/alexnet.prototxt');
  const weights = alexnetWeights();
  for (const [src, name] of [[prototxt, 'net.prototxt'], [weights, 'net.caffemodel'], [path.join(root, 'node_modules/@techstark/opencv-js/dist/opencv.js'), 'opencv.js']])
    fs.symlinkSync(src, path.join(dir, name));
  if (withOrtWeb) {
    const net = await Net.load(prototxt, weights);
    fs.writeFileSync(path.join(dir, 'net.onnx'), encodeConversion(convertGraph(net.graph, {})));
    await net.dispose();
  }
  const server = await startUiServer({ port: 0, mounts: { '/bench/': dir } });
  const started = Date.now(), loadBefore = loads();
  console.error(`AlexNet batch 1, ${rounds} rounds at thread counts ${threads.join(' and ')} in turn, after ${WARMUP} warm-up rounds${withOpenCv ? `, opencv.js every ${opencvEvery} rounds` : ''}${withOrtWeb ? ', onnxruntime-web every round' : ''}; load average ${loadBefore}`);
  const sides = [];
  try {
    // Every thread count's page and Node net at once: a round runs each of them once, one at a time, in an order
    // that turns round by round (Chromium or Node first, one thread or two first), so that neither the order nor
    // a load from elsewhere favours one side; each round's Chromium is compared with the Node forward beside it.
    for (const [i, t] of threads.entries()) {
      const opencv = withOpenCv && i === 0; // opencv.js runs one thread: on the first page
      const page = await openPage(browser, `${server.url}bench.html?threads=${t}&opencv=${opencv ? 1 : 0}&ortweb=${withOrtWeb ? 1 : 0}`, `${t}t`);
      const node = await nodeRunner(prototxt, weights, t);
      sides.push({ t, page, node, chromium: [], nodeSamples: [], opencv: opencv ? [] : undefined, ortweb: withOrtWeb ? [] : undefined });
    }
    const evaluate = (page, kind) => page.evaluate(`benchPage.run(${JSON.stringify(kind)})`);
    for (let r = -WARMUP; r < rounds; r++) {
      const order = r & 2 ? [...sides].reverse() : sides;
      const steps = order.flatMap((side) => {
        const pair = [
          async () => side.chromium.push(await evaluate(side.page, 'crema')),
          async () => side.nodeSamples.push(side.node.run()),
        ];
        if (side.ortweb) pair.push(async () => side.ortweb.push(await evaluate(side.page, 'ortweb')));
        const turn = (r + WARMUP) % pair.length; // which of them goes first this round
        return [...pair.slice(turn), ...pair.slice(0, turn)];
      });
      const cv = sides[0].opencv;
      if (cv && (r < 0 ? r === -1 : r % opencvEvery === 0))
        steps.splice(Math.floor(Math.max(r, 0) / opencvEvery) % (steps.length + 1), 0, async () => cv.push({ ...(await evaluate(sides[0].page, 'opencv')), round: r }));
      for (const step of steps) await step();
      if (r === -1)
        for (const side of sides) {
          side.chromium.length = side.nodeSamples.length = 0;
          if (side.ortweb) side.ortweb.length = 0;
          if (side.opencv) side.opencv.length = 0;
        }
      if (r < 0 || !showRounds) continue;
      const line = sides.map(({ t, chromium, nodeSamples, ortweb }) => [t, chromium.at(-1), nodeSamples.at(-1), ortweb?.at(-1)]).map(([t, c, n, o]) => `${t}t Chromium ${c.ms.toFixed(1)} (worker ${c.forwardMs.toFixed(1)})${c.ways ? ` ${c.ways}` : ''}, Node ${n.ms.toFixed(1)}${n.ways ? ` ${n.ways}` : ''}${o ? `, ORT-web ${o.ms.toFixed(1)}` : ''}`);
      console.error(`  round ${r + 1} (load ${load1()}): ${line.join('; ')}${cv?.at(-1)?.round === r ? `; opencv.js ${cv.at(-1).ms.toFixed(0)}` : ''}`);
    }
  } finally {
    await server.close();
  }
  const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(' built')[0];
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\nAlexNet batch 1: ${rounds} rounds, each one forward per engine and thread count in turn (${chromiumVersion}; Node ${process.version}; ${os.cpus()[0].model}, ${os.availableParallelism()} cores; ${seconds} s; load average ${loadBefore} before, ${loads()} after)`);
  console.log('ms: median (interquartile range); Chromium / Node: the median of the rounds\' ratios, its interquartile range and the 95 % confidence interval of that median');
  for (const x of sides) {
    const ratios = x.chromium.map((c, i) => c.ms / x.nodeSamples[i].ms);
    const [lo, hi] = medianInterval(ratios);
    const verdict = hi <= 1.3 ? 'met' : lo > 1.3 ? 'NOT met' : 'not settled';
    console.log(`crema, ${x.t} thread${x.t > 1 ? 's' : ''}: Chromium ${spread(x.chromium.map((c) => c.ms))}, Node ${spread(x.nodeSamples.map((c) => c.ms))}; Chromium / Node ${spread(ratios, 2)}, 95 % CI ${lo.toFixed(2)}-${hi.toFixed(2)}: goal ≤ 1.3 ${verdict}`);
    const overhead = x.chromium.map((c) => c.ms - c.forwardMs);
    console.log(`  Chromium's forward in its engine worker ${spread(x.chromium.map((c) => c.forwardMs))}, the request around it ${spread(overhead, 2)}; ${counters(x.chromium)}`);
    console.log(`  Node: ${counters(x.nodeSamples)}`);
    if (x.ortweb?.length) {
      // Both forwards timed in their own worker (crema's engine worker, onnxruntime-web's): the request around each left out.
      const vs = x.ortweb.map((o, i) => x.chromium[i].forwardMs / o.ms);
      const [lo, hi] = medianInterval(vs);
      console.log(`  onnxruntime-web in Chromium (its own worker, ${x.t} thread${x.t > 1 ? 's' : ''}, crema's ONNX file): ${spread(x.ortweb.map((o) => o.ms))} ms; crema / ORT-web ${spread(vs, 2)}, 95 % CI ${lo.toFixed(2)}-${hi.toFixed(2)} (a peer, no goal)`);
    }
  }
  const cv = sides[0].opencv;
  if (cv?.length) {
    const at = (side, s) => side.chromium[s.round].ms;
    const vs = sides.map((x) => {
      const ratios = cv.map((s) => s.ms / at(x, s));
      const [lo, hi] = medianInterval(ratios);
      return `${spread(ratios, 1)}× crema's ${x.t} thread${x.t > 1 ? 's' : ''} (95 % CI ${lo.toFixed(1)}-${hi.toFixed(1)}: goal ≥ 10 ${lo >= 10 ? 'met' : hi < 10 ? 'NOT met' : 'not settled'})`;
    });
    console.log(`opencv.js 4.12 in Chromium (its own worker, one thread), ${cv.length} forwards: ${spread(cv.map((s) => s.ms))} ms; ${vs.join('; ')}`);
  }
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}
