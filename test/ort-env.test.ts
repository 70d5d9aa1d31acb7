// ONNX Runtime's environment, as crema starts it: its start-up warnings kept off stderr (errors still pass), an app's
// own log level kept.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadOrt } from '../src/onnx/ort.js';

const root = path.resolve(import.meta.dirname, '..');

describe("ONNX Runtime's environment", () => {
  it("logs errors only where the app chose no level (ONNX Runtime's default 'warning')", async () => {
    expect(ort.env.logLevel).toBe('warning');
    await loadOrt();
    expect(ort.env.logLevel).toBe('error');
  });

  it('an app that chose another level keeps it', () => {
    const script = `import * as ort from 'onnxruntime-node'; import { loadOrt } from './dist/onnx/ort.js';
ort.env.logLevel = 'verbose'; await loadOrt(); console.log(ort.env.logLevel);`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })).toBe('verbose\n');
  });

  it('crema verify prints no warning of its start where HOME is not writable (1.31: "Failed to persist telemetry device ID")', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-home-'));
    const home = path.join(dir, 'not-a-directory'); // as a Docker user's HOME=/nonexistent: nothing can be made in it
    fs.writeFileSync(home, '');
    const m = 'models/lenet';
    const r = spawnSync(process.execPath, ['bin/crema.js', 'verify', `${m}/deploy.prototxt`, `${m}/weights.caffemodel`], { cwd: root, encoding: 'utf8', env: { ...process.env, HOME: home } });
    fs.rmSync(dir, { recursive: true, force: true });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^verify: PASS: all 8 blobs within tolerance 0\.0001 \(native vs onnx\)$/m);
  });
});
