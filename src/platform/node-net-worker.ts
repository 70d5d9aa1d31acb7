// A Node worker thread serving one net for Net.run (src/runtime/net-worker.ts), under the Node platform.
import { parentPort, workerData } from 'node:worker_threads';
import { type ToWorker, serveNet } from '../runtime/net-worker.js';
import { tellTemporaries } from '../util/files.js';
import './node.js';

tellTemporaries(workerData.temporaries); // its HDF5Output files: the main thread's signal cleanup removes them
const port = parentPort!;
const handle = serveNet((message, transfer) => port.postMessage(message, transfer));
port.on('message', (message: ToWorker) => handle(message));
