/**
 * API keys (the judge's and the generation server's), the one place that reads, asks for and stores them.
 *
 * Every key is bound to the origin (scheme, host, port) it was given for: SecretStorage name
 * `organismLab.apiKey:<purpose>:<scheme://host:port>` (keyOrigin.ts). A base URL with another origin (from a
 * judges file, a workspace setting, …) never gets that key: it asks for its own, naming the origin and where
 * the URL came from. A URL that comes from the workspace gets no key at all while the workspace is untrusted.
 *
 * Keys stored by earlier versions were not bound to anything (`organismLab.judge.apiKey`,
 * `organismLab.server.apiKey`). Such a key is bound without asking only to the default judge origin
 * (https://api.openai.com:443, which is what it was for); any other origin asks once whether to send it there.
 * Once bound, the unbound copy is deleted.
 */
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import type { JudgeSpec } from '../../engine/judges/judgesFile';
import { section, serverSettings } from '../config';
import type { LabContext } from '../context';
import { isTrusted } from '../trust/trust';
import { apiKeySecretName, DEFAULT_OPENAI_BASE_URL, keyOrigin } from './keyOrigin';

export type KeyPurpose = 'judge' | 'server';

/** Where a base URL came from, for the prompt and for the trust check. */
export interface KeySource {
  /** As shown to the user, e.g. "judges file prompts/x.judges.yaml, judge 'gpt'" or "setting organismLab.server.baseUrl (workspace)". */
  label: string;
  /** The URL comes from the workspace (a file in it, a workspace or folder setting): no key for it while the workspace is untrusted. */
  fromWorkspace: boolean;
}

/** Unbound keys of earlier versions. */
export const LEGACY_KEY_SECRETS: Record<KeyPurpose, string> = { judge: 'organismLab.judge.apiKey', server: 'organismLab.server.apiKey' };
/** globalState: secret names of origins the user said need no key (an empty answer to the prompt). */
const NO_KEY_ORIGINS = 'organismLab.apiKey.notNeeded';
const WHAT: Record<KeyPurpose, string> = { judge: 'the OpenAI-compatible judge', server: 'the generation server' };
const DEFAULT_JUDGE_ORIGIN = keyOrigin(DEFAULT_OPENAI_BASE_URL).origin;

interface InputRequest {
  title: string;
  prompt: string;
  value?: string;
  password: boolean;
  validateInput?: (value: string) => string | undefined;
}
interface ConfirmRequest {
  message: string;
  detail: string;
  items: string[];
}

/** The UI the key code asks through; the extension test suite replaces it (behind ORGANISM_LAB_TEST_HOOKS). */
export interface KeyPrompts {
  input(req: InputRequest): Thenable<string | undefined>;
  confirm(req: ConfirmRequest): Thenable<string | undefined>;
}

const vscodePrompts: KeyPrompts = {
  input: (req) => vscode.window.showInputBox({ ...req, ignoreFocusOut: true }),
  confirm: (req) => vscode.window.showWarningMessage(req.message, { modal: true, detail: req.detail }, ...req.items),
};
let prompts: KeyPrompts = vscodePrompts;

/** Test hook (exported by activate() only with ORGANISM_LAB_TEST_HOOKS=1): answer key prompts; undefined restores the real UI. */
export function setKeyPromptsForTests(p: KeyPrompts | undefined): void {
  if (!testHooksEnabled()) throw new Error('setKeyPromptsForTests is a test hook (ORGANISM_LAB_TEST_HOOKS=1)');
  prompts = p ?? vscodePrompts;
}

/** Where a setting's value comes from (workspace folder, workspace, user or default), from `inspect()`. */
export function settingSource(key: string): KeySource {
  const i = vscode.workspace.getConfiguration().inspect(key);
  if (i?.workspaceFolderValue !== undefined) return { label: `setting ${key} (workspace folder)`, fromWorkspace: true };
  if (i?.workspaceValue !== undefined) return { label: `setting ${key} (workspace)`, fromWorkspace: true };
  if (i?.globalValue !== undefined) return { label: `setting ${key} (user)`, fromWorkspace: false };
  return { label: `setting ${key} (default)`, fromWorkspace: false };
}

/** The judge of the organismLab.judge.* settings: its base URL (the OpenAI default when empty) and where that came from. */
export function judgeSettingUrl(): { baseUrl: string; source: KeySource } {
  const configured = (section().get<string>('judge.baseUrl', '') ?? '').trim();
  const source = settingSource('organismLab.judge.baseUrl');
  return configured ? { baseUrl: configured, source } : { baseUrl: DEFAULT_OPENAI_BASE_URL, source: { ...source, label: `${source.label}, empty: the default ${DEFAULT_OPENAI_BASE_URL}` } };
}

/** Where a judge of a judges file (a workspace file) comes from, as the key prompt names it. */
export function judgesFileKeySource(file: string, judge: JudgeSpec): KeySource {
  return { label: `judges file ${file}, judge '${judge.name}'${judge.type === 'openai' && !judge.baseUrl ? ' (no base_url: the OpenAI default)' : ''}`, fromWorkspace: true };
}

/**
 * The key to send with a judge's requests: `{}` for rule and local-model judges (they send none), else the key for
 * the OpenAI-compatible judge's base URL (the OpenAI default when it names none), asked for when its origin has
 * none yet. Undefined when the user cancelled the prompt; throws when the base URL is not an http(s) URL.
 */
export function apiKeyForJudge(ctx: LabContext, judge: JudgeSpec, source: KeySource): Promise<{ apiKey?: string } | undefined> {
  if (judge.type !== 'openai') return Promise.resolve({});
  return apiKeyForRequest(ctx, 'judge', judge.baseUrl || DEFAULT_OPENAI_BASE_URL, source);
}

function originOrThrow(baseUrl: string, source: KeySource): string {
  try {
    return keyOrigin(baseUrl).origin;
  } catch (err) {
    throw new Error(`${source.label}: ${(err as Error).message}`);
  }
}

/**
 * The key to send with requests for `purpose` to `baseUrl`: `{ apiKey }` (apiKey undefined = send none), or
 * undefined when the user cancelled the prompt. Asks for a key when this origin has none yet. Throws when
 * `baseUrl` is not an http(s) URL (the message names `source`).
 */
export async function apiKeyForRequest(ctx: LabContext, purpose: KeyPurpose, baseUrl: string, source: KeySource): Promise<{ apiKey?: string } | undefined> {
  const origin = originOrThrow(baseUrl, source);
  if (source.fromWorkspace && !isTrusted()) {
    ctx.log.warn(`${WHAT[purpose]}: no API key sent to ${origin}: the URL comes from ${source.label} and this workspace is not trusted`);
    return {};
  }
  const secrets = ctx.extension.secrets;
  const name = apiKeySecretName(purpose, origin);
  const stored = await secrets.get(name);
  if (stored) return { apiKey: stored };
  if (ctx.extension.globalState.get<string[]>(NO_KEY_ORIGINS, []).includes(name)) return {};

  const legacy = await secrets.get(LEGACY_KEY_SECRETS[purpose]);
  if (legacy) {
    let use = purpose === 'judge' && origin === DEFAULT_JUDGE_ORIGIN;
    if (!use) {
      const SEND = `Send It to ${origin}`;
      const OTHER = 'Enter Another Key…';
      const choice = await prompts.confirm({
        message: `Organism Lab: send the stored API key to ${origin}?`,
        detail: `${WHAT[purpose]} URL ${baseUrl} comes from ${source.label}. The API key stored by an earlier version of Organism Lab is not bound to any server. Send it only if you trust ${origin} with it; from now on it is kept for ${origin} alone.`,
        items: [SEND, OTHER],
      });
      if (choice === undefined) return undefined;
      use = choice === SEND;
    }
    if (use) {
      await secrets.store(name, legacy);
      await secrets.delete(LEGACY_KEY_SECRETS[purpose]);
      ctx.log.info(`${WHAT[purpose]}: the stored API key is now bound to ${origin}`);
      return { apiKey: legacy };
    }
  }

  const key = await prompts.input({
    title: `Organism Lab: API key for ${origin}`,
    prompt: `For ${WHAT[purpose]} at ${baseUrl}, from ${source.label}. Sent only to ${origin}; kept in VS Code SecretStorage. Leave empty if this server needs no key.`,
    password: true,
  });
  if (key === undefined) return undefined;
  if (key.trim() === '') {
    await rememberNoKey(ctx, name, true);
    ctx.log.info(`${WHAT[purpose]}: no API key is sent to ${origin} (as asked)`);
    return {};
  }
  await secrets.store(name, key.trim());
  ctx.log.info(`${WHAT[purpose]}: API key stored for ${origin}`);
  return { apiKey: key.trim() };
}

async function rememberNoKey(ctx: LabContext, name: string, none: boolean): Promise<void> {
  const list = ctx.extension.globalState.get<string[]>(NO_KEY_ORIGINS, []).filter((n) => n !== name);
  await ctx.extension.globalState.update(NO_KEY_ORIGINS, none ? [...list, name] : list);
}

/** Stores (or, given an empty value, removes) the key for one origin: the URL is asked for, pre-filled from the settings. */
async function setApiKeyCommand(ctx: LabContext, purpose: KeyPurpose, url: string, source: KeySource): Promise<void> {
  const baseUrl = await prompts.input({
    title: `Organism Lab: API key for ${WHAT[purpose]}: which server?`,
    prompt: `The key is bound to this URL's scheme, host and port and sent nowhere else (pre-filled from ${source.label}).`,
    value: url,
    password: false,
    validateInput: (v) => {
      try {
        keyOrigin(v);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  });
  if (!baseUrl) return;
  const origin = keyOrigin(baseUrl).origin;
  const key = await prompts.input({
    title: `Organism Lab: API key for ${origin}`,
    prompt: `Sent only to ${origin}; kept in VS Code SecretStorage, never in settings, logs or run files. Leave empty to remove the stored key.`,
    password: true,
  });
  if (key === undefined) return;
  const name = apiKeySecretName(purpose, origin);
  await rememberNoKey(ctx, name, false);
  if (key.trim() === '') {
    await ctx.extension.secrets.delete(name);
    void vscode.window.setStatusBarMessage(`Organism Lab: API key for ${origin} removed`, 4000);
  } else {
    await ctx.extension.secrets.store(name, key.trim());
    void vscode.window.setStatusBarMessage(`Organism Lab: API key for ${origin} stored`, 4000);
  }
}

/** organismLab.setServerApiKey: the generation server's key (organismLab.backend "openai"). */
export function setServerApiKeyCommand(ctx: LabContext): Promise<void> {
  return setApiKeyCommand(ctx, 'server', serverSettings().baseUrl, settingSource('organismLab.server.baseUrl'));
}

/** organismLab.setJudgeApiKey: the OpenAI-compatible judge's key. */
export function setJudgeApiKeyCommand(ctx: LabContext): Promise<void> {
  const { baseUrl, source } = judgeSettingUrl();
  return setApiKeyCommand(ctx, 'judge', baseUrl, source);
}
