// FlowNet 2.0's deploy net run (flow.ts has what is computed around it, light enough for the page's types): the net
// checked for the images' size, predict_flow_final read back as H x W x 2, and FlowNets, the net kept per image size
// for run-flownet-many.py's lists (node.ts's loadFlow, the engine worker's Net.flow). Apart from flow.ts because it
// takes a Net: the browser entry's types export flow.ts's and must not reach the Node Net.
import type { OnnxSessions } from '../onnx/run.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { FLOW_BLOB, type Flow, fillFlowTemplate, isTemplate } from './flow.js';

/** What runs the net's forward: its inputs by name, the blobs wanted back. */
export type FlowForward = (net: Net, inputs: Record<string, Tensor>, outputs: string[]) => Promise<Tensor[]>;

/** A FlowForward through ONNX Runtime sessions (the Node library's and the browser worker's `backend: 'onnx'`). */
export const onnxFlowForward = (sessions: Pick<OnnxSessions, 'run'>): FlowForward => async (_, given, wanted) => {
  const got = await sessions.run(given, wanted);
  return wanted.map((w) => got.get(w)!);
};

const forwardNative: FlowForward = async (net, inputs, outputs) => {
  net.forward(inputs);
  return outputs.map((n) => net.blobs.get(n)!);
};

/** Refuses, naming `label`, a net that is not a FlowNet deploy net filled for h x w images. */
export function checkFlowNet(net: Net, h: number, w: number, label = `net '${net.name || 'net'}'`): void {
  if (net.inputs.length !== 2) throw new CremaError(`${label} has ${net.inputs.length} input(s); a FlowNet deploy net takes two images`);
  const want = net.shapes.get(net.inputs[0]) ?? [];
  if (want[2] !== h || want[3] !== w)
    throw new CremaError(`${label} is filled for ${want[3]} x ${want[2]} images (its input '${net.inputs[0]}'), the images are ${w} x ${h}: give the template (with $TARGET_WIDTH$ ...) or a net filled for their size`);
  const out = net.shapes.get(FLOW_BLOB);
  if (!out || out.length !== 4 || out[0] !== 1 || out[1] !== 2 || out[2] !== h || out[3] !== w)
    throw new CremaError(`${label} has no blob '${FLOW_BLOB}' of 1 x 2 x ${h} x ${w} (${out ? `it is ${out.join(' x ')}` : 'none'}): run-flownet.py takes the flow from it`);
}

/**
 * The flow of two images (flowInputs' tensors, in the order of the net's inputs) through a filled FlowNet deploy
 * net: predict_flow_final, 1 x 2 x H x W, as H x W x 2 (run-flownet.py's squeeze and transpose). `label` names the
 * net in errors (its file).
 */
export async function flowOfNet(net: Net, images: [Tensor, Tensor], run: FlowForward = forwardNative, label?: string): Promise<Flow> {
  const [h, w] = images[0].dims.slice(2);
  checkFlowNet(net, h, w, label);
  return flowOfCheckedNet(net, images, run);
}

/** flowOfNet for a net checkFlowNet has passed (loadFlow's runner checks it before it tells the net's notes). */
export async function flowOfCheckedNet(net: Net, images: [Tensor, Tensor], run: FlowForward = forwardNative): Promise<Flow> {
  const [h, w] = images[0].dims.slice(2);
  const [flow] = await run(net, { [net.inputs[0]]: images[0], [net.inputs[1]]: images[1] }, [FLOW_BLOB]);
  const plane = h * w, data = new Float32Array(2 * plane);
  for (let i = 0; i < plane; i++) {
    data[2 * i] = flow.data[i];
    data[2 * i + 1] = flow.data[plane + i];
  }
  return { width: w, height: h, data };
}

/** How a FlowNets loads a filled prototxt: its bytes (the filled text), a Net back, its errors naming the template (namingTemplate). */
export type FlowLoad = (prototxt: Uint8Array) => Promise<Net>;

/**
 * One FlowNet for many pairs of images, as FlowNet 2.0's scripts/run-flownet-many.py runs a list: the template
 * filled again only when the images' size changes (the script fills it then; it builds the net again for every pair
 * as well, which computes the same: crema keeps the net of the last size). A prototxt that is no template is loaded
 * once and takes images of its own size only (checkFlowNet). `load` names the template (`label`) and its line in
 * errors of the filled text (namingTemplate). Shared by the Node library (loadFlow, loading with loadFilled) and the
 * browser's engine worker.
 */
export class FlowNets {
  private readonly text: string;
  private readonly template: boolean;
  private current: { width: number; height: number; net: Net } | undefined;
  /** How many nets were loaded so far (the first one's notes are the ones to tell). */
  loaded = 0;

  constructor(
    private readonly given: Uint8Array,
    readonly label: string,
    private readonly load: FlowLoad,
    /** Called with the net a new size replaces, before it goes (its ONNX sessions released with it). */
    private readonly onReplace?: (net: Net) => Promise<void> | void,
  ) {
    this.text = new TextDecoder().decode(given);
    this.template = isTemplate(this.text);
  }

  /** The net for images of width x height: the last one when the size holds (or the prototxt is no template). */
  async netFor(width: number, height: number): Promise<Net> {
    const current = this.current;
    if (current && (!this.template || (current.width === width && current.height === height))) return current.net;
    if (current) {
      // the old size's net goes before the new one loads: one net's memory at a time
      this.current = undefined;
      await this.onReplace?.(current.net);
      await current.net.dispose();
    }
    const prototxt = this.template ? new TextEncoder().encode(fillFlowTemplate(this.text, width, height, this.label)) : this.given;
    const net = await this.load(prototxt);
    this.loaded++;
    this.current = { width, height, net };
    return net;
  }

  /** Releases the net (and, through onReplace, what goes with it). */
  async dispose(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (!current) return;
    await this.onReplace?.(current.net);
    await current.net.dispose();
  }
}
