// SPDX-License-Identifier: MIT
// The local page of `blasnet serve`: draw a digit, and the network, exported to ONNX,
// classifies it in the browser with onnxruntime-web (WebAssembly). Everything the page loads
// comes from this server: the page, the model, and onnxruntime-web's files from
// node_modules. It listens on the loopback address only and answers only requests made to it
// by that name (a page elsewhere cannot reach it through a rebound DNS name).
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { AddressInfo } from 'net';
import { describe, expectInt, readOptions } from '../core/errors';
import { packageRoot } from '../core/paths';
import { onnxModel, OnnxModelInfo } from '../io/onnx';
import type { Sequential } from '../nn/network';

/** The onnxruntime-web version the page is written and tested against. */
export const ONNXRUNTIME_WEB_VERSION = '1.30.0';

/** onnxruntime-web's files the page needs: its WebAssembly build (no WebGPU/WebGL). */
const ORT_FILES: Record<string, string> = {
  'ort.wasm.min.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};

const PAGE_FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** Nothing from elsewhere, no inline script; WebAssembly compiled from the served .wasm. */
const CSP = [
  "default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "style-src 'self'",
  "img-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export interface ServeOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
}

export interface DigitServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  /** What the served model holds (input shape, classes, operators). */
  info: OnnxModelInfo;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** The folder of onnxruntime-web's dist files, or an Error saying how to install it. */
export function onnxruntimeWebDir(): string {
  let entry: string;
  try {
    entry = require.resolve('onnxruntime-web');
  } catch {
    throw new Error(`blasnet serve: the page runs the model with the npm package onnxruntime-web, which is not installed; `
      + `install it with: npm install onnxruntime-web@${ONNXRUNTIME_WEB_VERSION}`);
  }
  const dir = path.dirname(entry);
  for (const name of Object.keys(ORT_FILES)) {
    if (!fs.existsSync(path.join(dir, name))) {
      throw new Error(`blasnet serve: onnxruntime-web at ${path.dirname(dir)} has no ${name}; install version ${ONNXRUNTIME_WEB_VERSION}`);
    }
  }
  return dir;
}

/**
 * Starts the drawing page for `net` on 127.0.0.1 and resolves once it listens. The network
 * must take one 28x28 image: input [1, 28, 28] or [784].
 * @example
 *   const server = await serveDigits(loadNetwork('model.safetensors'));
 *   console.log(server.url);   // open it in a browser; server.close() to stop
 */
export async function serveDigits(net: Sequential, options?: ServeOptions): Promise<DigitServer> {
  const fn = 'serveDigits';
  const o = readOptions(fn, options, ['port']);
  const port = expectInt(fn, 'port', o.port ?? 0, 0);
  if (port > 65535) throw new RangeError(`${fn}: port must be an integer in [0, 65535], got ${describe(port)}`);
  const { bytes, info } = onnxModel(net);
  const shape = info.inputShape.join(',');
  if (shape !== '1,28,28' && shape !== '784') {
    throw new RangeError(`${fn}: the page draws 28x28 digits; this network takes [${info.inputShape.join(', ')}] per sample, not [1, 28, 28] or [784]`);
  }
  const ortDir = onnxruntimeWebDir();
  const pageDir = path.join(packageRoot(), 'lib', 'serve', 'page');
  const model = Buffer.from(bytes);
  const meta = Buffer.from(JSON.stringify({
    kind: String(net.config.kind ?? 'Sequential'), inputShape: info.inputShape, classes: info.classes, operators: info.operators,
  }));

  let allowedHosts = new Set<string>();
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: Buffer | string): void => {
      res.writeHead(status, {
        'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store',
        'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Resource-Policy': 'same-origin',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!allowedHosts.has(String(req.headers.host ?? '').toLowerCase())) {
      send(403, 'text/plain; charset=utf-8', 'blasnet serve answers only to 127.0.0.1 and localhost\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
      return;
    }
    const url = (req.url ?? '/').split('?')[0];
    try {
      if (url === '/model.onnx') return send(200, 'application/octet-stream', model);
      if (url === '/model.json') return send(200, 'application/json; charset=utf-8', meta);
      const page = PAGE_FILES[url];
      if (page) return send(200, page[1], fs.readFileSync(path.join(pageDir, page[0])));
      if (url.startsWith('/ort/')) {
        const name = url.slice('/ort/'.length);
        // Only the listed file names: never a path from the request.
        if (Object.prototype.hasOwnProperty.call(ORT_FILES, name)) return send(200, ORT_FILES[name], fs.readFileSync(path.join(ortDir, name)));
      }
      send(404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (err) {
      send(500, 'text/plain; charset=utf-8', `${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      reject(err.code === 'EADDRINUSE'
        ? new Error(`${fn}: port ${port} on 127.0.0.1 is in use; choose another (the command's --port; 0 picks a free one)`)
        : err);
    };
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => { server.off('error', failed); resolve(); });
  });
  const actual = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${actual}`, `localhost:${actual}`]);
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    info,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
