import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { Net } from '../../runtime/net.js';
import { shapeString } from '../../tensor.js';
import type { PairResult } from '../../verify/compare.js';
import { PAIRS, type PairName, type VerifyReport, verifyNet } from '../../verify/verify.js';
import { EXIT_CHECK_FAILED, exitState, inCliWords } from '../main.js';
import { readInputs, reshapeTo } from '../inputs.js';
import { checkInteger, loadOptionsFrom, netArgs, type NetArgs, printNotes, threadsArg } from '../shared.js';
import { printJson } from '../json.js';
import { columnsTable } from '../table.js';

interface VerifyArgs extends NetArgs {
  input: string[];
  reference?: string;
  tolerance: number;
  seed: number;
  threads?: number;
  lrn: 'native' | 'decomposed';
  opset?: number;
  json: boolean;
}

const PAIR_TITLES: Record<PairName, string> = {
  native_onnx: 'native vs onnx',
  native_reference: 'native vs reference',
  onnx_reference: 'onnx vs reference',
};

export const verifyCommand = {
  builder: (y: Argv) =>
    threadsArg(netArgs(y))
      .option('input', { alias: 'i', type: 'string', array: true, default: [], describe: 'input data, [NAME=]FILE.npy (default: the reference\'s own input, else seeded random: an Embed\'s indices below its input_dim, a Proposal\'s im_info the image input\'s size)' })
      .option('reference', { type: 'string', describe: 'a directory of <blob>.npy to compare against (a --dump, or Caffe\'s from caffe-ref forward)' })
      .option('tolerance', { type: 'number', default: 1e-4, describe: 'pass when max|a - b| <= tolerance * max(1, max|b|)' })
      .option('seed', { type: 'number', default: 1, describe: 'seed of the random input' })
      .option('lrn', { choices: ['native', 'decomposed'], default: 'native', describe: 'how the ONNX model writes ACROSS_CHANNELS LRN' })
      .option('opset', { type: 'number', describe: 'ONNX opset of the converted model' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as one JSON object: {"pass", "tolerance", "input", "blobs": [{"blob", "shape", "pairs", "pass", "explained"}], "failed", "unexplained", "notes"}' })
      .example(example('$0 verify models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel'), 'native vs ONNX Runtime on a random input')
      .example(example('$0 verify models/lenet/deploy.prototxt models/lenet/weights.caffemodel --input models/lenet/example-input.npy --json'), 'a given input, the report as JSON (--reference DIR: also against Caffe\'s own blobs)'),
  handler: async (args: VerifyArgs) => {
    checkInteger('--seed', args.seed);
    const net = await Net.load(args.net, args.weights, loadOptionsFrom(args));
    printNotes(net, args); // stderr: never mixed into --json output
    const inputs = await readInputs(net, args.input);
    reshapeTo(net, inputs);
    const report = await verifyNet(net, {
      inputs,
      reference: args.reference,
      tolerance: args.tolerance,
      seed: args.seed,
      threads: args.threads,
      lrn: args.lrn,
      opset: args.opset,
    });
    if (!report.pass) exitState.code = EXIT_CHECK_FAILED;
    // in the CLI's words: "data from --input", not the library's "data from options.inputs"
    const shown = { ...report, input: inCliWords(report.input), notes: report.notes.map(inCliWords) };
    if (args.json) printJson(shown);
    else printReport(shown);
  },
};

function errorCell(p: PairResult | undefined): string {
  if (!p) return '-';
  if (p.mismatch) return p.mismatch;
  const values = `${p.abs.toExponential(1)} / ${p.rel.toExponential(1)}`;
  if (!p.indices) return values;
  return p.indices.differing ? `${p.indices.differing} of ${p.indices.of} indices differ, values ${values}` : 'indices equal';
}

/** What the summary adds when some failing blobs only carry their inputs' difference (their `explained`). */
function inheritedWords(report: VerifyReport): string {
  const inherited = report.failed.filter((b) => !report.unexplained.includes(b));
  if (inherited.length === 0) return '';
  if (report.unexplained.length === 0) return `; none by crema's layers: each, run on the same inputs, agrees (see the notes)`;
  return `; ${inherited.join(', ')} only by ${inherited.length === 1 ? 'its inputs' : 'their inputs'} (see the notes)`;
}

function printReport(report: VerifyReport): void {
  const pairs = PAIRS.filter((p) => report.blobs.some((b) => b.pairs[p]));
  const table = columnsTable(['blob', 'shape', ...pairs.map((p) => `${PAIR_TITLES[p]}\nmax abs / rel`), 'verdict'], 2);
  for (const b of report.blobs) {
    const failing = pairs.filter((p) => b.pairs[p] && !b.pairs[p]!.pass).map((p) => PAIR_TITLES[p]);
    const by = b.explained ? (b.explained.follows.length ? `: follows ${b.explained.follows.join(', ')}` : ': its input, amplified') : '';
    table.push([b.blob, shapeString(b.shape), ...pairs.map((p) => errorCell(b.pairs[p])), b.pass ? 'ok' : `FAIL (${failing.join(', ')})${by}`]);
  }
  console.log(`input: ${report.input}${report.reference ? `; reference: ${report.reference}` : ''}`);
  console.log(table.toString());
  for (const note of report.notes) console.log(`note: ${note}`);
  const compared = pairs.map((p) => PAIR_TITLES[p]).join(', ');
  console.log(
    report.pass
      ? `verify: PASS: all ${report.blobs.length} blobs within tolerance ${report.tolerance} (${compared})`
      : `verify: FAIL: ${report.failed.length} of ${report.blobs.length} blobs out of tolerance ${report.tolerance}: ${report.failed.join(', ')}${inheritedWords(report)}`,
  );
}
