import '../platform/node.js';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { CremaError, fileErrorWords } from '../util/errors.js';
import { guardInputs } from '../util/files.js';
import { nearest } from '../util/options.js';
import { commands } from './commands/index.js';
import { shippedModelHint } from './examples.js';

/** Exit codes: 0 ran fine, 1 ran but a check failed (e.g. verify), 2 bad usage or bad input. */
export const EXIT_OK = 0, EXIT_CHECK_FAILED = 1, EXIT_BAD_INPUT = 2;

/** A command sets this to report a failed check (exit 1) without throwing. */
export const exitState = { code: EXIT_OK };

/** The command line as typed: yargs reads a positional `-` (upgrade's stdout) as '' (see upgrade.ts). */
export const invocation = { argv: [] as string[] };

export async function main(argv: string[]): Promise<number> {
  exitState.code = EXIT_OK;
  invocation.argv = argv;
  knownFlags.clear();
  guardInputs(true);
  const names = commands.map((c) => c.command.split(' ')[0]);
  if (argv[0] && !argv[0].startsWith('-') && !names.includes(argv[0])) {
    console.error(`crema: unknown command '${argv[0]}' (commands: ${names.join(', ')}; crema --help)`);
    return EXIT_BAD_INPUT;
  }
  const empty = emptyFlag(argv);
  if (empty) {
    console.error(`crema: ${empty}: an empty value (leave the flag out for its default)`);
    return EXIT_BAD_INPUT;
  }
  let cli = yargs(argv)
    .scriptName('crema')
    .usage('crema: run, convert and verify Caffe models\n\nUsage: $0 <command> [options]')
    .strict()
    .demandCommand(1, 'Name a command (crema --help lists them).')
    .recommendCommands()
    // A terminal's help is wrapped to fit; piped (crema run --help | less, scripts, tests) each example stays one line.
    .wrap(process.stdout.isTTY ? Math.min(110, process.stdout.columns || 110) : null)
    .fail((msg, err) => {
      // yargs' own validation errors (YError: `--threads` with nothing after it, requiresArg) are usage errors too:
      // one line, not a stack trace. A command's own errors pass through as they are.
      if (err?.name === 'YError') throw new UsageError(oneLine(err.message));
      if (err) throw err;
      const missing = missingPositionals(msg, commands.find((c) => c.command.split(' ')[0] === argv[0])?.command);
      const unknown = /^Unknown arguments?: (.*)$/.exec(msg.trim());
      throw new UsageError(missing ? missing + swallowedBy(argv) : unknown ? unknownArguments(unknown[1], argv) : oneLine(msg));
    });
  try {
    // Only the command named is imported (its options and handler); the others are listed for --help.
    for (const c of commands) {
      const named = c.command.split(' ')[0] === argv[0];
      const module = named ? await c.load() : { builder: (y: Argv) => y, handler: () => {} };
      const builder = (y: Argv) => valuesRequired(module.builder(y) as Argv, c.command);
      cli = cli.command({ command: c.command, describe: c.describe, ...module, builder } as unknown as CommandModule);
    }
    await cli.parseAsync();
    return exitState.code;
  } catch (err) {
    if (err instanceof UsageError || err instanceof CremaError) {
      const message = asTyped(inCliWords(err.message), argv);
      console.error(`crema: ${message}${shippedModelHint(message)}`);
      return EXIT_BAD_INPUT;
    }
    if (isNodeFileError(err)) {
      console.error(`crema: ${err.path}: ${fileErrorWords(err.code)}`);
      return EXIT_BAD_INPUT;
    }
    console.error(`crema: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 70;
  } finally {
    guardInputs(false);
  }
}

class UsageError extends Error {}

/** String flags whose value may be left out, for a default that depends on the others (convert's data file name). */
const OPTIONAL_VALUES = new Set(['external-data']);

/**
 * A string or number flag typed without its value (`--iterations` last, or before another flag) took its default,
 * silently: each then needs one (yargs: "Not enough arguments following", said as `--iterations: needs a value`).
 * Not for repeatable flags (`--input a.npy b.npy`) nor the positionals.
 */
function valuesRequired(y: Argv, command: string): Argv {
  const o = (y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]>; string: string[]; number: string[]; array: string[]; boolean: string[]; narg: Record<string, number> } }).getOptions();
  for (const [k, n] of Object.entries(o.narg)) valueCounts.set(k, n);
  for (const k of Object.keys(o.key)) if (!/[A-Z]/.test(k)) knownFlags.add(k);
  const positionals = [...command.matchAll(/[<[](\w+)(?:\.\.)?[>\]]/g)].map((m) => m[1]);
  const valued = [...new Set([...o.string, ...o.number])].filter((k) => !o.array.includes(k) && !o.boolean.includes(k) && !positionals.includes(k) && !OPTIONAL_VALUES.has(k));
  const repeatable = o.array.filter((k) => !positionals.includes(k));
  // A repeatable flag as typed: `--input` or its alias `-i`.
  const typedForms = (k: string) => [k, ...(o.alias[k] ?? [])].map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
  for (const k of repeatable) for (const flag of typedForms(k)) repeatableFlags.add(flag);
  if (repeatable.length) y = y.check((args) => checkRepeatable(args, repeatable, typedForms));
  const single = valued.filter((k) => !(o.narg[k] > 1)); // pose's --hand PROTOTXT CAFFEMODEL is a list of its own
  if (single.length) y = y.check((args) => checkOnce(args, single));
  return valued.length ? y.requiresArg(valued) : y;
}

/**
 * A single-valued flag typed twice (`--scale 600 --scale 800`, `--no-pyramid --pyramid 500,800`) parsed as a list,
 * which its command read as one value (a stack trace where it split a string): which one was meant is the user's to say.
 */
function checkOnce(args: Record<string, unknown>, keys: string[]): true {
  for (const key of keys) {
    const v = args[key];
    if (!/[A-Z]/.test(key) && Array.isArray(v)) throw new UsageError(`--${key}: given ${v.length} times; give it once`);
  }
  return true;
}

/**
 * A repeatable flag typed without a value (`--input` last, or before another flag: `--stage --input x.npy`) parsed
 * as an empty list and ran as if absent: `--input: needs a value`, as the single-valued flags say.
 */
function checkRepeatable(args: Record<string, unknown>, keys: string[], typedForms: (key: string) => string[]): true {
  for (const key of keys) {
    const v = args[key];
    const flag = invocation.argv.find((a) => typedForms(key).includes(a));
    if (Array.isArray(v) && v.length === 0 && flag) throw new UsageError(`${flag}: needs a value`);
  }
  return true;
}

/** The command's flags that take every value after them (`--input a.npy b.npy`), as its builder declared them. */
const repeatableFlags = new Set<string>();
/** The command's flags (and --help, --version), for the guess when one is mistyped. */
const knownFlags = new Set<string>();

/**
 * yargs' "Unknown arguments: inptu, extra" in crema's words: a mistyped flag as typed, with the flag likeliest meant
 * (`unknown option --inptu (did you mean --input?)`, as a prototxt's field or a library option gets), and a word that
 * is no flag as one positional too many (yargs named both alike, a flag without its dashes).
 */
function unknownArguments(names: string, argv: string[]): string {
  const list = names.split(/,\s*/);
  const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  // yargs names `--any-szie` twice, as typed and camel-cased (anySzie): once is enough.
  return list.filter((name) => !/[A-Z]/.test(name) || !list.includes(kebab(name))).map((name) => {
    const typed = argv.find((a) => a.startsWith('-') && a.replace(/^--?/, '').replace(/=.*$/s, '').replace(/^no-/, '') === name.replace(/^no-/, ''));
    if (typed === undefined) return `unexpected argument '${name}' (see --help)`;
    const flag = typed.replace(/=.*$/s, '');
    const near = nearest(name.replace(/^no-/, ''), [...knownFlags].filter((k) => k.length > 1));
    return `unknown option ${flag}${near === undefined ? '' : ` (did you mean --${near}?)`}`;
  }).join('; ');
}

/** Flags that take several values (`--hand PROTOTXT CAFFEMODEL`): how many, for the message when fewer are typed. */
const valueCounts = new Map<string, number>();

/**
 * A repeatable flag typed before a positional took it as one of its values (`crema info --stage test NET`: the
 * stages 'test' and 'NET', no net): said after "missing <net>", with the way out.
 */
function swallowedBy(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].split('=')[0];
    if (!repeatableFlags.has(flag)) continue;
    const at = argv[i].indexOf('=');
    const values = at > 0 ? [argv[i].slice(at + 1), ...argv.slice(i + 1)] : argv.slice(i + 1);
    const end = values.findIndex((a, j) => j > 0 && a.startsWith('-'));
    const taken = end < 0 ? values : values.slice(0, end);
    if (taken.length >= 2) return `: ${flag} took ${taken.map((a) => `'${a}'`).join(' ')} (it takes every value after it: put them first)`;
  }
  return '';
}

/**
 * yargs' "Not enough non-option arguments: got 2, need at least 3" as the positionals missing, in --help's words
 * (`crema classify NET WEIGHTS` with no image: "missing <images..> (see --help)").
 */
function missingPositionals(msg: string, command: string | undefined): string | undefined {
  const m = /^Not enough non-option arguments: got (\d+), need at least (\d+)/.exec(msg.trim());
  if (!m || !command) return undefined;
  const required = command.split(' ').slice(1).filter((p) => p.startsWith('<'));
  const missing = required.slice(Number(m[1]));
  return missing.length ? `missing ${missing.join(' ')} (see --help)` : undefined;
}

/**
 * The first flag given an empty value (`--threads ''`, `--raw-scale=`), if any: yargs reads it as 0 for a number
 * flag (`--threads ''` ran one thread per core, `--raw-scale ''` zeroed the image) and no crema flag means anything
 * by an empty string.
 */
function emptyFlag(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return undefined;
    if (/^--?[A-Za-z][\w-]*=$/.test(a)) return a.slice(0, -1);
    if (/^--?[A-Za-z][\w-]*$/.test(a) && argv[i + 1] === '') return a;
  }
  return undefined;
}

/** The library's names of options whose flag is not just their kebab-case form. */
const FLAG_OF: Record<string, string> = { plugins: 'plugin', inputs: 'input' };

/**
 * A library message in the CLI's words: the library names an option `options.channelSwap`, the CLI's flag for it is
 * `--channel-swap` (test/messages.test.ts checks both sides).
 */
export function inCliWords(message: string): string {
  return message.replace(/options\.dataShapes: \{ '(.*?)': \[([A-Z, ]+)\] \}/g, (_, top: string, dims: string) => `--data-shape ${top}=${dims.replace(/ /g, '')}`).replace(/\boptions\.(\w+)/g, (_, name: string) => `--${FLAG_OF[name] ?? name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/**
 * yargs reads a number flag's `abc` as NaN: a message about `--threads` saying "got NaN" shows what was typed
 * instead ("got 'abc'").
 */
function asTyped(message: string, argv: string[]): string {
  const flag = /--([a-z][\w-]*)/.exec(message)?.[1];
  if (!flag || !/\bNaN\b/.test(message)) return message;
  let typed: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}` && i + 1 < argv.length) typed = argv[i + 1];
    else if (argv[i].startsWith(`--${flag}=`)) typed = argv[i].slice(flag.length + 3);
  }
  return typed === undefined || typed === 'NaN' ? message : message.replace(/\bNaN\b/g, `'${typed}'`);
}

/**
 * yargs' messages on one line, as every crema error is: "Invalid values:\n  Argument: backend, Given: "xx",
 * Choices: "native", "onnx"" becomes "--backend xx: expected one of native, onnx".
 */
function oneLine(msg: string): string {
  const choices = [...msg.matchAll(/Argument: (\S+), Given: "?(.*?)"?, Choices: (.*)/g)];
  if (choices.length)
    return choices.map(([, arg, given, list]) => `--${arg} ${given}: expected one of ${list.replace(/"/g, '')}`).join('; ');
  // "Missing required argument: output" names yargs' key, not the flag a user types.
  const missing = /^Missing required arguments?: (.*)$/.exec(msg.trim());
  if (missing) return `missing ${missing[1].split(/,\s*/).map((name) => (name === 'output' ? '-o/--output' : `--${name}`)).join(', ')} (see --help)`;
  const bare = /^Not enough arguments following: (\S+)$/.exec(msg.trim());
  if (bare) {
    const n = valueCounts.get(bare[1]) ?? 1;
    return `${bare[1].length === 1 ? '-' : '--'}${bare[1].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: needs ${n > 1 ? `${n} values` : 'a value'}`;
  }
  return msg.trim().split(/\s*\n\s*/).join(' ');
}

function isNodeFileError(err: unknown): err is NodeJS.ErrnoException & { path: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).path === 'string';
}


