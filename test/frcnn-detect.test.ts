// detect on makefile/frcnn nets (FrcnnProposal: src/detect/frcnn.ts) against the fork's own code
// (test/fixtures/frcnn-detect/make-fixtures.sh): its predict_original post-processing (frcnn_api.cpp lines 153-302 with
// get_scale_factor, bbox_transform_inv, get_iou, bbox_vote), compiled alone and run on the blobs of a tiny
// FrcnnProposal net (net.prototxt, hashweights of spec.json, salt 'frcnn') on image.png, and cv2 4.5.1 for its image
// blobs (INTER_AREA under 1, INTER_LINEAR above, zero padding to im_size_align). Two configs: two-scales.json (test_scales
// 24 and 60, factors 0.52 and 1.30, im_size_align 32, normalized deltas, greedy NMS) and soft-vote.json (one scale,
// 0.87, test_soft_nms 1, test_bbox_vote 1, other pixel_means, deltas not normalized).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Detection, detect, loadImage } from '../src/index.js';
import { detectImage } from '../src/detect/detect.js';
import { type FrcnnPass, frcnnBlob, frcnnDetections, frcnnScaleFactor, frcnnTest } from '../src/detect/frcnn.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { verifyNet } from '../src/verify/verify.js';
import { FRCNN_FIXTURE, frcnnWeights, writeFrcnnWeights } from './helpers/frcnn.js';
import { cli, spawnCli } from './helpers/cli.js';

const at = (f: string) => path.join(FRCNN_FIXTURE, f);
const CASES = ['two-scales', 'soft-vote'];
const netOf = (name: string, config = fs.readFileSync(at(`${name}.json`), 'utf8')) =>
  Net.fromNetParameter(upgradeNet(parsePrototxt(fs.readFileSync(at('net.prototxt'), 'utf8'), 'net.prototxt'), 'net.prototxt'), frcnnWeights(), [], { threads: 1, frcnnConfig: config });

/** The fork's detections of a case: rows of id, x1, y1, x2, y2, score. */
function forkDetections(name: string): Omit<Detection, 'name'>[] {
  const r = readNpy(at(`${name}-results.npy`));
  return Array.from({ length: r.dims[0] }, (_, i) => {
    const [label, xmin, ymin, xmax, ymax, score] = r.data.subarray(6 * i, 6 * i + 6);
    return { label, xmin, ymin, xmax, ymax, score };
  });
}

/** The same detections in the same order (class by class, each in NMS order): labels equal, the rest within `tol`. */
function expectSame(found: Detection[], expected: Omit<Detection, 'name'>[], tol: number): void {
  expect(found.length, 'as many detections as the fork').toBe(expected.length);
  found.forEach((d, i) => {
    expect(d.label, `detection ${i}'s label`).toBe(expected[i].label);
    for (const k of ['xmin', 'ymin', 'xmax', 'ymax', 'score'] as const)
      expect(Math.abs(d[k] - expected[i][k]), `detection ${i}'s ${k}: ${d[k]} vs the fork's ${expected[i][k]}`).toBeLessThanOrEqual(tol);
  });
}

let image: Awaited<ReturnType<typeof loadImage>>;
beforeAll(async () => {
  image = await loadImage(at('image.png'));
});

describe("makefile/frcnn's predict_original (detect on FrcnnProposal nets)", () => {
  for (const name of CASES) {
    describe(name, () => {
      let net: Net;
      beforeAll(() => {
        net = netOf(name);
      });
      afterAll(() => net.dispose());

      it("get_scale_factor's factors and the image blobs are the fork's and cv2's, bit for bit", () => {
        const t = frcnnTest(net, {}), factors = readNpy(at(`${name}-factors.npy`)).data;
        expect(t.scales.map((s) => frcnnScaleFactor(image.width, image.height, s, t.maxSize))).toEqual(Array.from(factors));
        factors.forEach((f, k) => {
          const blob = frcnnBlob(image, f, t.means, t.align), expected = readNpy(at(`${name}-blob${k}.npy`));
          expect(blob.dims).toEqual(expected.dims);
          // cv2's float32 arithmetic restated in the same order: no tolerance
          expect(Array.from(blob.data)).toEqual(Array.from(expected.data));
        });
      });

      it("the fork's detections of the same blobs, bit for bit", () => {
        const t = frcnnTest(net, {}), factors = readNpy(at(`${name}-factors.npy`)).data;
        const passes: FrcnnPass[] = Array.from(factors, (factor, k) => {
          const [rois, clsProb, bboxPred] = ['rois', 'cls_prob', 'bbox_pred'].map((b) => readNpy(at(`${name}-pass${k}-${b}.npy`)));
          return { rois, clsProb, bboxPred, factor };
        });
        const found = frcnnDetections(passes, image.width, image.height, t);
        expect(found.length).toBeGreaterThan(20);
        expectSame(found, forkDetections(name), 0);
      });

      it("detect: crema's forwards and the fork's detections (within 1e-4: the forward's float sums)", () => {
        expectSame(detectImage(net, image), forkDetections(name), 1e-4);
      });
    });
  }

  it('the library and the CLI read the config given at load (--frcnn-config); labels name the classes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-frcnn-detect-'));
    try {
      const w = path.join(dir, 'w.caffemodel');
      writeFrcnnWeights(w);
      const net = await Net.load(at('net.prototxt'), w, { frcnnConfig: fs.readFileSync(at('two-scales.json'), 'utf8') });
      const found = await detect(net, at('image.png'), { labels: ['bg', 'a', 'b', 'c'] });
      net.dispose();
      expectSame(found, forkDetections('two-scales'), 1e-4);
      expect(found[0].name).toBe(['bg', 'a', 'b', 'c'][found[0].label]);
      const out = await cli('detect', at('net.prototxt'), w, at('image.png'), '--frcnn-config', at('two-scales.json'), '--json');
      expect(out.stderr).toBe('');
      expectSame(JSON.parse(out.stdout).images[0].detections, forkDetections('two-scales'), 1e-4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("verify without inputs gives the FrcnnProposal's im_info the image input's size (a random one is no image's size and is refused)", async () => {
    const net = await netOf('two-scales');
    const report = await verifyNet(net, { threads: 1 });
    expect(report.input).toBe("data random (seed 1), im_info the image input's height and width and scale 1 (im_info of 'proposal')");
    expect([...net.blobs.get('im_info')!.data]).toEqual([32, 32, 1]);
    expect(report.failed).toEqual([]);
  }, 120_000);

  it("options in place of the config's: threshold, scale, maxSize, mean", () => {
    const net = netOf('two-scales');
    try {
      const t = frcnnTest(net, { threshold: 0.5, scale: 30, maxSize: 50, mean: { perChannel: Float64Array.of(1, 2, 3) } });
      expect([t.threshold, t.scales, t.maxSize, t.means]).toEqual([0.5, [30], 50, [1, 2, 3]]);
      expect(detectImage(net, image, { threshold: 0.5 }).every((d) => d.score >= 0.5)).toBe(true);
    } finally {
      net.dispose();
    }
  });

  it('refuses a bad scale, maxSize or threshold (and a config test_max_size under 1) by name, in one line', () => {
    const config = fs.readFileSync(at('two-scales.json'), 'utf8');
    const net = netOf('two-scales'), small = netOf('two-scales', config.replace('"test_max_size": "120"', '"test_max_size": "-5"'));
    try {
      const errorOf = (n: Net, options: Parameters<typeof detectImage>[2]) => {
        try {
          detectImage(n, image, options);
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      };
      expect(errorOf(net, { scale: 0 })).toBe("scale: a length in pixels from 1 to 16384 (in place of makefile/frcnn's test_scales: 24, 60), got 0");
      expect(errorOf(net, { scale: 20000 })).toBe("scale: a length in pixels from 1 to 16384 (in place of makefile/frcnn's test_scales: 24, 60), got 20000");
      expect(errorOf(net, { maxSize: -5 })).toBe("maxSize: a length in pixels from 1 to 16384 (in place of makefile/frcnn's test_max_size: 120), got -5");
      expect(errorOf(net, { threshold: NaN })).toBe('the threshold must be a number, got NaN');
      expect(errorOf(small, {})).toBe('the FrcnnProposal config (--frcnn-config): "test_max_size" must be a length of at least 1 pixel, got "-5"');
    } finally {
      for (const n of [net, small]) n.dispose();
    }
  });

  it("the CLI's text output names the threshold it used: the config's test_score_thresh, else --threshold (the built CLI)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-frcnn-detect-'));
    try {
      const w = path.join(dir, 'w.caffemodel'), config = path.join(dir, 'high.json');
      writeFrcnnWeights(w);
      fs.writeFileSync(config, fs.readFileSync(at('two-scales.json'), 'utf8').replace('"test_score_thresh": "0.05"', '"test_score_thresh": "0.999"'));
      const run = (...more: string[]) => spawnCli(path.join(import.meta.dirname, '..'), 'detect', at('net.prototxt'), w, at('image.png'), '--frcnn-config', config, ...more);
      const [none, given] = await Promise.all([run(), run('--threshold', '0.9999')]);
      expect(none.stdout.split('\n')[1]).toBe('(none scoring 0.999 or more)');
      expect(given.stdout.split('\n')[1]).toBe('(none scoring 0.9999 or more)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses iter_test other than -1, an n_classes cls_prob has not, and pyramid, in one line', () => {
    const config = fs.readFileSync(at('two-scales.json'), 'utf8');
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const iter = netOf('two-scales', config.replace('"iter_test": "-1"', '"iter_test": "2"'));
    expect(errorOf(() => detectImage(iter, image))).toBe("the FrcnnProposal config (--frcnn-config): iter_test 2: crema runs the fork's predict_original (iter_test -1), not its predict_iterative");
    const classes = netOf('two-scales', config.replace('"n_classes": "4"', '"n_classes": "21"'));
    expect(errorOf(() => detectImage(classes, image))).toBe("the FrcnnProposal config's n_classes is 21, but cls_prob has 4 classes (the fork checks them equal)");
    expect(errorOf(() => detectImage(classes, image, { pyramid: true }))).toBe("pyramid: SSH's only (its demo.py's image pyramid); this net is makefile/frcnn's (its config's test_scales)");
    for (const n of [iter, classes]) n.dispose();
  });
});
