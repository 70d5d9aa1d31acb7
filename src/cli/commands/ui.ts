import type { Argv } from 'yargs';
import { CremaError } from '../../util/errors.js';

interface UiArgs {
  port: number;
}

export const uiCommand = {
  builder: (y: Argv) =>
    y
      .option('port', { type: 'number', default: 8080, describe: 'the port (0: any free one)' })
      .example('$0 ui', 'then open http://127.0.0.1:8080/?model=cifar10_full')
      .example('$0 ui --port 9000', 'another port'),
  handler: async (args: UiArgs) => {
    if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new CremaError(`--port must be an integer from 0 to 65535, got ${args.port}`);
    const { startUiServer } = await import('../../web/server.js');
    const server = await startUiServer({ port: args.port });
    console.log(`crema ui: ${server.url} (the shipped models: ${server.url}?model=cifar10_full); Ctrl-C stops it`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
    await server.close();
  },
};
