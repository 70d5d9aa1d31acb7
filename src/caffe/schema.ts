import protobuf from 'protobufjs';
import { platform } from '../platform.js';
import type { LayerParameter } from './types.js';
import type { Message } from './message.js';

const roots = new Map<string, protobuf.Root>();

/**
 * A schema of proto/ (caffe.proto; onnx.proto, the ONNX writer's), parsed once, field names kept as written. The text
 * comes from the platform (the package's file, or bundled): no file access here.
 */
export function protoSchema(name: 'caffe.proto' | 'onnx.proto'): protobuf.Root {
  let root = roots.get(name);
  if (!root) {
    root = protobuf.parse(platform().protoText(name), new protobuf.Root(), { keepCase: true }).root;
    root.resolveAll();
    roots.set(name, root);
  }
  return root;
}

/** The caffe.proto schema (package `caffe`). */
export function caffeSchema(): protobuf.Root {
  return protoSchema('caffe.proto');
}

export function messageType(name: string): protobuf.Type {
  return caffeSchema().lookupType(name.includes('.') ? name : `caffe.${name}`);
}

/** A field's default as the readers give values: enums by name, repeated as [], messages undefined. */
function fieldDefault(field: protobuf.Field): unknown {
  field.resolve();
  if (field.repeated) return [];
  if (field.resolvedType instanceof protobuf.Type) return undefined;
  if (field.resolvedType instanceof protobuf.Enum) {
    const value = field.defaultValue ?? field.typeDefault;
    return typeof value === 'string' ? value : field.resolvedType.valuesById[value as number];
  }
  const value = field.defaultValue;
  if (value && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return value;
}

const defaultsCache = new Map<string, Message>();

/** The message with every unset scalar field filled in with its proto2 default. */
export function withDefaults<T extends Message = Message>(typeName: string, msg: Message | undefined): T {
  let defaults = defaultsCache.get(typeName);
  if (!defaults) {
    defaults = {};
    for (const field of messageType(typeName).fieldsArray) {
      const value = fieldDefault(field);
      if (value !== undefined) defaults[field.name] = value;
    }
    defaultsCache.set(typeName, defaults);
  }
  const out: Message = {};
  for (const [k, v] of Object.entries(defaults)) out[k] = Array.isArray(v) ? [] : v;
  return Object.assign(out, msg ?? {}) as T;
}

/**
 * A layer's parameter message (e.g. `paramsOf(def, 'lrn_param')`) with Caffe's defaults filled in,
 * so that layer code reads `p.local_size` and gets 5 when the prototxt leaves it out.
 */
export function paramsOf<T extends Message = Message>(def: LayerParameter, field: string): T {
  const f = messageType('LayerParameter').fields[field];
  if (!f) throw new Error(`LayerParameter has no field ${field}`);
  f.resolve();
  return withDefaults<T>(f.resolvedType!.fullName.slice(1), def[field] as Message | undefined);
}
