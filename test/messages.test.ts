// Library messages speak the library's words (options.channelSwap), the CLI's speak its flags (--channel-swap): the
// library names an option `options.<name>`, and the CLI's error printer (inCliWords) turns that into the flag.
import { describe, expect, it } from 'vitest';
import { Net, classify, convert, verify } from '../src/index.js';
import { inCliWords } from '../src/cli/main.js';
import { cli } from './helpers/cli.js';

const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'] as const;
const digit = 'models/lenet/examples/digit-7.png';

async function messageOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  return (err as Error).message;
}

describe('library messages name options, never a CLI flag', () => {
  it.each([
    ['convert opset', (net: Net) => convert(net, { opset: 3 }), /^options\.opset must be an integer from \d+ to \d+, got 3$/],
    ['classify channelSwap', (net: Net) => classify(net, [digit], { channelSwap: [2, 1] }), /^options\.channelSwap 2,1: needs a permutation of 0\.\.0 \(the input has 1 channel\)$/],
    ['verify tolerance', (net: Net) => verify(net, { tolerance: -1 }), /^options\.tolerance must be a positive number, got -1$/],
    ['verify reference', (net: Net) => verify(net, { reference: '/nonexistent-dir' }), /^options\.reference \/nonexistent-dir: not a directory$/],
    ['Net.load plugins', () => Net.load(lenet[0], lenet[1], { plugins: ['/nonexistent-plugin.js'] }), /^options\.plugins \/nonexistent-plugin\.js: no such file$/],
  ])('%s', async (_, call, want) => {
    const net = await Net.load(...lenet, { threads: 1 });
    const message = await messageOf(Promise.resolve().then((): Promise<unknown> => call(net)));
    expect(message).toMatch(want);
    expect(message).not.toMatch(/--[a-z]/);
  });

  it('the CLI says the same with its flags', async () => {
    expect((await cli('convert', ...lenet, '-o', '/dev/null', '--opset', '3')).stderr).toMatch(/^crema: --opset must be an integer from \d+ to \d+, got 3$/);
    expect((await cli('classify', ...lenet, digit, '--channel-swap', '2,1')).stderr).toBe('crema: --channel-swap 2,1: needs a permutation of 0..0 (the input has 1 channel)');
    expect((await cli('verify', ...lenet, '--reference', '/nonexistent-dir')).stderr).toBe('crema: --reference /nonexistent-dir: not a directory');
    expect((await cli('info', lenet[0], '--plugin', '/nonexistent-plugin.js')).stderr).toBe('crema: --plugin /nonexistent-plugin.js: no such file');
  });

  it('inCliWords: options.<name> becomes the flag', () => {
    expect(inCliWords('options.channelSwap 2,1: x; options.maxBatchSize 0; options.plugins a.js; from options.inputs')).toBe('--channel-swap 2,1: x; --max-batch-size 0; --plugin a.js; from --input');
  });
});
