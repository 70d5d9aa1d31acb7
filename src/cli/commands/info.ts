import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { summarize } from '../../graph/summary.js';
import { shapeString } from '../../tensor.js';
import { loadNetFor, type NetArgs, netArgs, printNotes } from '../shared.js';
import { printJson } from '../json.js';
import { columnsTable } from '../table.js';

interface InfoArgs extends NetArgs {
  json: boolean;
}

export const infoCommand = {
  builder: (y: Argv) =>
    netArgs(y)
      .option('json', { type: 'boolean', default: false, describe: 'print {"blobs": {...}, "layers": [...]} as JSON' })
      .example(example('$0 info models/zoo/alexnet.prototxt'), 'shapes and costs of AlexNet')
      .example(example('$0 info models/lenet/deploy.prototxt models/lenet/weights.caffemodel --json'), 'as JSON, checking the weights'),
  handler: async (args: InfoArgs) => {
    const net = await loadNetFor(args, false); // no native compute here
    const summary = summarize(net.graph);
    printNotes(net, args); // stderr: never mixed into --json output
    if (args.json) {
      printJson(summary);
      return;
    }
    const table = columnsTable(['layer', 'type', 'bottoms → tops', 'output shape', 'params', 'MACs'], 4);
    for (const l of summary.layers)
      table.push([l.name, l.type, `${l.bottom.join(', ')} → ${l.top.join(', ')}`, l.top.map((t) => shapeString(net.shapes.get(t)!)).join(' '), fmt(l.params), fmt(l.macs)]);
    const params = summary.layers.reduce((n, l) => n + l.params, 0), macs = summary.layers.reduce((n, l) => n + l.macs, 0);
    table.push(['total', `${summary.layers.length} layers`, '', '', fmt(params), fmt(macs)]);
    console.log(`${net.name || args.net}`);
    console.log(table.toString());
  },
};

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
