// The same app in strict TypeScript (tsconfig.json: strict): the library's types, no `any`.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CremaError, Net, type Tensor, convert } from 'crema-caffe';

const models = new URL('../node_modules/crema-caffe/models/cifar10_full/', import.meta.url);
const [prototxt, weights] = await Promise.all([readFile(new URL('deploy.prototxt', models)), readFile(new URL('weights.caffemodel', models))]);
const net: Net = await Net.load({ prototxt, weights });

const onnx: Uint8Array = await convert(net);
console.log(`onnx: ${onnx.byteLength} bytes`);

const server = http.createServer((_, res) => res.end('ok'));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const batch = 256;
const data = new Float32Array(batch * 3 * 32 * 32).map((_, i) => (i % 255) - 128);
let running = true;
let answered = 0;
const poll = (async () => {
  while (running) if ((await (await fetch(url)).text()) === 'ok') answered++;
})();
const outputs: Record<string, Tensor> = await net.run({ data: { dims: [batch, 3, 32, 32], type: 'float32', data } });
running = false;
await poll;
console.log(`run: prob [${outputs.prob.dims.join(', ')}]; the server answered ${answered} requests meanwhile`);

// A disposed net says so, as a typed error.
await net.dispose();
try {
  net.forward({ data });
} catch (err) {
  if (err instanceof CremaError) console.log(`after dispose: ${err.message} (${err.code})`);
}
server.close();
if (answered === 0) {
  console.error('the server did not answer during the run');
  process.exitCode = 1;
}
