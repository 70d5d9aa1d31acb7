import type { Argv } from 'yargs';
import { loadFlow } from '../../detect/node.js';
import { floBytes, flowColors, flowLine } from '../../detect/flow.js';
import { rgbPng } from '../../image/png.js';
import { loadImage } from '../../image/load.js';
import { CremaError } from '../../util/errors.js';
import { checkOutput, checkReadable, readFileBytes, writeOutput } from '../../util/files.js';
import { EXIT_CHECK_FAILED, exitState } from '../main.js';
import { type PairArgs, pairArgs, pairOptions, runPair } from '../pair.js';
import { startProgress } from '../progress.js';

interface FlowArgs extends PairArgs {
  img0?: string;
  img1?: string;
  list?: string;
}

export const flowCommand = {
  builder: (y: Argv) =>
    pairArgs(y, {
      template: 'a FlowNet 2.0 deploy .prototxt.template (filled for the images\' size), or a deploy net already filled for it',
      weights: 'its .caffemodel or .caffemodel.h5',
      output: 'write the flow as a Middlebury .flo (run-flownet.py\'s writeFlow: \'PIEH\', int32 width, height, float32 u v interleaved)',
      png: 'write the flow as a picture: the Middlebury colour wheel as flow_vis draws it (normalised by the largest radius)',
    })
      .positional('img0', { type: 'string', describe: 'the first image (.png .jpg .webp)' })
      .positional('img1', { type: 'string', describe: 'the second image, of the first one\'s size' })
      .option('list', { type: 'string', describe: 'run-flownet-many.py\'s list file in place of IMG0 IMG1: a line "img0 img1 out.flo" a pair (paths as given, from the working directory), each .flo written as -o writes it; one net for all pairs, filled again when the size changes' })
      .example('$0 flow FlowNet2_deploy.prototxt.template FlowNet2_weights.caffemodel.h5 frame0.png frame1.png -o out.flo --png out.png', 'FlowNet2\'s flow from frame0 to frame1, as `python scripts/run-flownet.py FlowNet2_weights.caffemodel.h5 FlowNet2_deploy.prototxt.template frame0.png frame1.png out.flo` writes it, and its picture')
      .example('$0 flow FlowNet2_deploy.prototxt.template FlowNet2_weights.caffemodel.h5 --list pairs.txt', 'each line\'s flow, as `python scripts/run-flownet-many.py FlowNet2_weights.caffemodel.h5 FlowNet2_deploy.prototxt.template pairs.txt` writes them')
      .epilog("As FlowNet 2.0's scripts/run-flownet.py (lmb-freiburg/flownet2): the template's $TARGET_WIDTH$, $TARGET_HEIGHT$, $ADAPTED_WIDTH$, $ADAPTED_HEIGHT$ (the size rounded up to multiples of 64), $SCALE_WIDTH$ and $SCALE_HEIGHT$ filled as the script's Python 2.7 writes them (12 digits); the images' bytes as floats in BGR order (a gray image's one channel in all three), no mean, no EXIF rotation (scipy.misc.imread); the flow is the blob predict_flow_final, u then v in pixels at the images' size. Prints the flow's size and its largest and mean length. With --list, as scripts/run-flownet-many.py: every line is checked first (three paths, the outputs writable, none twice), a pair whose images cannot be read or differ in size is skipped with a warning (exit code 1), the others go on."),
  handler: async (args: FlowArgs) => {
    if (args.list !== undefined) return flowList(args, args.list);
    if (args.img0 === undefined || args.img1 === undefined) throw new CremaError('flow: give IMG0 and IMG1, or --list FILE (lines "img0 img1 out.flo")');
    const [img0, img1] = [args.img0, args.img1];
    return runPair(args, (options) => {
      const runner = loadFlow(args.template, args.weights, options);
      return runner.flow(img0, img1).finally(() => runner.dispose());
    }, {
      output: floBytes,
      png: (f) => rgbPng(f.width, f.height, flowColors(f)),
      line: (f) => flowLine(img0, img1, f),
    });
  },
};

interface Pair {
  line: number;
  img0: string;
  img1: string;
  out: string;
}

/**
 * run-flownet-many.py's list: its non-blank lines split on whitespace, "img0 img1 out.flo", the paths as given (the
 * script opens them from the working directory). The script fails on a short line only when it reaches it (an
 * IndexError, the pairs before written) and ignores a fourth field: here every line is checked before any work.
 */
export function parsePairs(text: string, file: string): Pair[] {
  const pairs: Pair[] = [], seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) return;
    if (fields.length !== 3)
      throw new CremaError(`${file}:${i + 1}: expected "img0 img1 out.flo" (three paths, no spaces in them), got ${fields.length} field${fields.length === 1 ? '' : 's'}`);
    const [img0, img1, out] = fields, before = seen.get(out);
    if (before !== undefined) throw new CremaError(`${file}:${i + 1}: ${out} is written by line ${before} already`);
    seen.set(out, i + 1);
    pairs.push({ line: i + 1, img0, img1, out });
  });
  if (pairs.length === 0) throw new CremaError(`${file}: no pairs (a line "img0 img1 out.flo" each)`);
  return pairs;
}

/** crema flow --list: each pair through one FlowNet, its .flo written atomically as it is done. */
async function flowList(args: FlowArgs, list: string): Promise<void> {
  const extra = [args.img0 !== undefined && 'IMG0 IMG1', args.output !== undefined && '-o', args.png !== undefined && '--png'].filter(Boolean);
  if (extra.length) throw new CremaError(`flow --list: the list gives the pairs and their outputs; drop ${extra.join(' and ')}`);
  checkReadable(list);
  const pairs = parsePairs(readFileBytes(list).toString('utf8'), list);
  for (const p of pairs) {
    try {
      checkOutput(p.out);
    } catch (err) {
      throw err instanceof CremaError ? new CremaError(`${list}:${p.line}: ${err.message}`) : err;
    }
  }
  const runner = loadFlow(args.template, args.weights, pairOptions(args));
  const progress = startProgress('flow', pairs.length, { unit: 'pairs' });
  let done = 0;
  try {
    for (const p of pairs) {
      const images = await Promise.all([p.img0, p.img1].map((file) => loadImage(file, true, false))).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      const [a, b] = images instanceof Error ? [] : images;
      const skip = images instanceof Error ? images.message : a.width !== b.width || a.height !== b.height ? `${p.img0} is ${a.width} x ${a.height} but ${p.img1} is ${b.width} x ${b.height}: FlowNet takes two images of one size` : undefined;
      if (skip !== undefined) {
        progress.warn(`crema: skipped ${list}:${p.line}: ${skip}`);
        progress.tick(1);
        continue;
      }
      const f = await runner.flow(a, b);
      await writeOutput(p.out, floBytes(f));
      done++;
      progress.tick(1); // a pair counts once its flow is written
      progress.print(`${flowLine(p.img0, p.img1, f)}; wrote ${p.out}`);
    }
  } finally {
    progress.stop();
    await runner.dispose();
  }
  if (done === 0) throw new CremaError(`no pair could be read (${pairs.length} skipped)`);
  if (done < pairs.length) exitState.code = EXIT_CHECK_FAILED;
}
