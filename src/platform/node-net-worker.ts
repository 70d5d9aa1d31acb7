// A Node worker thread serving one net for Net.run (src/runtime/net-worker.ts), under the Node platform.
import { parentPort } from 'node:worker_threads';
import { type ToWorker, serveNet } from '../runtime/net-worker.js';
import './node.js';

const port = parentPort!;
const handle = serveNet((message, transfer) => port.postMessage(message, transfer));
port.on('message', (message: ToWorker) => handle(message));
