// makefile/frcnn's FrcnnProposal (the Deformable R-FCN nets' proposals): crema's Proposal with the fork's settings
// (anchors and test_rpn_* keys from its JSON config) and ways (equal scores the later box first, exp in double,
// test_rpn_score_thresh, test_soft_nms). Referee: the fork's own Forward_cpu compiled and run on the same bottoms
// (test/fixtures/frcnn-proposal/make-fixtures.sh), six cases: default_config.json's keys; tied scores (multiples of
// 1/8) cut to pre 40, post 12, NMS 0.6; light-rfcn-res50's mix_config.json anchors (15) with min size 0 and a score
// threshold of 0.6; its soft-NMS (linear at test_nms 0.5), the gaussian one, and the soft loop's plain NMS (3) on ties.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { cli, errorOf } from './helpers/cli.js';
import { relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/frcnn-proposal');
interface Case { anchors: number[]; pre: number; post: number; nms: number; min_size: number; stride: number; thresh: number; soft: number; test_nms: number; rows: number }
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as Record<string, Case>;
const npy = (name: string, what: string) => readNpy(path.join(fixture, `${name}_${what}.npy`));

/** The net of the rfcn-dcn prototxts' proposal layer, at the case's sizes. */
const prototxt = (name: string, layerParam = '') => {
  const [, A, H, W] = npy(name, 'deltas').dims;
  return `input: "cls" input_shape { dim: 1 dim: ${A / 2} dim: ${H} dim: ${W} }
  input: "deltas" input_shape { dim: 1 dim: ${A} dim: ${H} dim: ${W} }
  input: "im_info" input_shape { dim: 1 dim: 3 }
  layer { name: "proposal" type: "FrcnnProposal" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "rois" top: "scores" ${layerParam} }`;
};
const netOf = (text: string, frcnnConfig?: string) =>
  Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1, ...(frcnnConfig !== undefined ? { frcnnConfig } : {}) });

/** A config as the fork's are written: comments, keys the layer does not read, the anchors over several lines, a bare number. */
const configOf = (c: Case) => `{"scales": "600", // the tools' image sizes: not the layer's
 "test_rpn_nms_thresh": "${c.nms}", "test_rpn_pre_nms_top_n": "${c.pre}", "test_rpn_post_nms_top_n": "${c.post}",
 "test_rpn_min_size": "${c.min_size}", "feat_stride": "${c.stride}", "test_soft_nms": ${c.soft}, "test_nms": "${c.test_nms}",
 /* fyk: speeds up NMS */ "test_rpn_score_thresh": "${c.thresh}",
 "anchors": "${c.anchors.map((v, i) => `${i % 4 === 0 ? '\n   ' : ''}${v}`).join(', ')}"
}`;
const feedsOf = (name: string) => ({ cls: npy(name, 'scores'), deltas: npy(name, 'deltas'), im_info: npy(name, 'im_info') });

describe('FrcnnProposal (makefile/frcnn)', () => {
  for (const name of Object.keys(cases)) {
    const config = name === 'default' ? undefined : configOf(cases[name]);
    it(`${name}: natively the fork's rois and scores, bit for bit (${cases[name].rows} rows)`, () => {
      const out = netOf(prototxt(name), config).forward(feedsOf(name));
      expect(out.rois.dims).toEqual([cases[name].rows, 5]);
      expect(Array.from(out.rois.data)).toEqual(Array.from(npy(name, 'rois').data));
      expect(Array.from(out.scores.data)).toEqual(Array.from(npy(name, 'roi_scores').data));
    });
  }

  // ONNX's TopK and NonMaxSuppression take tied scores the earlier first, the fork the later: the export reverses the
  // boxes before its TopK, so the tied case (multiples of 1/8, cut to pre 40 and post 12) comes out as the fork's too.
  // Its exp is float32 (the fork's double): boxes within an ulp or so.
  for (const name of ['default', 'mix', 'ties']) {
    it(`${name}: in ONNX Runtime, the fork's rois and scores`, async () => {
      const net = netOf(prototxt(name), name === 'default' ? undefined : configOf(cases[name]));
      const onnx = await runOnnx(net.graph, feedsOf(name), { outputs: ['rois', 'scores'] });
      expect(relativeError(onnx.get('rois')!, npy(name, 'rois'))).toBeLessThanOrEqual(1e-6);
      expect(relativeError(onnx.get('scores')!, npy(name, 'roi_scores'))).toBeLessThanOrEqual(0);
    });
  }

  it('soft-NMS has no ONNX form: convert refuses it in one line', async () => {
    const net = netOf(prototxt('linear'), configOf(cases.linear));
    const err = await runOnnx(net.graph, feedsOf('linear'), { outputs: ['rois'] }).then(() => 'converted', (e: Error) => e.message);
    expect(err).toBe("layer 'proposal' (FrcnnProposal): FrcnnProposal's soft-NMS (test_soft_nms 1) has no ONNX form (its scores change as it goes): convert with a config of test_soft_nms 0");
  });

  it("the layer's own proposal_param.feat_stride wins over the config's (0, the fork's default, is the config's)", () => {
    const c = cases.default, moved = configOf({ ...c, stride: 8 });
    const ref = Array.from(npy('default', 'rois').data);
    expect(Array.from(netOf(prototxt('default', 'proposal_param { feat_stride: 16 }'), moved).forward(feedsOf('default')).rois.data)).toEqual(ref);
    expect(Array.from(netOf(prototxt('default', 'proposal_param { feat_stride: 0 }'), configOf(c)).forward(feedsOf('default')).rois.data)).toEqual(ref);
    expect(Array.from(netOf(prototxt('default'), moved).forward(feedsOf('default')).rois.data)).not.toEqual(ref);
  });

  it('refuses a config it cannot read or use, in one line naming the layer', () => {
    const c = cases.default, text = prototxt('default');
    const fails = (config: string) => errorOf(() => netOf(text, config));
    const prefix = "layer 'proposal' (FrcnnProposal): the FrcnnProposal config (--frcnn-config): ";
    expect(fails('{"anchors": "1, 2, 3, 4",\n "feat_stride": 16,\n "test_rpn_nms_thresh": "0.7" "x": 1}')).toBe(`${prefix}line 3: expected ',' or '}' after "test_rpn_nms_thresh"'s value`);
    expect(fails('{"anchors": "1, 2, 3')).toBe(`${prefix}line 1: a string is not closed`);
    expect(fails('["anchors"]')).toBe(`${prefix}line 1: the config must be a JSON object ({ "key": "value", ... })`);
    expect(fails(configOf(c).replace('"test_rpn_min_size"', '"rpn_min_size"'))).toBe(`${prefix}has no "test_rpn_min_size" (the fork's load_param aborts without it)`);
    expect(fails(configOf({ ...c, anchors: c.anchors.slice(1) }))).toBe(`${prefix}"anchors" must be x1, y1, x2, y2 of each anchor: 35 numbers`);
    expect(fails(configOf({ ...c, soft: 1 }).replace('"test_nms"', '"nms"'))).toBe(`${prefix}has no "test_nms" (the fork's load_param aborts without it)`);
    expect(fails(configOf({ ...c, pre: 0 }))).toBe(`${prefix}test_rpn_pre_nms_top_n 0 and test_rpn_post_nms_top_n 300 must be > 0 (the fork then returns without writing its top)`);
    const nan = feedsOf('default');
    nan.cls.data[9 * 5 * 7 + 3] = NaN;
    expect(errorOf(() => netOf(text).forward(nan))).toBe("layer 'proposal' (FrcnnProposal): an object score is NaN (the fork sorts them with std::sort: its order is undefined)");
    nan.cls.data[9 * 5 * 7 + 3] = 0.5;
    nan.cls.data[3] = NaN; // a background score: the fork reads none
    expect(netOf(text).forward(nan).rois.dims).toEqual([c.rows, 5]);
    // light-rfcn-dcn's 15 anchors with the default config's 9
    expect(errorOf(() => netOf(prototxt('mix')))).toBe("layer 'proposal' (FrcnnProposal): bottom[0] must be (1, 18, H, W): background and object scores of 9 anchors (the FrcnnProposal config's: a net's own is given by --frcnn-config, options.frcnnConfig), got [1, 30, 7, 6]");
  });

  it('crema --frcnn-config FILE reads the config; an unreadable one is refused in one line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-frcnn-config-'));
    fs.writeFileSync(path.join(dir, 'net.prototxt'), prototxt('mix'));
    fs.writeFileSync(path.join(dir, 'mix_config.json'), configOf(cases.mix));
    const ok = await cli('info', path.join(dir, 'net.prototxt'), '--frcnn-config', path.join(dir, 'mix_config.json'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('FrcnnProposal');
    const missing = await cli('info', path.join(dir, 'net.prototxt'), '--frcnn-config', path.join(dir, 'none.json'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('none.json');
  });
});
