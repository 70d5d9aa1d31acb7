// detect on SSH's face detector (mahyarnajibi/SSH): its SSH/test.py after the net, single-scale. Referee: test.py's
// lines restated in python3 + numpy with SSH's own py_cpu_nms (fixtures/fork/proposal/make-ssh-detect.sh) on the
// three SSH proposal outputs make-ssh.sh made with real Caffe 1.0 (178 scores tied at 1: numpy's argsort order
// decides which tied box NMS keeps). Then the wiring: a tiny SSH-like net's detect is sshDetections of its own blobs.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectImage, detectOnnx, detectionKind, detectionOutputs, fasterRcnnJob } from '../src/detect/detect.js';
import { OnnxSessions } from '../src/onnx/run.js';
import { sshDetections } from '../src/detect/ssh.js';
import { makeImage } from '../src/image/image.js';
import { fasterRcnnBlob } from '../src/detect/faster-rcnn.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { input, netOf, random } from './helpers/fork-layers.js';
import { errorOf } from './helpers/cli.js';
import { expectSameDetections } from './helpers/detections.js';

const fixture = path.join(import.meta.dirname, 'fixtures/fork/proposal');
const npy = (name: string) => readNpy(path.join(fixture, `${name}.npy`));
const concat = (ts: Tensor[]) => new Tensor([ts.reduce((n, t) => n + t.dims[0], 0), ts[0].dims[1]], Float32Array.from(ts.flatMap((t) => Array.from(t.data))));

describe("SSH's test.py detections after the net", () => {
  const parts = ['10x12', '40x30', '10x12-tied'];
  const boxes = concat(parts.map((p) => npy(`ssh-rois-${p}`))), probs = concat(parts.map((p) => npy(`ssh-scores-${p}`)));

  it('keeps the boxes test.py keeps, in its order, exactly (float32), at thresholds 0.05, 0.5 and 0.9', () => {
    expect(boxes.dims).toEqual([1480, 5]);
    for (const t of [0.05, 0.5, 0.9]) {
      const want = npy(`ssh-detect-${t}`), found = sshDetections([{ boxes, probs, scale: 2 / 3 }], t);
      expect(found.length, `threshold ${t}`).toBe(want.dims[0]);
      const rows = found.flatMap((d) => [d.xmin, d.ymin, d.xmax, d.ymax, d.score]);
      expect(rows, `threshold ${t}`).toEqual(Array.from(want.data));
      expect(found.every((d) => d.label === 1 && d.name === null)).toBe(true);
    }
  });
});

describe("detect on an SSH net (test_ssh.prototxt's tail: proposal layers, Concats to ssh_boxes and ssh_cls_prob)", () => {
  const proposal = (m: number, stride: number, scales: string) => `
    layer { name: "m${m}@ssh_proposal" type: "Python" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "m${m}@ssh_boxes" top: "m${m}@ssh_cls_prob"
      python_param { module: "SSH.layers.proposal_layer" layer: "ProposalLayer" param_str: "{'feat_stride': ${stride},'scales': [${scales}], 'ratios':[1,]}" } }`;
  const text = (inputs: string) => `${inputs}
    layer { name: "feat" type: "Pooling" bottom: "data" top: "feat" pooling_param { pool: AVE kernel_size: 8 stride: 8 } }
    layer { name: "score" type: "Convolution" bottom: "feat" top: "score" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "cls" type: "Sigmoid" bottom: "score" top: "cls" }
    layer { name: "deltas" type: "Convolution" bottom: "feat" top: "deltas" convolution_param { num_output: 8 kernel_size: 1 } }
    ${proposal(1, 8, '1,2')} ${proposal(2, 16, '4,8')}
    layer { name: "ssh_cls_prob" type: "Concat" bottom: "m1@ssh_cls_prob" bottom: "m2@ssh_cls_prob" top: "ssh_cls_prob" concat_param { axis: 0 } }
    layer { name: "ssh_boxes" type: "Concat" bottom: "m1@ssh_boxes" bottom: "m2@ssh_boxes" top: "ssh_boxes" concat_param { axis: 0 } }`;
  const weights = { score: [random([4, 3, 1, 1], 1, 0.02), random([4], 2)], deltas: [random([8, 3, 1, 1], 3, 0.002), random([8], 4, 0.3)] };
  const sshNet = (inputs = `${input('data', [1, 3, 64, 64])} ${input('im_info', [1, 3])}`) => netOf(text(inputs), weights);
  const image = makeImage(30, 40, 3, Float32Array.from({ length: 30 * 40 * 3 }, (_, i) => ((i * 37) % 101) / 100));

  it("runs test.py's one-scale path: its blobs, the image scaled (SSH's 1200 / 1600 by default), sshDetections of its blobs", () => {
    const net = sshNet();
    expect(detectionKind(net)).toBe('ssh');
    expect(detectionOutputs(net, { pyramid: false })).toEqual(['ssh_boxes', 'ssh_cls_prob']);
    expect(fasterRcnnJob(net, image, { pyramid: false }).passes.map((p) => p.data.dims)).toEqual([[1, 3, 1200, 1600]]);
    const found = detectImage(net, image, { scale: 60, maxSize: 100, threshold: 0.3, pyramid: false });
    const { data, scale } = fasterRcnnBlob(image, 60, 100);
    expect(data.dims).toEqual([1, 3, 60, 80]);
    const want = sshDetections([{ boxes: net.blobs.get('ssh_boxes')!, probs: net.blobs.get('ssh_cls_prob')!, scale }], 0.3);
    expect(net.blobs.get('ssh_boxes')!.dims).toEqual([2 * (8 * 10 * 2), 5]) // two modules of 8 x 10 places (60 x 80 pooled by 8, ceil) x 2 anchors;
    expect(want.length).toBeGreaterThan(2);
    expect(want.length).toBeLessThan(60);
    expect(found).toEqual(want);
  });

  it('gives the same faces with the forward in ONNX Runtime (as a set, within 1e-5 relative)', async () => {
    const options = { scale: 60, maxSize: 100, threshold: 0.3, pyramid: false };
    const net = sshNet(), native = detectImage(net, image, options);
    const sessions = new OnnxSessions(net, { outputs: detectionOutputs(net, options), anySize: true });
    try {
      const onnx = await detectOnnx(sessions, net, image, options);
      expectSameDetections(onnx, native, 1e-5);
    } finally {
      await sessions.release();
    }
  });

  it("refuses an SSH net whose im_info is not an input, the pyramid without M3's blobs, and names its scale default in a bad scale", () => {
    expect(errorOf(() => detectionKind(sshNet(`${input('data', [1, 3, 64, 64])} layer { name: "info" type: "DummyData" top: "im_info" dummy_data_param { shape { dim: 1 dim: 3 } } }`))))
      .toBe("net 'net': Proposal 'm1@ssh_proposal' reads im_info from 'im_info', which is not an input of the net (py-faster-rcnn's im_detect feeds it)");
    expect(errorOf(() => detectImage(sshNet(), image, { scale: 0, pyramid: false }))).toBe("scale: a length in pixels from 1 to 16384 (SSH's cfg.TEST.SCALES: 1200), got 0");
    expect(errorOf(() => detectImage(sshNet(), image)))
      .toBe("net 'net' has no blob 'm3@ssh_boxes': SSH's pyramid reads each of its three modules' proposal tops (m1@ssh_boxes, m1@ssh_cls_prob, m2@ssh_boxes, m2@ssh_cls_prob, m3@ssh_boxes, m3@ssh_cls_prob), as test_ssh.prototxt names them; run it at one scale (pyramid false)");
  });
});
