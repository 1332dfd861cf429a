/**
 * A JobModel backed by an OpenAI-compatible server (vLLM with LoRA adapters served under their own model
 * names), so runPromptSet writes the same run files as with the local backend. See
 * engine/backends/remoteGeneration.ts for how text becomes token ids and finish reasons.
 *
 * The run header records backend {kind: 'openai', base_url, model} (never the key); model.hash is
 * "openai:<base_url>#<served name>" and each adapter's hash "openai:<served name>", so a resume against
 * another server or served model is refused like a resume with other weights.
 */
import { OpenAICompatibleClient, type ChatRequestWording } from '../judges/openaiClient';
import { RemoteTokenTable, generateRemote } from '../backends/remoteGeneration';
import type { VariantSpec } from '../runs/schema';
import type { TextTokenizer } from '../text/tokenizer';
import type { JobModel } from './runPromptSet';

export interface RemoteJobModelOptions {
  /** e.g. http://localhost:8000/v1 */
  baseUrl: string;
  /** Served name of the base model (vLLM --served-model-name, or the model path it was started with). */
  servedModel: string;
  /** Adapters as variants name them → their served names (vLLM --lora-modules NAME=PATH). */
  adapters?: { name: string; servedModel: string }[];
  apiKey?: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  timeoutMs?: number;
  maxRetries?: number;
  backoffBaseMs?: number;
  fetch?: typeof fetch;
  /** How request errors word things (default: for the CLI). */
  wording?: ChatRequestWording;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/** Variants a served model can run: base, or an adapter at scale 1 (no steering, ablation or other scales). */
export function checkRemoteVariants(variants: VariantSpec[]): void {
  for (const v of variants) {
    if (v.steer || v.ablate) throw new Error(`variant "${v.name}": steering and ablation need the local backend (--backend local); a generation server runs only its served models.`);
    if (v.adapter && (v.adapter_scale ?? 1) !== 1) throw new Error(`variant "${v.name}": adapter scale ${v.adapter_scale}; a served LoRA adapter runs at scale 1 only (use the local backend for other scales).`);
  }
}

export function remoteJobModel(o: RemoteJobModelOptions): JobModel {
  const client = new OpenAICompatibleClient({
    baseUrl: o.baseUrl,
    model: o.servedModel,
    apiKey: o.apiKey,
    timeoutMs: o.timeoutMs ?? 300_000,
    maxRetries: o.maxRetries,
    backoffBaseMs: o.backoffBaseMs,
    fetch: o.fetch,
    onRetry: o.onRetry,
  });
  const adapters = o.adapters ?? [];
  const table = new RemoteTokenTable();
  const baseUrl = o.baseUrl.replace(/\/+$/, '');
  const tokenizer: TextTokenizer = {
    dir: `${baseUrl} (${o.servedModel})`,
    specialTokens: { bos: null, eos: null, pad: null, unk: null },
    eosTokenIds: [RemoteTokenTable.EOS],
    hasChatTemplate: true, // the server applies the model's chat template
    get vocabSize() {
      return Number.MAX_SAFE_INTEGER;
    },
    encode: () => {
      throw new Error('the remote backend does not tokenize text; only whole chat prompts are sent to the server.');
    },
    decode: (ids) => table.decode(ids),
    tokenToId: () => undefined,
    idToToken: () => undefined,
    renderChat: () => {
      throw new Error('the remote backend cannot render a chat prompt; the server applies the chat template.');
    },
    encodeChat: (messages) => table.encodeChat(messages),
  };
  return {
    modelDir: o.servedModel,
    adapters: adapters.map((a) => ({ name: a.name, dir: a.servedModel })),
    tokenizer,
    backend: { kind: 'openai', base_url: baseUrl, model: o.servedModel },
    hashes: { model: `openai:${baseUrl}#${o.servedModel}`, adapters: Object.fromEntries(adapters.map((a) => [a.name, `openai:${a.servedModel}`])) },
    // No local graph: steering/ablation are refused by checkRemoteVariants and by generate.
    steerLayers: [],
    ablateLayers: [],
    generate: (rows, params, hooks) =>
      generateRemote({ client, baseModel: o.servedModel, adapterModels: Object.fromEntries(adapters.map((a) => [a.name, a.servedModel])), table, concurrency: o.concurrency, wording: o.wording }, rows, params, hooks),
  };
}
