// The real-world nets of test/fixtures/corpus at their published input sizes (hashed weights, made once into a
// cache), natively and in ONNX Runtime through `crema bench --backend both`: per net the forward's medians and
// their ratio, and per layer type the milliseconds each backend spends, worst ratio first. It finds the layers that
// run on a slow path (round twenty-one: Deconvolution on the TypeScript GEMM, dilated convolutions off Winograd,
// unfolded ReLU / BatchNorm / Scale / Axpy as scalar loops). After `npm run build`.
// Usage: node scripts/bench-corpus.mjs [--threads N] [--iterations N] [net ...]   (default: every net below)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = path.join(root, 'test/fixtures/corpus');
const cache = process.env.CREMA_CORPUS_WEIGHTS ?? '/tmp/crema-corpus-weights';
// Not the VGG-16-sized nets (fcn8s, places365_vgg16: 0.5 GB of weights each, VGG is in the zoo bench) nor
// openpose_coco (its input size is set at run time). MTCNN's P-Net is declared 12 x 12 (a pyramid's smallest
// level); it runs at 384 x 288, the first level of a 640 x 480 image's pyramid (INPUT_DIMS: its prototxt with
// those input_dim lines, written next to the weights).
const NETS = ['age_net', 'colorization', 'densenet121', 'hed', 'mobilenet_ssd', 'mtcnn_onet', 'mtcnn_pnet', 'res10_ssd', 'se_bn_inception', 'se_resnet50', 'sphereface20', 'xception'];
const INPUT_DIMS = { mtcnn_pnet: [1, 3, 288, 384] };

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args.splice(i, 2)[1];
};
const threads = option('--threads', '1'), iterations = option('--iterations', '6');
const nets = args.length ? args : NETS;

mkdirSync(cache, { recursive: true });
for (const name of nets) {
  const weights = path.join(cache, `${name}.caffemodel`);
  if (!existsSync(weights)) execFileSync('node', [path.join(corpus, 'hashweights.mjs'), 'model', path.join(corpus, name, 'spec.json'), weights, '--salt', 'corpus'], { stdio: 'inherit' });
  const out = execFileSync('node', [path.join(root, 'bin/crema.js'), 'bench', prototxt(name), weights, '--backend', 'both', '--threads', threads, '--iterations', iterations, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
  const [native, onnx] = ['native', 'onnx'].map((b) => JSON.parse(out).find((o) => o.backend === b));
  console.log(`${name.padEnd(16)} native ${native.median_ms.toFixed(1).padStart(7)} ms  onnx ${onnx.median_ms.toFixed(1).padStart(7)} ms  ${(native.median_ms / onnx.median_ms).toFixed(2)}x`);
  const byType = (o) => o.layers.reduce((m, l) => m.set(l.type, (m.get(l.type) ?? 0) + l.median_ms), new Map());
  const n = byType(native), o = byType(onnx);
  // ONNX Runtime fuses a layer into the node before it: a type it shows no time for is left out of the ratios.
  const rows = [...n].filter(([type, ms]) => ms >= 0.5 && o.get(type) > 0).map(([type, ms]) => [type, ms, o.get(type)]);
  for (const [type, ms, ort] of rows.sort((a, b) => b[1] / b[2] - a[1] / a[2]))
    console.log(`    ${type.padEnd(16)} ${ms.toFixed(2).padStart(8)} ${ort.toFixed(2).padStart(8)}  ${(ms / ort).toFixed(1)}x`);
}

/** The corpus net's prototxt, or for a net of INPUT_DIMS a copy whose input_dim lines say those dims. */
function prototxt(name) {
  const file = path.join(corpus, name, 'net.prototxt'), dims = INPUT_DIMS[name];
  if (!dims) return file;
  let i = 0;
  const text = readFileSync(file, 'utf8').replace(/^input_dim: \d+$/gm, () => `input_dim: ${dims[i++]}`);
  if (i !== dims.length) throw new Error(`${file}: ${i} input_dim lines, not ${dims.length}`);
  const out = path.join(cache, `${name}-${dims.join('x')}.prototxt`);
  writeFileSync(out, text);
  return out;
}
