// The plugin API: layer types from outside crema (Caffe's Python layers, a fork's C++ layers), registered by
// the library's `registerLayer` or loaded from a module by `--plugin FILE.js` / `Net.load(…, { plugins })`.
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { CremaError } from '../util/errors.js';
import { type Layer, LayerError, type LayerType } from './layer.js';

/** A plugin's error as one line naming the plugin and the layer; crema's own errors pass through. */
function pluginError(def: { name: string; type: string }, source: string, err: unknown): CremaError {
  if (err instanceof CremaError) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new LayerError(def, `the plugin ${source} threw: ${message.split('\n')[0]}`);
}

/** Calls `fn`, turning what a plugin throws into a one-line LayerError. */
function guarded<T>(def: { name: string; type: string }, source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw pluginError(def, source, err);
  }
}

/** Checks a plugin's layer type and wraps it so that whatever it throws names the plugin and the layer. */
export function pluginLayerType(t: unknown, source: string): LayerType {
  const o = t as Partial<LayerType> | null;
  if (!o || typeof o !== 'object' || typeof o.type !== 'string' || !o.type || typeof o.create !== 'function')
    throw new CremaError(`${source}: a layer type is an object { type: 'Name', create(def, weights) { return { reshape, forward } }, onnx? }`);
  if (o.onnx !== undefined && typeof o.onnx !== 'function') throw new CremaError(`${source}: layer type '${o.type}': onnx must be a function (LayerContext) => void`);
  const { type, create, onnx } = o as LayerType;
  const wrapped: LayerType = {
    type,
    create(def: LayerParameter, weights, net) {
      const layer = guarded(def, source, () => create(def, weights, net));
      if (!layer || typeof layer.reshape !== 'function' || typeof layer.forward !== 'function')
        throw new LayerError(def, `the plugin ${source}: create() must return an object with reshape(bottomShapes) and forward(bottoms, tops)`);
      return guardedLayer(def, source, layer);
    },
  };
  if (onnx) wrapped.onnx = (c: LayerContext) => guarded(c.layer.def, source, () => onnx(c));
  return wrapped;
}

function guardedLayer(def: LayerParameter, source: string, layer: Layer): Layer {
  return {
    inPlace: layer.inPlace,
    sizesTops: layer.sizesTops === true,
    sink: layer.sink === true,
    mostTops: layer.mostTops && ((b) => guarded(def, source, () => layer.mostTops!(b))),
    reshape: (bottoms) => {
      const tops = guarded(def, source, () => layer.reshape(bottoms));
      if (!Array.isArray(tops) || !tops.every((s) => Array.isArray(s)))
        throw new LayerError(def, `the plugin ${source}: reshape() must return one shape (an array of dims) per top`);
      return tops;
    },
    forward: (bottoms, tops) => guarded(def, source, () => layer.forward(bottoms, tops)),
    macs: layer.macs && ((b, t) => guarded(def, source, () => layer.macs!(b, t))),
  };
}

/** How a plugin file becomes a module: set by the platform that has files (src/platform/node.ts). */
let importModule: ((file: string) => Promise<Record<string, unknown>>) | undefined;
export function setPluginImporter(f: (file: string) => Promise<Record<string, unknown>>): void {
  importModule = f;
}

/**
 * Imports plugin modules (each exports, as `default` or `layers`, a layer type or an array of them) and registers
 * their layer types. A module that cannot be imported or exports no layer type is a one-line CremaError naming it.
 */
export async function loadPlugins(files: readonly string[], register: (t: LayerType, source: string) => void): Promise<void> {
  for (const file of files) {
    if (!importModule) throw new CremaError(`options.plugins ${file}: this platform loads no plugin files; register the layer type with registerLayer`);
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(file);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // The file's own problem (`FILE: no such file`, ...), said as every file a user names says it.
      if (err instanceof CremaError && message.startsWith(`${file}: `)) throw new CremaError(`options.plugins ${message}`);
      throw new CremaError(`options.plugins ${file}: cannot load it: ${message.split('\n')[0]}`);
    }
    const exported = mod.default ?? mod.layers;
    const types = Array.isArray(exported) ? exported : exported === undefined ? [] : [exported];
    if (!types.length) throw new CremaError(`options.plugins ${file}: exports no layer type (export default { type, create } or an array of them)`);
    for (const t of types) register(t as LayerType, file);
  }
}
