// A fixture's net run from dist/ in a child process (the kernels' engine, its build and CREMA_WINOGRAD are
// process-wide): its blobs against Caffe's as `differences` (test/helpers/depthwise.ts) judges them.
import { execFileSync } from 'node:child_process';

/**
 * Loads DIR/net.prototxt with DIR/weights.caffemodel at 1 and 2 threads under `env`, forwards DIR/input.npy and
 * compares each of `blobs` with DIR/blobs/<blob>.npy: NaN for NaN, the same infinity and the same zero (sign
 * included), the rest within `tol` of max(1, |Caffe's|) (0: the same bits). The build that ran, and the first
 * five values that differ ("threads blob[i] got not want").
 */
export function childDifferences(dir: string, blobs: string[], tol: number, env: Record<string, string>): { build: string; differ: string[] } {
  const script = `
    await import('./dist/platform/node.js');
    const { Net } = await import('./dist/index.js');
    const { wasmBuild } = await import('./dist/kernels/wasm.js');
    const { readNpy } = await import('./dist/util/npy.js');
    const dir = ${JSON.stringify(dir)}, tol = ${tol}, differ = [], show = (v) => (Object.is(v, -0) ? '-0' : String(v));
    for (const threads of [1, 2]) {
      const net = await Net.load(dir + '/net.prototxt', dir + '/weights.caffemodel', { threads });
      net.forward({ data: readNpy(dir + '/input.npy') });
      for (const b of ${JSON.stringify(blobs)}) {
        const got = net.blobs.get(b).data, want = readNpy(dir + '/blobs/' + b + '.npy').data;
        for (let i = 0; i < want.length && differ.length < 5; i++) {
          const g = got[i], w = want[i];
          const same = Number.isNaN(w) || w === 0 || !Number.isFinite(w) ? Object.is(g, w) : Math.abs(g - w) <= tol * Math.max(1, Math.abs(w));
          if (!same) differ.push(threads + ' ' + b + '[' + i + '] ' + show(g) + ' not ' + show(w));
        }
      }
    }
    console.log(JSON.stringify({ build: wasmBuild(), differ }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CREMA_KERNELS: '', ...env }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as { build: string; differ: string[] };
}
