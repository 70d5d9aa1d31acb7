#!/usr/bin/env node
// Times crema's LRN layer against onnxruntime-node (one thread) on AlexNet's / CaffeNet's LRN shapes.
//   node scripts/bench-lrn.mjs [--runs N] [--sizes 3,5,...] [--region across|within]   (needs `npm run build` first)
// ACROSS_CHANNELS runs ONNX's LRN op (size n, alpha, beta, bias k: the same formula). WITHIN_CHANNEL has no
// ONNX op, so ORT runs the usual subgraph Mul(x,x) -> AveragePool(n, pads (n-1)/2, count_include_pad) -> Mul alpha
// -> Add 1 -> Pow(-beta) -> Mul x. Prints the median ms of each and the ratio crema / ORT (lower is better).
// The tiny ONNX models are written here by hand with protobufjs (only the fields they need), so this script
// does not depend on crema's exporter.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const runs = Number(flag('--runs', 30));
const sizes = flag('--sizes', '3,5,7,9,11').split(',').map(Number);
const regions = flag('--region', 'across,within').split(',');
const shapes = [[1, 96, 55, 55], [1, 256, 27, 27]];
const alpha = 1e-4, beta = 0.75, k = 2;

if (!fs.existsSync(path.join(root, 'dist/layers/lrn.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
await import(path.join(root, 'dist/platform/node.js'));
const { lrnLayer } = await import(path.join(root, 'dist/layers/lrn.js'));
const { Tensor } = await import(path.join(root, 'dist/tensor.js'));
const { comparePair } = await import(path.join(root, 'dist/verify/compare.js'));
/** max|a - b| / max(1, max|b|), the project's measure of agreement. */
const maxRelativeError = (a, b) => comparePair(new Tensor([a.length], a), new Tensor([b.length], b), 0).rel;

// The part of onnx.proto these models use; field numbers as in onnx/onnx.proto.
const onnx = protobuf.parse(`
syntax = "proto2";
package onnx;
message AttributeProto { optional string name = 1; optional float f = 2; optional int64 i = 3; repeated int64 ints = 8; optional int32 type = 20; }
message TensorProto { repeated int64 dims = 1; optional int32 data_type = 2; repeated float float_data = 4 [packed = true]; optional string name = 8; }
message NodeProto { repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4; repeated AttributeProto attribute = 5; }
message Dimension { optional int64 dim_value = 1; }
message TensorShapeProto { repeated Dimension dim = 1; }
message TensorTypeProto { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
message TypeProto { optional TensorTypeProto tensor_type = 1; }
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message GraphProto { repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message ModelProto { optional int64 ir_version = 1; optional string producer_name = 2; optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
`, { keepCase: true }).root;

const FLOAT = 1, ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7;
const attrF = (name, f) => ({ name, f, type: ATTR_FLOAT });
const attrI = (name, i) => ({ name, i, type: ATTR_INT });
const attrInts = (name, ints) => ({ name, ints, type: ATTR_INTS });
const scalar = (name, value) => ({ name, dims: [], data_type: FLOAT, float_data: [value] });
const valueInfo = (name, dims) => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });

function modelBytes(nodes, initializer, dims) {
  const ModelProto = onnx.lookupType('onnx.ModelProto');
  const model = {
    ir_version: 8,
    producer_name: 'crema bench-lrn',
    opset_import: [{ domain: '', version: 13 }],
    graph: { name: 'lrn', node: nodes, initializer, input: [valueInfo('x', dims)], output: [valueInfo('y', dims)] },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function acrossModel(dims, n) {
  return modelBytes([{ op_type: 'LRN', input: ['x'], output: ['y'], attribute: [attrI('size', n), attrF('alpha', alpha), attrF('beta', beta), attrF('bias', k)] }], [], dims);
}

function withinModel(dims, n) {
  const pad = (n - 1) / 2;
  const nodes = [
    { op_type: 'Mul', input: ['x', 'x'], output: ['sq'] },
    {
      op_type: 'AveragePool', input: ['sq'], output: ['avg'],
      attribute: [attrInts('kernel_shape', [n, n]), attrInts('pads', [pad, pad, pad, pad]), attrInts('strides', [1, 1]), attrI('count_include_pad', 1)],
    },
    { op_type: 'Mul', input: ['avg', 'alpha'], output: ['scaled'] },
    { op_type: 'Add', input: ['scaled', 'one'], output: ['base'] },
    { op_type: 'Pow', input: ['base', 'negbeta'], output: ['factor'] },
    { op_type: 'Mul', input: ['x', 'factor'], output: ['y'] },
  ];
  return modelBytes(nodes, [scalar('alpha', alpha), scalar('one', 1), scalar('negbeta', -beta)], dims);
}

function randomData(count, seed) {
  const data = new Float32Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * 50; // activations in AlexNet's range before norm1
  }
  return data;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ms of `ours` and of `theirs`, run alternately so that both see the same machine load. */
async function timePair(ours, theirs) {
  for (let i = 0; i < 5; i++) {
    await ours();
    await theirs(); // warm up (JIT, ORT's allocations)
  }
  const a = [], b = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await ours();
    a.push(performance.now() - t0);
    t0 = performance.now();
    await theirs();
    b.push(performance.now() - t0);
  }
  return [median(a), median(b)];
}


const options = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
console.log(`LRN, alpha ${alpha}, beta ${beta}, k ${k}; median of ${runs} runs; ORT ${ort.env.versions?.common ?? ''} on 1 thread`);
console.log('region   shape              n   crema ms   ORT ms   crema/ORT   max rel diff');
const ratios = [];
for (const region of regions) {
  for (const dims of shapes) {
    const x = randomData(dims.reduce((a, b) => a * b, 1), dims[1]);
    const input = new ort.Tensor('float32', x, dims);
    for (const n of sizes) {
      const def = {
        name: 'norm', type: 'LRN', bottom: ['x'], top: ['y'],
        lrn_param: { local_size: n, alpha, beta, k, norm_region: region === 'within' ? 'WITHIN_CHANNEL' : 'ACROSS_CHANNELS' },
      };
      const layer = lrnLayer.create(def, []);
      const bottom = new Tensor(dims, x);
      const top = Tensor.zeros(layer.reshape([dims])[0]);
      const session = await ort.InferenceSession.create(region === 'within' ? withinModel(dims, n) : acrossModel(dims, n), options);
      let ortOut;
      const [ours, theirs] = await timePair(
        () => layer.forward([bottom], [top]),
        async () => {
          ortOut = (await session.run({ x: input })).y;
        },
      );
      const diff = maxRelativeError(top.data, ortOut.data);
      await session.release();
      ratios.push(ours / theirs);
      console.log(
        `${region.padEnd(8)} [${dims.join(',')}]`.padEnd(28) + `${String(n).padStart(2)}  ${ours.toFixed(3).padStart(8)}  ${theirs.toFixed(3).padStart(7)}` +
          `   ${(ours / theirs).toFixed(3).padStart(8)}   ${diff.toExponential(1)}`,
      );
    }
  }
}
console.log(`worst crema/ORT ratio: ${Math.max(...ratios).toFixed(3)}; median: ${median(ratios).toFixed(3)}`);
