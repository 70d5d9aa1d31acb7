#!/usr/bin/env node
// AlexNet (batch 1): crema's engine in headless Chromium, the same engine in Node at the same thread count, and
// opencv.js (@techstark/opencv-js) in the same Chromium:  npm run bench:browser [-- --iterations N]
// The runs alternate one forward at a time (Chromium, Node, opencv.js, Chromium, ...), never two at once, so that
// load from elsewhere lands on all of them alike; each ratio is of medians over the same rounds.
// Needs ../shared (the AlexNet prototxt and tools/hashweights.mjs for its weights) and Debian's chromium.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import '../dist/platform/node.js';
import { Net } from '../dist/runtime/net.js';
import { startUiServer } from '../dist/web/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '../shared');
const arg = (name, d) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : d);
const iterations = Number(arg('--iterations', 7));
const withOpenCv = !process.argv.includes('--no-opencv');
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load1 = () => os.loadavg()[0].toFixed(1);

/** The same engine in Node: a function timing one forward on the bench page's input. */
async function nodeRunner(prototxt, weights, t) {
  const net = await Net.load(prototxt, weights, { threads: t });
  const name = net.inputs[0], dims = net.shapes.get(name);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) - 128);
  const run = () => {
    const t0 = performance.now();
    net.forward({ [name]: data });
    return performance.now() - t0;
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
async function openPage(browser, url) {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`  page: ${m.text()}`));
  await page.goto(url);
  let shown = 0;
  for (;;) {
    const lines = (await page.$eval('#out', (e) => e.textContent)).trim().split('\n').filter(Boolean);
    for (const line of lines.slice(shown)) console.error(`  chromium: ${line}`);
    shown = lines.length;
    const state = await page.evaluate('[globalThis.benchPage !== undefined, globalThis.benchError]');
    if (state[1]) throw new Error(`the benchmark page failed: ${state[1]}`);
    if (state[0]) return page;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Rounds at one thread count: Chromium's crema, Node's, and (when asked) opencv.js, one forward each in turn. */
async function rounds(browser, url, node, kinds) {
  const page = await openPage(browser, url);
  const samples = { chromium: [], node: [], opencv: [] };
  const step = { chromium: () => page.evaluate('benchPage.run("crema")'), node: async () => node.run(), opencv: () => page.evaluate('benchPage.run("opencv")') };
  for (const k of kinds) await step[k](); // warm-up
  for (let i = 0; i < iterations; i++) {
    for (const k of kinds) samples[k].push(await step[k]());
    console.error(`  round ${i + 1} (load ${load1()}): ${kinds.map((k) => `${k} ${samples[k].at(-1).toFixed(1)} ms`).join(', ')}`);
  }
  await page.close();
  return samples;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-browser-'));
const { browser, profile } = await launch();
try {
  const prototxt = path.join(shared, 'models/zoo/alexnet.prototxt');
  const weights = alexnetWeights();
  for (const [src, name] of [[prototxt, 'net.prototxt'], [weights, 'net.caffemodel'], [path.join(root, 'node_modules/@techstark/opencv-js/dist/opencv.js'), 'opencv.js']])
    fs.symlinkSync(src, path.join(dir, name));
  const server = await startUiServer({ port: 0, mounts: { '/bench/': dir } });
  console.error(`AlexNet batch 1, ${iterations} rounds at each thread count (${threads.join(', ')}), after a warm-up; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const results = [];
  try {
    for (const [i, t] of threads.entries()) {
      const opencv = withOpenCv && i === 0; // opencv.js runs one thread: measured once
      const node = await nodeRunner(prototxt, weights, t);
      const kinds = ['chromium', 'node', ...(opencv ? ['opencv'] : [])];
      results.push([t, await rounds(browser, `${server.url}bench.html?threads=${t}&opencv=${opencv ? 1 : 0}`, node, kinds)]);
      await node.dispose();
    }
  } finally {
    await server.close();
  }
  const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  console.log(`\nAlexNet batch 1, median ms of ${iterations} alternating rounds (${chromiumVersion}; Node ${process.version}; ${os.cpus()[0].model}, ${os.availableParallelism()} cores; load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  const cv = results[0][1].opencv.length ? median(results[0][1].opencv) : undefined;
  for (const [t, s] of results) {
    const b = median(s.chromium), n = median(s.node);
    const vsCv = cv === undefined ? '' : `; opencv.js ${(cv / b).toFixed(1)}× slower (goal ≥ 10)`;
    console.log(`crema, ${t} thread${t > 1 ? 's' : ''}: Chromium ${b.toFixed(1)}, Node ${n.toFixed(1)}: ${(b / n).toFixed(2)}× Node's (goal ≤ 1.3)${vsCv}`);
  }
  if (cv !== undefined) console.log(`opencv.js 4.12 in Chromium (its own worker, one thread): ${cv.toFixed(1)}`);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}
