// `crema run --json`: one object, the outputs' shapes and a classifier's top classes (README's cat).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const m = 'models/cifar10_full';
describe('crema run --json', () => {
  it("prints the outputs and top classes as one JSON object", () => {
    const r = spawnSync('node', ['bin/crema.js', 'run', `${m}/deploy.prototxt`, `${m}/weights.caffemodel`, '--input', `${m}/examples/cat.jpg`,
      '--channel-swap', '0,1,2', '--mean', '125,123,114', '--json', '--top', '2'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Probabilities to 5 decimals: the last printed digit moves with the kernels' float32 rounding (Winograd or im2col).
    const top = [{ index: 3, label: 'cat', prob: expect.closeTo(0.582006, 5) }, { index: 5, label: 'dog', prob: expect.closeTo(0.332817, 5) }];
    expect(JSON.parse(r.stdout)).toEqual({ outputs: [{ blob: 'prob', shape: [1, 10], top: [top] }] });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });
});
