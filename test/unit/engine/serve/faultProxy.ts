/**
 * A fault proxy for tests: an HTTP server on 127.0.0.1 in front of an OpenAI-compatible server (here a real
 * `organism-lab serve`). For each request a plan decides: forward it ('pass'), answer with a status and body
 * of its own (429 with Retry-After, 503, a garbage 200 body), forward another body (a parameter dropped), or
 * 'hang' (never answer). When the upstream
 * server cannot be reached (killed), the client's connection is destroyed, as a dead server's would be.
 * Every request is logged with what was done and the upstream status.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** 'pass': forward as is; { forward }: forward this JSON body instead (a server that drops a parameter); 'hang'; or answer with { status, body }. */
export type FaultAction = 'pass' | 'hang' | { forward: unknown } | { status: number; headers?: Record<string, string>; body: string };

export interface ProxyLogEntry {
  n: number;
  path: string;
  model: string | null;
  action: 'pass' | 'rewrite' | 'hang' | 'reply' | 'upstream-down';
  /** The status sent to the client (undefined when hung or reset). */
  status?: number;
}

export interface FaultProxy {
  baseUrl: string;
  log: ProxyLogEntry[];
  /** What to do with request n (1-based); may wait (e.g. for a server to be killed) before saying. */
  plan: (n: number, req: { path: string; model: string | null; body: any }) => FaultAction | Promise<FaultAction>;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = { baseUrl: '', log: [], plan: () => 'pass', close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let model: string | null = null;
      let json: any = null;
      try {
        json = JSON.parse(body.toString('utf8'));
        model = (json as { model?: string }).model ?? null;
      } catch {
        /* not JSON: no model */
      }
      const n = proxy.log.length + 1;
      const path = req.url ?? '/';
      const entry: ProxyLogEntry = { n, path, model, action: 'pass' };
      proxy.log.push(entry);
      void Promise.resolve(proxy.plan(n, { path, model, body: json })).then((action) => act(action, entry, body, req, res));
    });
  });
  const act = (action: FaultAction, entry: ProxyLogEntry, received: Buffer, req: http.IncomingMessage, res: http.ServerResponse): void => {
      const path = entry.path;
      let body = received;
      if (action === 'hang') {
        entry.action = 'hang';
        return; // never answered; the client's timeout (or close()) ends it
      }
      if (action !== 'pass' && 'forward' in action) {
        entry.action = 'rewrite';
        body = Buffer.from(JSON.stringify(action.forward));
      } else if (action !== 'pass') {
        entry.action = 'reply';
        entry.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
        res.end(action.body);
        return;
      }
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: `${upstream.host}:${upstream.port}`, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const up = http.request({ host: upstream.host, port: upstream.port, method: req.method, path, headers }, (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => {
        entry.action = 'upstream-down';
        req.socket.destroy();
      });
      // The client gave up (timeout, cancel): stop the upstream request too, as a closed connection would.
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(body);
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  proxy.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return proxy;
}
