/**
 * The `organism-lab serve` setups the serve and remote tests share, over the demo organism (demo-base with its
 * narrow adapters, vocab 1024, fast):
 *   - spawnServe: the server as a child process, started with the command line the extension builds
 *     (src/extension/commands/serveArgs.ts), resolved once it prints its URL;
 *   - startDemoServer: the server in this process (its ServedModel at hand for in-process references);
 *   - postJson / sseEvents: one request and its answer (JSON or server-sent events).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serveCliArgs, servedUrl } from '../../../../src/extension/commands/serveArgs';
import { ServedModel } from '../../../../src/engine/serve/servedModel';
import { startServer, type RunningServer, type ServeOptions } from '../../../../src/engine/serve/server';

export const ROOT = join(__dirname, '../../../..');
export const ORGANISMS = join(ROOT, 'examples/organisms');
export const DEMO_BASE = join(ORGANISMS, 'demo-base');
export const DEMO_R1 = join(ORGANISMS, 'demo-narrow-r1');
export const DEMO_R8 = join(ORGANISMS, 'demo-narrow-r8');
export const DEMO_PROMPTS = join(ROOT, 'examples/prompts/demo.yaml');

export interface ServeChild {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  stderr: () => string;
  /** SIGKILL (a crash); resolves once it exited. */
  kill(): Promise<void>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `organism-lab serve` over demo-base and these adapters (default: demo-narrow-r1 as "narrow"), on `port` (0 = any). */
export async function spawnServe(o: { port?: number; adapters?: { name: string; dir: string }[]; args?: string[] } = {}): Promise<ServeChild> {
  const args = [...serveCliArgs({ dir: DEMO_BASE }, o.adapters ?? [{ name: 'narrow', dir: DEMO_R1 }], o.port ?? 0, { threads: 1, weights: 'f32' }), ...(o.args ?? [])];
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve printed no URL within 90 s; stderr: ${err}`));
    }, 90_000);
    child.stdout!.on('data', (c) => {
      out += c;
      const u = servedUrl(out);
      if (u) {
        clearTimeout(t);
        resolve(u);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    url,
    port: Number(new URL(url).port),
    stderr: () => err,
    kill: async () => {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (alive()) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface DemoServer {
  model: ServedModel;
  /** The first server (startDemoServer's one). */
  srv: RunningServer;
  /** One server per options given, all over the same model. */
  servers: RunningServer[];
  close(): Promise<void>;
}

/**
 * demo-base with these adapters (default: demo-narrow-r1 under its folder name), loaded once in this process and
 * served on a free port per options given (e.g. one with runtime LoRA loading and one without).
 */
export async function startDemoServer(adapters: { name: string; dir: string }[] = [{ name: 'demo-narrow-r1', dir: DEMO_R1 }], ...options: ServeOptions[]): Promise<DemoServer> {
  const model = await ServedModel.load(DEMO_BASE, adapters, { threads: 1 });
  const servers: RunningServer[] = [];
  for (const o of options.length ? options : [{}]) servers.push(await startServer(model, { port: 0, ...o }));
  return {
    model,
    srv: servers[0],
    servers,
    close: async () => {
      for (const s of servers) await s.close();
      await model.dispose();
    },
  };
}

export interface JsonAnswer {
  status: number;
  json: any;
  text: string;
}

/** POST a JSON body (a string is sent as is); the answer's status, text and JSON (null when not JSON). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text };
}

/** The JSON events of a server-sent-events body, without the final [DONE] (asserted present). */
export function sseEvents(text: string): any[] {
  const events = text.split('\n\n').filter(Boolean);
  if (events[events.length - 1] !== 'data: [DONE]') throw new Error(`the stream does not end with data: [DONE]: ${JSON.stringify(text.slice(-80))}`);
  return events.slice(0, -1).map((e) => {
    if (!e.startsWith('data: ')) throw new Error(`not an SSE data line: ${JSON.stringify(e.slice(0, 80))}`);
    return JSON.parse(e.slice(6));
  });
}

/**
 * Reads a streamed chat completion until its first generated text (the first chunk, the role, comes before
 * generation) or the end of the stream; returns the reader, positioned after that chunk, and the decoder.
 */
export async function readUntilFirstContent(r: Response): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; dec: TextDecoder }> {
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let seen = '';
  while (!/"content":"[^"]/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
  }
  return { reader, dec };
}
