// A CPU-bound process on one core: goal 3's load, started by the benchmarks themselves. It ends when the process
// that started it does, however that ends: killed mid-run (Ctrl-C, a timeout, a closed pipe), a hog left behind
// would take a core from every later measurement (round fourteen's first end run was timed beside one).
import { spawn } from 'node:child_process';

/** The hog's loop: every ~50 M steps it checks that its parent still exists, and exits when it does not. */
const source = (parent) => `for (let i = 1; ; i++) if (i % 5e7 === 0) { try { process.kill(${parent}, 0); } catch { process.exit(0); } }`;

/** Starts the hog (kill() it when done; it also dies with this process). */
export function startHog() {
  const hog = spawn(process.execPath, ['-e', source(process.pid)], { stdio: 'ignore' });
  process.on('exit', () => hog.kill());
  return hog;
}
