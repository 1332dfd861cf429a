/**
 * The engine host's runtime-LoRA request (engine/serverLora): whether a generation server lists an adapter, and
 * loading its folder there (`/v1/load_lora_adapter`) when asked (engine/backends/remoteLora.ts). No local model is
 * involved. A server that does not load adapters at run time becomes an Unsupported EngineError whose message
 * says how to enable it (vLLM: VLLM_ALLOW_RUNTIME_LORA_UPDATING=True); other failures name the URL and the cause.
 */
import { EngineError } from '../backends/errors';
import { ensureLoraServed, listServerModels, RuntimeLoraRefusedError } from '../backends/remoteLora';
import type { ServerLoraParams, ServerLoraResult } from '../../protocol/engineHost';

export async function runServerLora(p: ServerLoraParams, deps: { fetch?: typeof fetch } = {}): Promise<ServerLoraResult> {
  if (!p.name?.trim()) throw new EngineError('InvalidInput', 'engine/serverLora: the adapter needs a served name (the folder name).');
  if (!p.loraPath?.trim()) throw new EngineError('InvalidInput', `engine/serverLora: adapter "${p.name}" needs its folder (lora_path).`);
  const o = { apiKey: p.apiKey || undefined, fetch: deps.fetch };
  try {
    if (!p.load) {
      const models = (await listServerModels(p.baseUrl, o)).map((m) => m.id);
      return { listed: models.includes(p.name), loaded: false, models };
    }
    const r = await ensureLoraServed(p.baseUrl, p.name, p.loraPath, o);
    return { listed: true, loaded: r.loaded, models: r.models.map((m) => m.id) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof RuntimeLoraRefusedError) throw new EngineError('Unsupported', message);
    throw new EngineError('InvalidInput', message, 'Check organismLab.server.baseUrl (Settings, search "organismLab.server") and that the server is running.');
  }
}
