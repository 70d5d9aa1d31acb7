import type { Argv } from 'yargs';
import { benchCommand } from './bench.js';
import { classifyCommand } from './classify.js';
import { convertCommand } from './convert.js';
import { detectCommand } from './detect.js';
import { drawCommand } from './draw.js';
import { infoCommand } from './info.js';
import { runCommand } from './run.js';
import { showCommand } from './show.js';
import { upgradeCommand } from './upgrade.js';
import { verifyCommand } from './verify.js';

/** A command: yargs' CommandModule, with the handler typed by each command for its own arguments. */
export interface CremaCommand {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler: (args: any) => void | Promise<void>;
}

// One line per command.
export const commands: CremaCommand[] = [
  benchCommand,
  classifyCommand,
  convertCommand,
  detectCommand,
  drawCommand,
  infoCommand,
  runCommand,
  showCommand,
  upgradeCommand,
  verifyCommand,
];
