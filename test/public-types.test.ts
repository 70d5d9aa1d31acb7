// The public types (the .d.ts `npm run build` emits for the package's entries, and every file they reach): no
// `any`, and no internals (the net's graph, layer implementations, the worker protocol, the platform seam). Those
// are marked @internal and stripped from the declarations (tsconfig.build.json: stripInternal); the code that
// needs them (the browser entry, bench scripts, tests) imports src/ or dist/ modules, not the public types.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const dist = path.resolve(import.meta.dirname, '../dist');

/** Each .d.ts reachable from `entry` through relative imports, with its text (comments removed). */
function declarations(entry: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    files.set(file, text);
    for (const m of text.matchAll(/(?:from\s+|import\(|import\s+)['"](\.[^'"]+)['"]/g)) visit(path.resolve(path.dirname(file), m[1].replace(/\.js$/, '.d.ts')));
  };
  visit(path.join(dist, entry));
  return files;
}

/** The lines of `files` that use `any`. */
const anyLines = (files: Map<string, string>): string[] =>
  [...files].flatMap(([file, text]) => text.split('\n').filter((l) => /\bany\b/.test(l)).map((l) => `${path.relative(dist, file)}: ${l.trim()}`));

function loaded(entry: string): Map<string, string> {
  if (!fs.existsSync(path.join(dist, entry))) throw new Error('dist/ is missing: run `npm run build` first');
  return declarations(entry);
}

describe.each(['index.d.ts', 'core.d.ts'])('the public types of %s', (entry) => {
  let files: Map<string, string>;
  beforeAll(() => void (files = loaded(entry)));

  it('have no any', () => {
    expect(anyLines(files)).toEqual([]);
  });

  it('need no DOM or WebAssembly types (an app with lib ES2023 and @types/node, skipLibCheck off: index.d.ts\'s import of the Node platform reached its WebAssembly.Module)', () => {
    const uses = [...files].filter(([, text]) => /\bWebAssembly\.|\bOffscreenCanvas\b|\bImageBitmap\b/.test(text)).map(([file]) => path.relative(dist, file));
    expect(uses).toEqual([]);
  });

  it("import none of the optional peers' types (an app without onnxruntime-node or h5wasm installed: run.d.ts's layoutOptions once named onnxruntime-node's SessionOptions)", () => {
    const peers = [...files].filter(([, text]) => /from '(onnxruntime-node|onnxruntime-web|onnxruntime-common|h5wasm)'/.test(text)).map(([file]) => path.relative(dist, file));
    expect(peers).toEqual([]);
  });

  it('show no internals: the graph, layer implementations, the worker protocol, the platform seam', () => {
    const all = [...files.values()].join('\n');
    const net = files.get(path.join(dist, 'runtime/net.d.ts'))!;
    expect(net).toMatch(/declare class Net \{/);
    expect(net).not.toMatch(/\breadonly graph\b|\bfromNetParameter\b|\bcheckWeights\b/);
    expect(files.get(path.join(dist, 'graph/graph.d.ts'))).not.toMatch(/\bimpl: Layer\b/);
    // LoadOptions holds the public options only: crema's own hooks (dialectOf, into) are LoadHooks, stripped
    expect(files.get(path.join(dist, 'caffe/load.d.ts'))).toMatch(/interface LoadOptions \{[^}]*\bdialect\?: Dialect;[^}]*\}/);
    expect(all).not.toMatch(/\bdialectOf\b|\bLoadHooks\b|\bstatic open\b/);
    for (const name of ['serveNet', 'setPlatform', 'convertGraph', 'ToWorker', 'FromWorker']) expect(files.get(path.join(dist, entry))).not.toMatch(new RegExp(`\\b${name}\\b`));
    // The plugin API stays public and typed.
    expect(all).toMatch(/export declare function registerLayer\(type: LayerType\b/);
    expect(files.get(path.join(dist, 'layers/layer.d.ts'))).toMatch(/create\(def: LayerParameter, weights: Tensor\[\], net\?: NetContext\): Layer;/);
  });
});

// A bundler resolving 'crema-caffe' for the browser (the `browser` condition) gets the browser entry's own types,
// not the Node entry's (paths, Node streams): the same checks on them.
describe('the public types of the browser entry', () => {
  const entry = 'browser/types/browser/index.d.ts';
  let files: Map<string, string>;
  beforeAll(() => void (files = loaded(entry)));

  it('are what the package exports to the browser condition, with no any and no internals', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dist, '../package.json'), 'utf8'));
    expect(pkg.exports['.'].browser).toEqual({ types: `./dist/${entry}`, default: './dist/browser/crema.js' });
    expect(anyLines(files)).toEqual([]);
    const index = files.get(path.join(dist, entry))!;
    expect(index).toMatch(/export declare class Net \{/);
    for (const name of ['serveNet', 'setPlatform', 'convertGraph', 'ToWorker', 'FromWorker', 'readonly graph']) expect(index).not.toMatch(new RegExp(`\\b${name}\\b`));
    // Detection, as the Node entry's: Net.detect and its types (from detect/options.ts, which reaches no Node Net).
    expect(index).toMatch(/export type \{[^}]*\bDetection, DetectOptions\b[^}]*\}/);
    expect(index).toMatch(/detect\(image: FloatImage \| Blob \| ArrayBuffer \| Uint8Array, options\?: DetectOptions\): Promise<Detection\[\]>;/);
  });

  it('do not reach the Node Net (verify/blobs.ts\'s compareBlobs took it, and its Symbol.asyncDispose, into a page\'s lib ES2022 + DOM)', () => {
    expect([...files.keys()].map((f) => path.relative(dist, f)).filter((f) => f.includes('runtime/'))).toEqual([]);
    expect([...files.values()].filter((text) => /\basyncDispose\b/.test(text))).toEqual([]);
  });
});

// Every image-taking function of the Node entry reads a file: URL as loadImage does (resolveSource); its types say so.
describe('the image-taking functions of the Node entry, as an app typechecks its calls', () => {
  it('take a file: URL wherever they take a path (their types said string | Bytes), and still refuse a number', async () => {
    const { default: ts } = await import('typescript');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-types-')), file = path.join(dir, 'app.ts');
    fs.writeFileSync(file, `import { type Net, type MtcnnNets, classify, colorize, detect, detectFaces, detectPoses, disparity, edges, flow, imageInput, loadFlow, loadImage, segment } from ${JSON.stringify(path.join(dist, 'index.js'))};
declare const net: Net, nets: MtcnnNets;
const url = new URL('file:///tmp/cat.jpg');
export const calls = [classify(net, [url, 'cat.jpg', new Uint8Array(0)]), detect(net, url), colorize(net, url), detectPoses(net, url), segment(net, url),
  edges(net, url), flow('t.prototxt', undefined, url, url), disparity('t.prototxt', undefined, url, url), detectFaces(nets, url),
  loadFlow('t.prototxt', undefined).flow(url, url), loadImage(url), imageInput(url, [1, 3, 2, 2])];
// @ts-expect-error a number is no image
export const refused = detect(net, 42);
`);
    try {
      const program = ts.createProgram([file], { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: ['node'] });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(errors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
