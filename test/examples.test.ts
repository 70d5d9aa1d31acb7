// --help examples name the shipped models as the user can type them from where they are (src/cli/examples.ts).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { example, shipped } from '../src/cli/examples.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const slashed = (p: string) => p.split(path.sep).join('/');

describe('--help examples read well from any working directory', () => {
  it('relative inside the package or above it, the installed path when a relative one would climb out', () => {
    expect(shipped('models', repo)).toBe('models');
    expect(shipped('models/lenet', path.dirname(repo))).toBe(`${path.basename(repo)}/models/lenet`); // an app with the package under it
    expect(shipped('models', os.tmpdir())).toBe(slashed(path.join(repo, 'models')));
    expect(shipped('models', path.join(repo, 'src'))).toBe(slashed(path.join(repo, 'models')));
  });

  it('crema run --help from another folder prints the installed path, no ../', () => {
    const help = execFileSync(process.execPath, [path.join(repo, 'bin/crema.js'), 'run', '--help'], { cwd: os.tmpdir(), encoding: 'utf8' });
    expect(help).toContain(`${slashed(path.join(repo, 'models'))}/lenet/`);
    expect(help).not.toContain('../');
    expect(example('$0 run models/lenet/deploy.prototxt')).toBe(`$0 run ${shipped('models')}/lenet/deploy.prototxt`);
  });
});
