#!/usr/bin/env node
// Times loading AlexNet's caffemodel (233 MB) with crema's reader and with protobufjs' generic decode,
// each in a fresh child process (median of a few runs; peak RSS from process.resourceUsage().maxRSS).
//   node scripts/bench-load.mjs [MODEL.caffemodel] [--runs N]       (needs `npm run build` first)
// Without a model path it generates AlexNet with ../shared/tools/hashweights.mjs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
let model = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs');

if (!fs.existsSync(path.join(root, 'dist/caffe/caffemodel.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
if (!model) {
  const shared = path.resolve(root, '../shared');
  model = path.join(os.tmpdir(), 'crema-bench-alexnet.caffemodel');
  if (!fs.existsSync(model)) {
    console.log('generating AlexNet weights ...');
    execFileSync(process.execPath, [
      path.join(shared, 'tools/hashweights.mjs'), 'model', path.join(shared, 'reference/zoo/alexnet/spec.json'), model, '--salt', 'dev',
    ], { stdio: 'inherit' });
  }
}

// Each child loads once and prints {ms, rss} as JSON.
const crema = `
  import ${JSON.stringify(path.join(root, 'dist/platform/node.js'))};
  import { readCaffemodelFile } from ${JSON.stringify(path.join(root, 'dist/caffe/caffemodel.js'))};
  const t0 = performance.now();
  const net = readCaffemodelFile(process.argv[1]);
  const ms = performance.now() - t0;
  let floats = 0;
  for (const l of [...(net.layer ?? []), ...(net.layers ?? [])]) for (const b of l.blobs ?? []) floats += b.data?.length ?? 0;
  console.log(JSON.stringify({ ms, rss: process.resourceUsage().maxRSS * 1024, floats }));`;
const generic = `
  import fs from 'node:fs';
  import ${JSON.stringify(path.join(root, 'dist/platform/node.js'))};
  import { messageType } from ${JSON.stringify(path.join(root, 'dist/caffe/schema.js'))};
  const type = messageType('NetParameter');
  const t0 = performance.now();
  const net = type.decode(fs.readFileSync(process.argv[1]));
  const ms = performance.now() - t0;
  let floats = 0;
  for (const l of [...(net.layer ?? []), ...(net.layers ?? [])]) for (const b of l.blobs ?? []) floats += b.data?.length ?? 0;
  console.log(JSON.stringify({ ms, rss: process.resourceUsage().maxRSS * 1024, floats }));`;

function measure(code) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code, model], { encoding: 'utf8', maxBuffer: 1 << 20 });
    results.push(JSON.parse(out.trim().split('\n').at(-1)));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(results.map((r) => r.ms)), rss: median(results.map((r) => r.rss)), floats: results[0].floats };
}

const size = fs.statSync(model).size;
const mb = (b) => (b / 2 ** 20).toFixed(0);
console.log(`${path.basename(model)}: ${mb(size)} MiB, median of ${runs} runs\n`);
const rows = [['crema readCaffemodelFile', measure(crema)]];
rows.push(['protobufjs Type.decode', measure(generic)]);
console.log('reader'.padEnd(28) + 'time (s)'.padStart(10) + 'peak RSS (MiB)'.padStart(16) + 'RSS / file'.padStart(12));
for (const [name, r] of rows) {
  console.log(name.padEnd(28) + (r.ms / 1000).toFixed(2).padStart(10) + mb(r.rss).padStart(16) + (r.rss / size).toFixed(2).padStart(12));
}
console.log('Caffe 1.0 (from the issue)'.padEnd(28) + '0.67'.padStart(10) + '644'.padStart(16) + (644 * 2 ** 20 / size).toFixed(2).padStart(12));
if (rows[0][1].floats !== rows[1][1].floats) console.log(`\nMISMATCH: crema read ${rows[0][1].floats} floats, protobufjs ${rows[1][1].floats}`);
