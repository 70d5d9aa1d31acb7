// The page's local server (`crema ui`): the built page (dist/web) and the shipped models (models/), on 127.0.0.1
// only, cross-origin isolated (COOP + COEP) so that the engine's worker threads can share the kernels' memory;
// onnxruntime-web's files at /ort/ and h5wasm's ESM build at /h5wasm/ when they are installed.
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CremaError } from '../util/errors.js';

/** The package root: dist/ and models/ sit there, two levels up from both src/web and dist/web. */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.prototxt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

export interface UiOptions {
  /** 0 picks a free port. */
  port?: number;
  /** The page's files (default: dist/web of the package). */
  page?: string;
  /** The models offered (default: models/ of the package). */
  models?: string;
  /** More directories to serve, by URL prefix ('/bench/' -> DIR), e.g. a benchmark's model files. */
  mounts?: Record<string, string>;
  /** Cross-origin isolation headers (default true): without them the engine runs on one thread, as on most hosts. */
  isolated?: boolean;
}

/** onnxruntime-web's files (an optional peer: the page's ONNX backend and verify), or undefined when not installed. */
function onnxRuntimeDir(): string | undefined {
  try {
    return path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'));
  } catch {
    return undefined;
  }
}

/** h5wasm's ESM build (an optional peer: HDF5 weights in the page), or undefined when not installed. */
function h5wasmDir(): string | undefined {
  try {
    return path.dirname(fileURLToPath(import.meta.resolve('h5wasm'))); // its exports have an 'import' condition only
  } catch {
    return undefined;
  }
}

/** The file a request path names under `dir`, or undefined when it would leave it (`..`, absolute, NUL). */
function within(dir: string, rel: string): string | undefined {
  if (rel.includes('\0')) return undefined;
  const file = path.resolve(dir, `.${path.posix.normalize(`/${rel}`)}`);
  return file === dir || file.startsWith(dir + path.sep) ? file : undefined;
}

function fileFor(urlPath: string, page: string, mounts: [string, string][]): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return undefined;
  }
  if (rel === '/') rel = '/index.html';
  const mount = mounts.find(([prefix]) => rel.startsWith(prefix));
  return mount ? within(mount[1], rel.slice(mount[0].length)) : within(page, rel.slice(1));
}

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

function serve(req: http.IncomingMessage, res: http.ServerResponse, page: string, mounts: [string, string][], isolated: boolean): void {
  const headers = { ...(isolated ? ISOLATION : {}), 'Cache-Control': 'no-cache' };
  const file = req.method === 'GET' || req.method === 'HEAD' ? fileFor(req.url ?? '/', page, mounts) : undefined;
  const stat = file ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
  if (!file || !stat?.isFile()) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': stat.size });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

/** Starts the server on 127.0.0.1; resolves with its URL once it listens. */
export async function startUiServer(options: UiOptions = {}): Promise<UiServer> {
  const page = path.resolve(options.page ?? path.join(ROOT, 'dist/web'));
  const ort = onnxRuntimeDir(), h5 = h5wasmDir();
  const mounts = Object.entries({ '/models/': options.models ?? path.join(ROOT, 'models'), ...(ort ? { '/ort/': ort } : {}), ...(h5 ? { '/h5wasm/': h5 } : {}), ...options.mounts }).map(([p, dir]): [string, string] => [p, path.resolve(dir)]);
  if (!fs.existsSync(path.join(page, 'index.html'))) throw new CremaError(`${page}: the page is not built (npm run build)`);
  const server = http.createServer((req, res) => serve(req, res, page, mounts, options.isolated ?? true));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new CremaError(`port ${options.port} is in use: choose another with --port`) : new CremaError(`cannot listen on 127.0.0.1:${options.port}: ${err.message}`)),
    );
    server.listen(options.port ?? 8080, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive connections of an open page would hold it
      }),
  };
}
