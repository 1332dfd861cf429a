/**
 * Adapter folders in a remote run (organismLab.backend "openai"): each folder runs as a variant named after the
 * folder, served under that name. When the generation server does not list it, the user is offered "Load it on
 * the server" (a modal naming the adapter and the server URL); accepting asks the engine host to load the folder
 * with `/v1/load_lora_adapter`. vLLM refuses unless started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, and the
 * error then says so. (Inspect AI addresses such an adapter as `vllm/<base>:<adapter>`; here it is a variant.)
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import type { RemoteGenerationServer } from '../../protocol/engineJobs';
import type { LabContext } from '../context';

export const LOAD_ON_SERVER = 'Load it on the server';

/** What the offer shows (the test hooks receive it too). */
export interface LoraOffer {
  adapter: string;
  folder: string;
  serverUrl: string;
  message: string;
  detail: string;
}

/** Answers an offer: true = load it on the server. */
export type LoraOfferPrompt = (offer: LoraOffer) => Thenable<boolean>;

const vscodePrompt: LoraOfferPrompt = (o) => vscode.window.showInformationMessage(o.message, { modal: true, detail: o.detail }, LOAD_ON_SERVER).then((c) => c === LOAD_ON_SERVER);
let prompt: LoraOfferPrompt = vscodePrompt;

/** Test hook (exported by activate() only with ORGANISM_LAB_TEST_HOOKS=1): answer the offer; undefined restores the modal. */
export function setLoraOfferPromptForTests(p: LoraOfferPrompt | undefined): void {
  if (!testHooksEnabled()) throw new Error('setLoraOfferPromptForTests is a test hook (ORGANISM_LAB_TEST_HOOKS=1)');
  prompt = p ?? vscodePrompt;
}

/** The offer for one adapter folder the server does not list. */
export function loraOffer(adapter: string, folder: string, serverUrl: string): LoraOffer {
  return {
    adapter,
    folder,
    serverUrl,
    message: `Organism Lab: the generation server at ${serverUrl} does not serve the adapter "${adapter}". Load it on the server?`,
    detail: `The server loads ${folder} as model "${adapter}" (POST /v1/load_lora_adapter). The path is read by the server, so it must exist on the server's machine. vLLM allows this only when started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True.`,
  };
}

/** The variant name (and served name) of an adapter folder: its folder name. */
export function adapterFolderName(folder: string): string {
  return path.basename(path.resolve(folder));
}

/**
 * Adds the adapter folders to the server's adapters (served under their folder names), loading on the server the
 * ones it does not list: 'ask' offers it, 'load' loads without asking, 'never' refuses with an error. Returns the
 * server with them, or undefined when the user declined. Throws on a refusal (the message names
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING) or an unreachable server.
 */
export async function serveAdapterFolders(ctx: LabContext, server: RemoteGenerationServer, folders: string[], mode: 'ask' | 'load' | 'never'): Promise<RemoteGenerationServer | undefined> {
  const adapters = [...server.adapters];
  for (const folder of folders) {
    const name = adapterFolderName(folder);
    const existing = adapters.find((a) => a.name === name);
    if (existing && existing.servedModel !== name) {
      throw new Error(`Adapter folder ${folder}: organismLab.server.adapters already maps "${name}" to the served name "${existing.servedModel}"; remove that entry or rename the folder.`);
    }
    const base = { baseUrl: server.baseUrl, name, loraPath: path.resolve(folder), ...(server.apiKey ? { apiKey: server.apiKey } : {}) };
    const check = await ctx.engine.serverLora({ ...base, load: false });
    if (!check.listed) {
      if (mode === 'never') {
        throw new Error(`The generation server at ${server.baseUrl} does not serve the adapter "${name}" (it lists ${check.models.join(', ') || 'no models'}); load it there, or allow loading it on the server.`);
      }
      if (mode === 'ask' && !(await prompt(loraOffer(name, base.loraPath, server.baseUrl)))) return undefined;
      const r = await ctx.engine.serverLora({ ...base, load: true });
      ctx.log.info(`generation server ${server.baseUrl}: ${r.loaded ? 'loaded' : 'already serves'} adapter "${name}" from ${base.loraPath}`);
    }
    if (!existing) adapters.push({ name, servedModel: name });
  }
  return { ...server, adapters };
}
