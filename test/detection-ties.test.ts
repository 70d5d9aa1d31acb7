// DetectionOutput among tied scores: ONNX Runtime's order against the native layer's (the SSD fork's: candidates by
// score, equal scores by prior index; keep_top_k by score, equal scores by label then NMS order; rows by label).
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { verifyNet } from '../src/verify/verify.js';

const PRIORS = 12, CLASSES = 4, NUM = 2;

/** One DetectionOutput on Input blobs: loc, conf, prior; top_k and keep_top_k cut among the ties. */
function tiesNet(keepTopK: number, topK: number, nms = 0.45): Net {
  const input = (n: string, d: number[]) => `layer { name: "${n}" type: "Input" top: "${n}" input_param { shape { ${d.map((x) => `dim: ${x}`).join(' ')} } } }`;
  const text = [
    input('loc', [NUM, PRIORS * 4]), input('conf', [NUM, PRIORS * CLASSES]), input('prior', [1, 2, PRIORS * 4]),
    `layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det"
      detection_output_param { num_classes: ${CLASSES} share_location: true background_label_id: 0
        nms_param { nms_threshold: ${nms} top_k: ${topK} } code_type: CENTER_SIZE keep_top_k: ${keepTopK} confidence_threshold: 0.01 } }`,
  ].join('\n');
  return Net.fromNetParameter(parsePrototxt(text, 'ties.prototxt') as NetParameter);
}

/**
 * Priors in pairs: prior 2j and 2j + 1 overlap (IoU 0.6: NMS keeps the first of a tied pair), the pairs apart. The
 * scores take three values only (1, 0.5, 0.25), so that every cut falls among ties; image 1's are image 0's turned.
 */
function tiesInputs(): Record<string, Tensor> {
  const boxes = Array.from({ length: PRIORS }, (_, p) => {
    const x = 0.15 * (p >> 1), shift = (p & 1) * 0.025;
    return [x + shift, 0.1, x + shift + 0.1, 0.2];
  });
  const prior = [...boxes.flat(), ...new Array<number>(PRIORS * 4).fill(0.1)];
  const levels = [1, 0.5, 0.25];
  const conf: number[] = [];
  for (let n = 0; n < NUM; n++)
    for (let p = 0; p < PRIORS; p++) for (let c = 0; c < CLASSES; c++) conf.push(c === 0 ? 0.3 : levels[(p * 7 + c * 5 + n) % 3]);
  return {
    loc: new Tensor([NUM, PRIORS * 4], new Float32Array(NUM * PRIORS * 4)),
    conf: new Tensor([NUM, PRIORS * CLASSES], Float32Array.from(conf)),
    prior: new Tensor([1, 2, PRIORS * 4], Float32Array.from(prior)),
  };
}

describe('DetectionOutput with tied scores: ONNX Runtime gives the native rows, in their order', () => {
  it.each([
    [7, 8], [5, 12], [20, 5], [1, 12],
  ])('keep_top_k %i, top_k %i, batch 2: the same rows in the same order, every value equal', async (keep, topK) => {
    const net = tiesNet(keep, topK), inputs = tiesInputs();
    const native = net.forward(inputs).det;
    const onnx = (await runOnnx(net.graph, inputs, { outputs: ['det'], threads: 1 })).get('det')!;
    const rows = native.dims[2];
    expect(rows, 'cuts among ties').toBeGreaterThan(0);
    const scores = Array.from({ length: rows }, (_, r) => native.data[r * 7 + 2]);
    expect(new Set(scores).size, 'tied scores kept').toBeLessThan(rows);
    expect([...onnx.dims]).toEqual([...native.dims]);
    expect(Array.from(onnx.data)).toEqual(Array.from(native.data));
  });

  it('crema verify passes it, native vs ONNX Runtime', async () => {
    const net = tiesNet(7, 8);
    const report = await verifyNet(net, { inputs: tiesInputs() });
    expect(report.failed).toEqual([]);
  });
});

describe('DetectionOutput with boxes of infinite extent: a NaN overlap, which the fork drops (and now the export too)', () => {
  // Priors 0 and 1 decoded from width and height offsets of 1000 (exp overflows): (-inf, -inf, inf, inf) both, their
  // overlap inf / (inf + inf - inf) = NaN, which the fork's `overlap <= threshold` refuses: it keeps prior 0 alone.
  // ONNX Runtime's NonMaxSuppression (NaN > threshold is false) keeps both; the export drops prior 1 after it. Prior
  // 2, finite and scored as they are, is kept by both; in image 1 the same boxes lie in class 2, prior 0 scored lower.
  const input = (n: string, d: number[]) => `layer { name: "${n}" type: "Input" top: "${n}" input_param { shape { ${d.map((x) => `dim: ${x}`).join(' ')} } } }`;
  const text = [input('loc', [2, 16]), input('conf', [2, 12]), input('prior', [1, 2, 16]),
    `layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det"
      detection_output_param { num_classes: 3 share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 }
        code_type: CENTER_SIZE confidence_threshold: 0.01 } }`].join('\n');
  const inf = [0, 0, 1000, 1000], fin = [0, 0, 0, 0], half = [0, 0, 1000, 0]; // half: (-inf, y, inf, y'): infinite width, finite height
  const inputs = {
    loc: new Tensor([2, 16], Float32Array.from([...inf, ...inf, ...fin, ...half, ...inf, ...half, ...fin, ...inf])),
    conf: new Tensor([2, 12], Float32Array.of(0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, /* image 1 */ 0, 0, 0.5, 0, 0, 1, 0, 0, 1, 0, 0, 1)),
    prior: new Tensor([1, 2, 16], Float32Array.of(0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.15, 0.15, 0.25, 0.25, ...new Array<number>(16).fill(0.1))),
  };
  const load = () => Net.fromNetParameter(parsePrototxt(text, 'inf.prototxt') as NetParameter);

  it('ONNX Runtime gives the native rows, in order: the NaN overlaps dropped as the fork drops them', async () => {
    const net = load();
    const native = net.forward(inputs).det;
    // Image 0: prior 0 kept, 1 dropped (NaN with 0), 2 kept, 3 dropped (its infinite width meets 0's: NaN). Image 1:
    // prior 1 (infinite width) kept, 2 kept, 3 and then 0 (scored 0.5) dropped (NaN with 1).
    const rows = Array.from({ length: native.dims[2] }, (_, r) => Array.from(native.data.subarray(r * 7, r * 7 + 3)));
    expect(rows).toEqual([[0, 1, 1], [0, 1, 1], [1, 2, 1], [1, 2, 1]]);
    const onnx = (await runOnnx(net.graph, inputs, { outputs: ['det'], threads: 1 })).get('det')!;
    expect(Array.from(onnx.data)).toEqual(Array.from(native.data));
    const report = await verifyNet(net, { inputs });
    expect(report.failed).toEqual([]);
  });

  it('the converted model says nothing of equal scores or NaN overlaps', () => {
    const { notes } = convertGraph(load().graph);
    expect(notes).toEqual([]);
  });
});
