import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * vitest's global setup: every test file (and every process a test starts) makes its temporary files under one
 * directory of this run — os.tmpdir() reads TMPDIR — and the run removes it at the end, so a run leaves nothing
 * in /tmp. CREMA_KEEP_TMP=1 keeps it (its path is printed) for looking at what a failing test wrote.
 */
export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (process.env.CREMA_KEEP_TMP) console.log(`crema tests: temporary files kept in ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  };
}
