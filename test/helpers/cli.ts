// Running the CLI in-process (no build needed), capturing what it prints, and checking error messages.
import { execFile } from 'node:child_process';
import { expect, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { CremaError } from '../../src/util/errors.js';

/** Runs `crema ...args` in this process: its exit code and what it printed to stdout and stderr. */
export async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await main(args);
    return { code, stdout: out.mock.calls.map((c) => c.join(' ')).join('\n'), stderr: err.mock.calls.map((c) => c.join(' ')).join('\n') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The CremaError message `fn` throws (fails the test if it throws anything else or nothing). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CremaError);
    return (e as Error).message;
  }
  throw new Error('expected a CremaError');
}

/**
 * Runs the built CLI (`bin/crema.js` under `root`; `npm run build` first, as `npm test` does) in a child process,
 * for output written to process.stdout; independent runs go in parallel (each spawn costs about a second on a busy machine).
 */
export function spawnCli(root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/crema.js', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}
