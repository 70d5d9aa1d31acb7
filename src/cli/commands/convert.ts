import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { type ConvertOptions, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../../onnx/convert.js';
import { convertFree, graphReshaper } from '../../onnx/batch.js';
import type { ValueInfoObj } from '../../onnx/proto.js';
import { CremaError } from '../../util/errors.js';
import { sizeText } from '../../util/source.js';
import { tritonModelName, writeTritonRepository } from '../../onnx/triton.js';
import { type WrittenModel, writeModelFile } from '../../onnx/write.js';
import { EXTERNAL_ALIGN } from '../../onnx/external.js';
import { loadNetFor, type NetArgs, netArgs, printNotes } from '../shared.js';

interface ConvertArgs extends NetArgs {
  output?: string;
  triton?: string;
  externalData?: string;
  maxBatchSize: number;
  modelVersion?: number;
  modelName?: string;
  opset: number;
  outputs: string;
  lrn: 'native' | 'decomposed';
  anySize: boolean;
  anyBatch: boolean;
}

export const convertCommand = {
  builder: (y: Argv) =>
    netArgs(y)
      .option('output', { alias: 'o', type: 'string', describe: 'the .onnx file to write (replaced only when the conversion succeeds; - for stdout)' })
      .option('triton', { type: 'string', describe: 'also (or instead) write a Triton Inference Server model repository: DIR/<net name>/config.pbtxt and 1/model.onnx' })
      .option('external-data', { type: 'string', describe: `write the tensors of ${EXTERNAL_ALIGN / 1024} KiB or more to a file beside the model, as ONNX external data: NAME, by default <model file>.data (a model of 2 GiB or more needs it)` })
      .option('max-batch-size', { type: 'number', default: 8, describe: 'with --triton: the largest batch Triton may form (0: no batching, the net\'s fixed shapes)' })
      .option('model-name', { type: 'string', describe: "with --triton: the model's name in the repository (default: the net's name; a net without one, its prototxt's directory's)" })
      .option('model-version', { type: 'number', describe: 'with --triton: the version directory to write (default: the one after the highest there, 1 in a new repository)' })
      .option('opset', { type: 'number', default: DEFAULT_OPSET, describe: `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}` })
      .option('outputs', { type: 'string', default: 'net', describe: 'graph outputs: net (Caffe\'s outputs), all (every blob, named as in Caffe), or blob names, comma-separated' })
      .option('lrn', { choices: ['native', 'decomposed'], default: 'native', describe: 'ACROSS_CHANNELS LRN as ONNX\'s LRN op, or as an AveragePool subgraph (faster in ONNX Runtime)' })
      .option('any-size', { type: 'boolean', default: false, describe: 'one model for every input height and width (symbolic "height" and "width", Triton dims -1), checked by converting at three other sizes; a net that builds the size in (an InnerProduct, a fixed Reshape, PriorBox) is refused, naming the layer' })
      .option('any-batch', { type: 'boolean', default: false, describe: 'one model for every batch size (a symbolic "batch" axis), checked by converting at another; a net that builds the batch in is refused, naming why (with --triton: batching required rather than turned off)' })
      .example(example('$0 convert models/lenet/deploy.prototxt models/lenet/weights.caffemodel -o lenet.onnx'), 'convert a model')
      .example(example('$0 convert models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel -o debug.onnx --outputs all'), 'expose every blob, for verification')
      .example(example('$0 convert models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel --triton model_repository'), 'a model repository for Triton Inference Server')
      .example(example('$0 convert models/lenet/deploy.prototxt models/lenet/weights.caffemodel -o lenet.onnx --external-data'), 'the weights beside the model, in lenet.onnx.data (for models of 2 GiB or more)')
      .example(example('$0 convert models/mtcnn/det1.prototxt models/mtcnn/det1.caffemodel -o pnet.onnx --any-size --any-batch'), 'a fully convolutional net (MTCNN\'s P-Net) for images of every size, in batches of any size'),
  handler: async (args: ConvertArgs) => {
    const started = performance.now();
    // With -o - the model is stdout: what crema says goes to stderr.
    const log = args.output === '-' ? console.error : console.log;
    if (!args.output && !args.triton) throw new CremaError('convert needs somewhere to write: -o OUT.onnx and/or --triton DIR');
    if (args.modelName !== undefined && !args.triton) throw new CremaError('--model-name names the model in a Triton repository: give --triton DIR too');
    checkExternalData(args);
    const files = { externalData: args.externalData };
    const net = await loadNetFor(args, false); // no native compute here
    printNotes(net, args);
    // Weights only when a layer takes them (as `run`): a net of ReLUs and poolings converts without a caffemodel.
    net.checkWeights();
    const outputs = args.outputs === 'net' || args.outputs === 'all' ? args.outputs : args.outputs.split(',').map((s) => s.trim()).filter(Boolean);
    const options: ConvertOptions = { opset: args.opset, outputs, lrn: args.lrn, anySize: args.anySize };
    const reshape = graphReshaper(net.graph); // the checks at other shapes: no buffers of theirs
    if (args.triton) {
      const t = await writeTritonRepository(net.graph, reshape, args.triton, tritonModelName(modelNameOf(args, net.name)), args.maxBatchSize, options, args.modelVersion, files, args.anyBatch);
      log(`wrote ${t.dir}/config.pbtxt and ${t.version}/model.onnx${dataWords(t.model, args.externalData)} (max_batch_size ${t.config.maxBatchSize}${t.fixedBatchReason ? `: ${t.fixedBatchReason}` : ''})`);
      if (t.kept.length) log(`  version${t.kept.length > 1 ? 's' : ''} ${t.kept.join(', ')} kept beside it; Triton serves the highest, ${Math.max(t.version, ...t.kept)}`);
      if (!args.output) return;
    }
    const { conversion } = convertFree(net.graph, reshape, options, args.anyBatch ? 'any' : 'fixed');
    const written = await writeModelFile(conversion.model, args.output!, files);
    const { graph } = conversion.model;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    log(`wrote ${args.output === '-' ? 'the model to stdout' : args.output}: ${sizeText(written.bytes)}${dataWords(written, args.externalData)}, opset ${args.opset}, ${graph.node.length} nodes, ${graph.initializer.length} initializers, in ${seconds} s`);
    // The model's dims: an axis the data sizes (a detector's rows) as '?', a free one by its name (batch, height, width).
    const dimsText = (blob: string, name: string, infos: ValueInfoObj[]) =>
      `[${infos.find((v) => v.name === name)!.type.tensor_type.shape!.dim.map((d, i) => (conversion.dynamic.get(blob)?.includes(i) ? '?' : 'dim_value' in d ? d.dim_value : d.dim_param)).join(', ')}]`;
    log(`  inputs:  ${net.inputs.map((n) => `${n} ${dimsText(n, n, graph.input)}`).join(', ')}`);
    const shown = [...conversion.outputs.keys()];
    const shapeOf = (n: string) => dimsText(n, conversion.outputs.get(n)!, graph.output);
    log(`  outputs: ${shown.slice(0, 8).map((n) => `${n} ${shapeOf(n)}`).join(', ')}${shown.length > 8 ? `, … (${shown.length})` : ''}`);
    // What the model does not reproduce exactly (also in its doc_string): on stderr, as loading's notes.
    for (const note of conversion.notes) console.error(`note: ${note}`);
  },
};

/**
 * The Triton model's name: --model-name, the net's name, else its prototxt's directory's, said in a note: two
 * unnamed nets of one directory (the zoo's SqueezeNets) would otherwise become versions of one model.
 */
function modelNameOf(args: ConvertArgs, netName: string): string {
  if (args.modelName !== undefined) {
    if (args.modelName.trim() === '') throw new CremaError('--model-name: give a name');
    return args.modelName;
  }
  if (netName) return netName;
  const dir = path.basename(path.dirname(path.resolve(args.net)));
  console.error(`note: ${args.net} names no net (no name: line): its Triton model is named after its directory, '${tritonModelName(dir)}' (--model-name NAME names it)`);
  return dir;
}

/** Refuses, before the net is loaded, an --external-data the model cannot refer to. */
function checkExternalData({ externalData: name, output, triton }: ConvertArgs): void {
  if (name === undefined) return;
  if (output === '-') throw new CremaError('--external-data writes a file beside the model: give -o FILE, not -o - (stdout)');
  if (/[/\\]/.test(name) || name === '.' || name === '..')
    throw new CremaError(`--external-data '${name}': expected a file name, written beside the model (ONNX looks for it in the model's directory)`);
  const models = [...(output !== undefined ? [path.basename(output)] : []), ...(triton !== undefined ? ['model.onnx'] : [])];
  if (models.includes(name)) throw new CremaError(`--external-data '${name}' is the model's own file name; give another`);
}

/** What was written beside the model, when external data was asked for. */
function dataWords({ data }: WrittenModel, asked: string | undefined): string {
  if (asked === undefined) return '';
  return data ? ` + external data ${data.file}, ${sizeText(data.bytes)}` : ` (no tensor of ${EXTERNAL_ALIGN / 1024} KiB or more: no external data file)`;
}
