/**
 * A static file server on 127.0.0.1 for checks that load a web app from a folder (e.g. Inspect's log viewer in
 * its static-bundle mode): GET and HEAD, single byte ranges (`Range: bytes=a-b`, `a-`, `-n`, answered 206 with
 * Content-Range; the viewer reads `.eval` zips by range), 416 for a range outside the file, 404 for anything
 * missing or outside the root. Every request is recorded, for the check to report what the app fetched.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.eval': 'application/zip',
};

export interface ServedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
}

export interface StaticServer {
  url: string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

/** Parses one `bytes=` range against a file of `size` bytes: [start, end] inclusive, 'unsatisfiable', or null (ignore: serve whole). */
export function parseByteRange(header: string, size: number): [number, number] | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return [start, end];
}

export function startStaticServer(root: string): Promise<StaticServer> {
  const absRoot = path.resolve(root);
  const requests: ServedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const record = (status: number) => requests.push({ method, path: urlPath, ...(req.headers.range ? { range: req.headers.range } : {}), status });
    if (method !== 'GET' && method !== 'HEAD') {
      record(405);
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let file = path.join(absRoot, urlPath);
    if (file !== absRoot && !file.startsWith(absRoot + path.sep)) {
      record(404);
      res.writeHead(404).end();
      return;
    }
    let size: number;
    try {
      let st = statSync(file);
      if (st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = statSync(file);
      }
      size = st.size;
    } catch {
      record(404);
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(method === 'HEAD' ? undefined : `Not found: ${urlPath}`);
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
    };
    const range = req.headers.range ? parseByteRange(req.headers.range, size) : null;
    if (range === 'unsatisfiable') {
      record(416);
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const [start, end] = range ?? [0, size - 1];
    const status = range ? 206 : 200;
    record(status);
    res.writeHead(status, { ...headers, 'Content-Length': size === 0 ? 0 : end - start + 1, ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}) });
    if (method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
