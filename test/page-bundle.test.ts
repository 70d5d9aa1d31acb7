// The browser's page-side module (dist/browser/crema.js) stays small: the engine (layers, the ONNX writer, the
// prototxt reader and protobufjs) is the worker's, loaded there. A page-side import of one name from a layer's
// module (verify's DETECTION_TYPES) once pulled them all in: 46 kB gzipped where the README says 7.
import path from 'node:path';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the page-side module', () => {
  it('holds no layer, no ONNX or prototxt code and no protobufjs (the worker has them)', async () => {
    const out = path.resolve('test-page-bundle');
    const result = await esbuild.build({
      entryPoints: { crema: 'src/browser/index.ts' }, bundle: true, format: 'esm', platform: 'browser', splitting: true,
      outdir: out, write: false, metafile: true, logLevel: 'silent', loader: { '.proto': 'text' },
      external: ['onnxruntime-web', 'onnxruntime-web/*', 'h5wasm', 'node:*', 'fs', 'path'],
    });
    const page = result.metafile.outputs[path.relative(process.cwd(), path.join(out, 'crema.js'))];
    // The entry's own output and the chunks it imports statically (dynamic imports load only when used).
    const files = new Set<string>(), visit = (key: string) => {
      if (files.has(key)) return;
      files.add(key);
      for (const i of result.metafile.outputs[key].imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
    };
    visit(path.relative(process.cwd(), path.join(out, 'crema.js')));
    expect(page).toBeDefined();
    const inputs = [...files].flatMap((key) => Object.keys(result.metafile.outputs[key].inputs));
    expect(inputs.length).toBeGreaterThan(5);
    expect(inputs.filter((f) => /^src\/(layers|onnx|caffe|runtime\/net)|protobufjs/.test(f))).toEqual([]);
  });

  it("exports parseLabels, which detect's refusal of labels that are no array names (as the Node library's)", async () => {
    const result = await esbuild.build({
      entryPoints: ['src/browser/index.ts'], bundle: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent',
      loader: { '.proto': 'text' }, external: ['onnxruntime-web', 'onnxruntime-web/*', 'h5wasm', 'node:*', 'fs', 'path'], outfile: 'test-page-bundle/crema.js',
    });
    expect(Object.values(result.metafile.outputs).flatMap((o) => o.exports)).toContain('parseLabels');
    const { checkDetectOptions } = await import('../src/detect/options.js');
    expect(() => checkDetectOptions({ labels: 'background\ncat' as unknown as string[] })).toThrow('(parseLabels(text) reads a labels file\'s)');
  });
});
