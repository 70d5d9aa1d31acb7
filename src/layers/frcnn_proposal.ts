import type { LayerParameter } from '../caffe/types.js';
import { LayerError, type NetContext } from './layer.js';
import { type ProposalSettings, proposalType } from './proposal.js';

/**
 * makefile/frcnn's FrcnnProposal (src/caffe/FRCNN/frcnn_proposal_layer.cpp at 8d9b9eb, its CPU forward; the
 * Deformable R-FCN nets' rfcn-dcn and light-rfcn-dcn proposals) is py-faster-rcnn's Proposal with its settings from
 * FrcnnParam, which the fork's tools load from a JSON file (--default_c; frcnn_param.cpp's load_param). Its other
 * ways (ProposalSettings.fork): equal scores the later box first, exp in double, test_rpn_score_thresh, and
 * test_soft_nms (its soft-NMS, natively only).
 */
export const frcnnProposalLayer = proposalType('FrcnnProposal', frcnnSettings);

/**
 * The fork's examples/FRCNN/config/default_config.json, the keys FrcnnProposal reads at TEST (the fork has no
 * defaults in code for these: load_param aborts on a missing one), with load_param's defaults of the two it lacks
 * (test_rpn_score_thresh 0, test_soft_nms 0). Its 9 anchors are py-faster-rcnn's with x2 and y2 one pixel further.
 */
const DEFAULT_CONFIG = `{"test_rpn_nms_thresh": "0.7", "test_rpn_pre_nms_top_n": "6000", "test_rpn_post_nms_top_n": "300",
 "test_rpn_min_size": "16", "feat_stride": "16",
 "anchors": "-84, -40, 100, 56, -176, -88, 192, 104, -360, -184, 376, 200, -56, -56, 72, 72, -120, -120, 136, 136,
             -248, -248, 264, 264, -36, -80, 52, 96, -80, -168, 96, 184, -168, -344, 184, 360"}`;

/** FrcnnProposal's settings: the net's config (LoadOptions.frcnnConfig) or the default one; feat_stride the layer's unless 0. */
function frcnnSettings(def: LayerParameter, net: NetContext): ProposalSettings {
  const given = net.frcnnConfig !== undefined;
  const fail = (why: string) => new LayerError(def, `${given ? 'the FrcnnProposal config (--frcnn-config)' : 'the default FrcnnProposal config'}: ${why}`);
  const keys = readFrcnnConfig(given ? net.frcnnConfig! : DEFAULT_CONFIG, fail);
  const value = (key: string, fallback?: string) => {
    const v = keys.get(key) ?? fallback;
    if (v === undefined) throw fail(`has no "${key}" (the fork's load_param aborts without it)`);
    return v;
  };
  const anchors = cFloats(value('anchors'));
  if (anchors.length === 0 || anchors.length % 4) throw fail(`"anchors" must be x1, y1, x2, y2 of each anchor: ${anchors.length} numbers`);
  const soft = atoi(value('test_soft_nms', '0'));
  // The fork's proposal_param.feat_stride defaults to 0 (the config's), crema's Proposal's to 16: the one written.
  const stride = (def.proposal_param as { feat_stride?: number } | undefined)?.feat_stride ?? 0;
  const preNms = atoi(value('test_rpn_pre_nms_top_n')), postNms = atoi(value('test_rpn_post_nms_top_n'));
  // The fork logs an error and leaves its top as it was: no proposals crema could give.
  if (preNms <= 0 || postNms <= 0) throw fail(`test_rpn_pre_nms_top_n ${preNms} and test_rpn_post_nms_top_n ${postNms} must be > 0 (the fork then returns without writing its top)`);
  return {
    featStride: stride !== 0 ? stride : atoi(value('feat_stride')),
    baseSize: 0, ratios: [], scales: [], anchors: Float64Array.from(anchors, Math.fround),
    minSize: cFloat(value('test_rpn_min_size')), preNms, postNms, nmsThresh: cFloat(value('test_rpn_nms_thresh')), nms: true,
    fork: {
      scoreThresh: Math.fround(cFloat(value('test_rpn_score_thresh', '0'))),
      // test_nms: the detections' NMS threshold, which the soft loop reads in place of test_rpn_nms_thresh
      ...(soft !== 0 ? { softNms: { kind: soft, thresh: cFloat(value('test_nms')) } } : {}),
    },
  };
}

/**
 * The top-level keys of a config as boost's property_tree read_json gives them to the fork (every value its text:
 * "16" and 16 alike; an object's or array's ''), read as leniently as the fork's configs need: // and /* comments,
 * line breaks inside strings (default_config.json's anchors). The last of a repeated key wins, as there.
 */
export function readFrcnnConfig(text: string, fail: (why: string) => Error): Map<string, string> {
  let i = 0;
  const line = () => text.slice(0, i).split('\n').length;
  const error = (what: string) => fail(`line ${line()}: ${what}`);
  const space = () => {
    for (;;) {
      while (/\s/.test(text[i] ?? '')) i++;
      if (text.startsWith('//', i)) i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
      else if (text.startsWith('/*', i)) {
        const end = text.indexOf('*/', i + 2);
        if (end < 0) throw error('a /* comment is not closed');
        i = end + 2;
      } else return;
    }
  };
  const string = (): string => {
    const m = /^"((?:[^"\\]|\\.)*)"/s.exec(text.slice(i));
    if (!m) throw error('a string is not closed');
    i += m[0].length;
    // JSON.parse refuses raw control characters in a string (the fork's line breaks): each as its \u escape.
    const escaped = Array.from(m[1], (c) => (c.charCodeAt(0) < 32 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('');
    try {
      return JSON.parse(`"${escaped}"`) as string;
    } catch {
      throw error(`a string has an escape JSON does not know: "${m[1].slice(0, 40)}"`);
    }
  };
  // An object's or array's value: skipped (FrcnnProposal reads none), its strings and comments passed over.
  const skipNested = () => {
    for (let depth = 0; ; ) {
      space();
      const c = text[i];
      if (c === undefined) throw error('an object or array is not closed');
      if (c === '"') string();
      else {
        i++;
        if (c === '{' || c === '[') depth++;
        else if ((c === '}' || c === ']') && --depth === 0) return;
      }
    }
  };
  const value = (): string => {
    if (text[i] === '"') return string();
    if (text[i] === '{' || text[i] === '[') return (skipNested(), '');
    const m = /^[-+\w.]+/.exec(text.slice(i));
    if (!m) throw error(`a value cannot start with '${text[i] ?? 'the end'}'`);
    i += m[0].length;
    return m[0];
  };
  const keys = new Map<string, string>();
  space();
  if (text[i] !== '{') throw error('the config must be a JSON object ({ "key": "value", ... })');
  i++;
  for (space(); text[i] !== '}'; ) {
    if (text[i] !== '"') throw error(`expected a key in quotes, found '${text[i] ?? 'the end'}'`);
    const key = string();
    space();
    if (text[i++] !== ':') throw error(`expected ':' after "${key}"`);
    space();
    keys.set(key, value());
    space();
    if (text[i] === ',') {
      i++;
      space();
    } else if (text[i] !== '}') throw error(`expected ',' or '}' after "${key}"'s value`);
  }
  return keys;
}

/** C's atoi: the leading integer after white space, 0 if none. */
export function atoi(text: string): number {
  return Number(/^\s*[-+]?\d+/.exec(text)?.[0] ?? 0);
}

/** C's atof (decimal forms): the leading number after white space, 0 if none. */
export function cFloat(text: string): number {
  return Number(/^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(text)?.[0] ?? 0);
}

/** The fork's extract_vector: split at commas (std::getline: no empty last piece), each read by atof. */
export function cFloats(text: string): number[] {
  const pieces = text.split(',');
  if (pieces[pieces.length - 1] === '') pieces.pop();
  return pieces.map(cFloat);
}
