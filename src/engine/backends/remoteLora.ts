/**
 * LoRA adapters on a generation server (vLLM, `organism-lab serve`): which models it serves (`GET /v1/models`:
 * the base and each adapter, an adapter's `parent` naming its base) and loading an adapter at run time
 * (`POST /v1/load_lora_adapter` with `lora_name`, `lora_path`), so a remote run can use an adapter folder the
 * server was not started with. vLLM registers that endpoint only when started with the environment variable
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (and --enable-lora); `organism-lab serve` only with --enable-runtime-lora.
 * A refusal says so (RuntimeLoraRefusedError). The path is read by the server: it must exist on its machine.
 */

export interface ServerModel {
  id: string;
  /** The base model an adapter belongs to (vLLM and organism-lab serve set it for LoRA modules); null for a base. */
  parent: string | null;
  /** Where the server loaded it from, when it says. */
  root: string | null;
}

export interface ServerRequestOptions {
  apiKey?: string;
  /** Per request; default 60 s (loading an adapter rebuilds a session on organism-lab serve). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The server does not load adapters at run time (endpoint missing or switched off). */
export class RuntimeLoraRefusedError extends Error {
  override name = 'RuntimeLoraRefusedError';
}

const HOW_TO_ENABLE =
  'vLLM: start it with the environment variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (and --enable-lora); organism-lab serve: --enable-runtime-lora. ' +
  'Or serve the adapter from the start (vLLM --lora-modules NAME=PATH, organism-lab serve --adapter NAME=DIR).';

function endpoint(baseUrl: string, path: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new Error(`The server base URL ${JSON.stringify(baseUrl)} is not a valid URL; use e.g. http://127.0.0.1:8000/v1.`);
  }
  u.pathname = u.pathname.replace(/\/+$/, '') + path;
  return u.toString();
}

function scrub(text: string, key: string | undefined): string {
  const t = key ? text.split(key).join('[redacted]') : text;
  return t.replace(/Bearer\s+\S+/gi, 'Bearer [redacted]').slice(0, 300);
}

/** The server's error message from an OpenAI-style body ({error: {message}}), FastAPI's ({detail}), or the text. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; detail?: unknown; message?: unknown };
    const m = typeof j.error === 'object' ? j.error?.message : (j.error ?? j.detail ?? j.message);
    if (typeof m === 'string') return m;
  } catch {
    /* not JSON */
  }
  return text;
}

async function request(url: string, init: RequestInit, o: ServerRequestOptions): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}) };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  try {
    const res = await (o.fetch ?? fetch)(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(o.timeoutMs ?? 60_000) });
    return { status: res.status, text: await res.text() };
  } catch (e) {
    const cause = (e as Error)?.name === 'TimeoutError' ? `no answer within ${o.timeoutMs ?? 60_000} ms` : String((e as Error)?.cause ?? (e as Error)?.message ?? e);
    throw new Error(`Cannot reach the generation server at ${url} (${scrub(cause, o.apiKey)}). Check the base URL and that the server is running.`);
  }
}

function keyRefused(url: string, status: number, text: string, key: string | undefined): Error {
  return new Error(`The generation server at ${url} refused the API key (HTTP ${status}): ${scrub(serverMessage(text), key)}`);
}

/** `GET /v1/models`: every model the server serves. */
export async function listServerModels(baseUrl: string, o: ServerRequestOptions = {}): Promise<ServerModel[]> {
  const url = endpoint(baseUrl, '/models');
  const { status, text } = await request(url, { method: 'GET' }, o);
  if (status === 401 || status === 403) throw keyRefused(url, status, text, o.apiKey);
  if (status !== 200) throw new Error(`HTTP ${status} from ${url}: ${scrub(serverMessage(text), o.apiKey)}. Is the base URL the server's API root (…/v1)?`);
  let data: unknown;
  try {
    data = (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    throw new Error(`${url} answered with something that is not JSON (${JSON.stringify(text.slice(0, 80))}); is this an OpenAI-compatible server?`);
  }
  if (!Array.isArray(data)) throw new Error(`${url}: the answer has no "data" list of models; is this an OpenAI-compatible server?`);
  return data
    .filter((m): m is Record<string, unknown> => !!m && typeof m === 'object' && typeof (m as { id?: unknown }).id === 'string')
    .map((m) => ({ id: m.id as string, parent: typeof m.parent === 'string' ? m.parent : null, root: typeof m.root === 'string' ? m.root : null }));
}

/** `POST /v1/load_lora_adapter`: the server loads the adapter folder `loraPath` (on its machine) as model `name`. */
export async function loadLoraAdapter(baseUrl: string, name: string, loraPath: string, o: ServerRequestOptions = {}): Promise<void> {
  const url = endpoint(baseUrl, '/load_lora_adapter');
  const { status, text } = await request(url, { method: 'POST', body: JSON.stringify({ lora_name: name, lora_path: loraPath }) }, o);
  if (status >= 200 && status < 300) return;
  if (status === 401 || status === 403) throw keyRefused(url, status, text, o.apiKey);
  const said = scrub(serverMessage(text), o.apiKey);
  if (status === 404 || status === 405) {
    throw new RuntimeLoraRefusedError(`The generation server at ${url} does not load LoRA adapters at run time (HTTP ${status}: ${said}). ${HOW_TO_ENABLE}`);
  }
  throw new Error(`The generation server at ${url} did not load adapter "${name}" from ${loraPath} (HTTP ${status}: ${said}). The path is read by the server, so it must be a PEFT adapter folder on the server's machine.`);
}

/**
 * The served model name for an adapter folder: `name` when the server lists it already, else it is loaded
 * (`loaded: true`) and checked to be listed afterwards.
 */
export async function ensureLoraServed(baseUrl: string, name: string, loraPath: string, o: ServerRequestOptions = {}): Promise<{ loaded: boolean; models: ServerModel[] }> {
  const before = await listServerModels(baseUrl, o);
  if (before.some((m) => m.id === name)) return { loaded: false, models: before };
  await loadLoraAdapter(baseUrl, name, loraPath, o);
  const after = await listServerModels(baseUrl, o);
  if (!after.some((m) => m.id === name)) {
    throw new Error(`The generation server at ${endpoint(baseUrl, '/models')} accepted adapter "${name}" but does not list it (models: ${after.map((m) => m.id).join(', ')}).`);
  }
  return { loaded: true, models: after };
}
