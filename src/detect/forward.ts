// What runs a net's forward for the task pipelines (MTCNN, OpenPose, FCN, HED): crema's engine, or a net's ONNX
// Runtime sessions (onnxruntime-node's or -web's), behind one signature, so that each pipeline is one piece of code
// for both backends and both platforms.
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';

/** What runs a net's forward: its input, and the blobs `outputs` names, in that order (copies: kept across forwards). */
export type Forward = (net: Net, input: Tensor, outputs: string[]) => Promise<Tensor[]>;

/** crema's engine, on the caller's thread. */
export const forwardNative: Forward = async (net, input, outputs) => {
  const out = net.forward({ [net.inputs[0]]: input });
  return outputs.map((n) => {
    const t = out[n] ?? net.blobs.get(n)!;
    return new Tensor(t.dims, t.data.slice());
  });
};

type Sessions = { run(inputs: Record<string, Tensor>, wanted: string[]): Promise<Map<string, Tensor>> };

/** A Forward through a net's ONNX Runtime sessions (converted again for a new input size). */
export function onnxForwardOf(sessions: Sessions): Forward {
  return async (net, input, outputs) => {
    const got = await sessions.run({ [net.inputs[0]]: input }, outputs);
    return outputs.map((n) => got.get(n)!);
  };
}

/** A Forward through each net's own ONNX Runtime sessions (MTCNN's nets: one set a net). */
export function onnxForwardEach(sessions: Map<Net, Sessions>): Forward {
  return (net, input, outputs) => onnxForwardOf(sessions.get(net)!)(net, input, outputs);
}
