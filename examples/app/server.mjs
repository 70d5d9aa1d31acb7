/* global fetch */
// crema-caffe as a library, in plain ESM: a shipped model loaded from bytes (as an upload or a bundled asset
// would come), an HTTP server on 127.0.0.1 that keeps answering while `await net.run` computes a batch, the
// net converted to ONNX through the library; then everything is closed and the process exits by itself.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { Net, convert } from 'crema-caffe';

const models = new URL('./node_modules/crema-caffe/models/cifar10_full/', import.meta.url);
const [prototxt, weights] = await Promise.all([readFile(new URL('deploy.prototxt', models)), readFile(new URL('weights.caffemodel', models))]);
const net = await Net.load({ prototxt, weights }); // bytes in: Buffers here; Uint8Array and ArrayBuffer work alike

// The ONNX model, through the library (before the first run hands the net to its worker thread).
const onnx = await convert(net);
console.log(`onnx: ${onnx.byteLength} bytes`);

const server = http.createServer((_, res) => res.end('ok'));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

// A batch of 256 images (a gradient; any CIFAR-10 sized data would do), run off the event loop's thread.
const batch = 256, data = new Float32Array(batch * 3 * 32 * 32).map((_, i) => (i % 255) - 128);
let running = true, answered = 0;
const poll = (async () => {
  while (running) if ((await (await fetch(url)).text()) === 'ok') answered++;
})();
const { prob } = await net.run({ data: { dims: [batch, 3, 32, 32], type: 'float32', data } });
running = false;
await poll;
console.log(`run: prob [${prob.dims.join(', ')}]; the server answered ${answered} requests meanwhile`);

await net.dispose();
server.close();
if (answered === 0) {
  console.error('the server did not answer during the run');
  process.exitCode = 1;
}
