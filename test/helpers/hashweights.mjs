// The deterministic weights and inputs of ../shared/tools/hashweights.mjs, rebuilt here because CI has no
// ../shared: value(i) = std * sqrt(3) * (2 * lowbias32(i ^ seed) / 2^32 - 1), per blob of a `caffe-ref spec` file.
// `gain` (default 1, = hashweights.mjs) multiplies every Convolution's filters: deep nets without BatchNorm
// (MobileNet-SSD) otherwise grow their activations ~2.5x per block, and their detections turn to inf.
// Plain JS so that test/fixtures/ssd/make-real.mjs (node, no TypeScript) makes the fork's caffemodel from it.
import fs from 'node:fs';

function lowbias32(x) {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function seedOf(name) {
  let h = 2166136261;
  for (const c of Buffer.from(name)) h = Math.imul(h ^ c, 16777619);
  return h >>> 0;
}

function fill(n, seed, std) {
  const a = new Float32Array(n), s = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) a[i] = s * ((2 * lowbias32((i ^ seed) >>> 0)) / 4294967296 - 1);
  return a;
}

const count = (shape) => shape.reduce((a, b) => a * b, 1);

/** Every layer's blobs ({shape, data}) for a spec file, as `hashweights.mjs model SPEC OUT --salt SALT` (times `gain`). */
export function hashWeightBlobs(specFile, salt, gain = 1) {
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  return spec.layers.map((layer) => ({
    name: layer.name,
    type: layer.type,
    blobs: layer.blobs.map((shape, j) => {
      const n = count(shape), fanIn = shape.length > 1 ? n / shape[0] : 1;
      let std = j === 0 ? Math.sqrt(2 / fanIn) : 0.1;
      if (layer === spec.layers.at(-1)) std *= 0.02;
      if (layer.type === 'Convolution' && j === 0) std *= gain;
      let data = fill(n, seedOf(`${salt}${layer.name}/${j}`), std);
      if (layer.type === 'BatchNorm') data = j === 2 ? Float32Array.of(1) : j === 1 ? data.map((x) => 1 + Math.abs(x)) : data;
      if (layer.type === 'Scale' && j === 0) data = data.map((x) => 1 + x);
      return { shape, data };
    }),
  }));
}

/** `hashweights.mjs input SEED AMPLITUDE OUT DIM...`'s values. */
export function hashInputData(seed, amplitude, dims) {
  return fill(count(dims), seed >>> 0, amplitude / Math.sqrt(3));
}
