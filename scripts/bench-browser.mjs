#!/usr/bin/env node
// AlexNet (batch 1) in headless Chromium, crema's engine worker against opencv.js (@techstark/opencv-js) on the same
// page, and the same engine in Node at the same thread counts:  npm run bench:browser [-- --iterations N]
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

async function inNode(prototxt, weights) {
  const out = {};
  for (const t of threads) {
    const net = await Net.load(prototxt, weights, { threads: t });
    const dims = net.shapes.get(net.inputs[0]);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7919) % 255) - 128);
    net.forward({ [net.inputs[0]]: data });
    const samples = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      net.forward({ [net.inputs[0]]: data });
      samples.push(performance.now() - t0);
    }
    out[`crema ${t}`] = samples;
  }
  return out;
}

/** One page per thread count (each loads the net once); opencv.js alongside on the first. */
async function inChromium(dir) {
  const out = {};
  for (const [i, t] of threads.entries()) {
    const samples = await pageRun(dir, `threads=${t}&opencv=${i === 0 ? 1 : 0}`);
    out[`crema ${t}`] = samples.crema;
    if (samples.opencv) out.opencv = samples.opencv;
  }
  return out;
}

async function pageRun(dir, query) {
  const server = await startUiServer({ port: 0, mounts: { '/bench/': dir } });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    protocolTimeout: 1_800_000, // a loaded machine can keep the page busy for minutes
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error(`  page: ${m.text()}`));
    await page.goto(`${server.url}bench.html?iterations=${iterations}&${query}`);
    // Poll: print the page's log as it grows, until it posts its result.
    let shown = 0, result;
    const printNew = async () => {
      const lines = (await page.$eval('#out', (e) => e.textContent)).trim().split('\n').filter(Boolean);
      for (const line of lines.slice(shown)) console.error(`  chromium: ${line}`);
      shown = lines.length;
    };
    while (!(result = await page.evaluate('globalThis.benchResult'))) {
      await printNew();
      await new Promise((r) => setTimeout(r, 2000));
    }
    await printNew();
    if (result.error) throw new Error(`the benchmark page failed: ${result.error}`);
    return result.samples;
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-browser-'));
try {
  const prototxt = path.join(shared, 'models/zoo/alexnet.prototxt');
  const weights = alexnetWeights();
  for (const [src, name] of [[prototxt, 'net.prototxt'], [weights, 'net.caffemodel'], [path.join(root, 'node_modules/@techstark/opencv-js/dist/opencv.js'), 'opencv.js']])
    fs.symlinkSync(src, path.join(dir, name));
  console.error(`AlexNet batch 1, ${iterations} timed runs each (after a warm-up), threads ${threads.join(', ')}`);
  const browser = await inChromium(dir);
  const node = await inNode(prototxt, weights);
  const chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`\nAlexNet batch 1, median ms (${chromiumVersion}; Node ${process.version}; ${os.cpus()[0].model}, ${os.availableParallelism()} cores)`);
  const cv = median(browser.opencv);
  console.log(`${'case'.padEnd(34)}${'ms'.padStart(9)}   ratio`);
  for (const t of threads) {
    const b = median(browser[`crema ${t}`]), n = median(node[`crema ${t}`]);
    console.log(`${`crema in Chromium, ${t} thread${t > 1 ? 's' : ''}`.padEnd(34)}${b.toFixed(1).padStart(9)}   ${(b / n).toFixed(2)}× Node's (goal ≤ 1.3), opencv.js ${(cv / b).toFixed(1)}× slower (goal ≥ 10)`);
    console.log(`${`crema in Node, ${t} thread${t > 1 ? 's' : ''}`.padEnd(34)}${n.toFixed(1).padStart(9)}`);
  }
  console.log(`${'opencv.js 4.12 in Chromium'.padEnd(34)}${cv.toFixed(1).padStart(9)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
