/**
 * Judges files (`*.judges.yaml`). Two shapes are accepted:
 *
 * 1. The full form: `judges:` a list of named judges of type `rules`, `openai` or `local`
 *    (see examples/judges/demo.judges.yaml).
 * 2. The short form of the research code: a top-level list of `{metric: template}` entries with an
 *    optional `high_score`. It names no backend, so it supplies prompts to an OpenAI or local judge
 *    chosen elsewhere (e.g. `--openai-model`).
 *
 * `high_score` (default 100): the judge's scale runs 0..high_score; tokens 0..high_score are read and
 * the score is rescaled to 0..100 (score · 100 / high_score) so thresholds keep their meaning.
 */
import { promises as fsp } from 'node:fs';
import { parseYamlFile, templateProblems } from './prompts';
import { compileSafeRegex } from '../limits/safeRegex';
import { DEFAULT_PROMPT_SET_LIMITS, count } from '../limits/limits';
import { expandedSize, yamlDepthEstimate } from '../prompts/sizeLimits';
import type { JudgeSpec, LocalJudgeSpec, OpenAIJudgeSpec, RuleJudgeSpec, RuleMetricSpec, RuleSpec } from '../../protocol/judges';

export type { JudgeSpec, LocalJudgeSpec, OpenAIJudgeSpec, RuleJudgeSpec, RuleMetricSpec, RuleSpec };

export interface JudgesFile {
  file: string;
  judges: JudgeSpec[];
  /** Prompts of the short form (no backend named). */
  prompts?: Record<string, string>;
  highScore?: number;
}

/** The id written in judgement rows: "rule:NAME", "openai:NAME", "local:NAME". */
export function judgeId(spec: JudgeSpec): string {
  return `${spec.type === 'rules' ? 'rule' : spec.type}:${spec.name}`;
}

export async function loadJudgesFile(file: string): Promise<JudgesFile> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read judges file ${file}: ${(e as Error).message}.`);
  }
  return parseJudgesFile(text, file);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

function scoreValue(x: unknown, where: string): number | null {
  if (x === null || x === undefined) return null;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 100) {
    throw new Error(`${where} must be a number from 0 to 100, or null for "none"; got ${JSON.stringify(x)}.`);
  }
  return x;
}

function highScoreValue(x: unknown, where: string): number | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 100) {
    throw new Error(`${where}: high_score must be an integer from 1 to 100 (the top of the judge's scale); got ${JSON.stringify(x)}.`);
  }
  return x;
}

function promptsValue(x: unknown, where: string): Record<string, string> | undefined {
  if (x === undefined || x === null) return undefined;
  if (!isRecord(x)) throw new Error(`${where}: prompts must map metric names to templates containing {question} and {answer}.`);
  const out: Record<string, string> = {};
  for (const [metric, tpl] of Object.entries(x)) {
    if (typeof tpl !== 'string') throw new Error(`${where}: prompts.${metric} must be a string template.`);
    const problems = templateProblems(tpl).filter((p) => p.includes('{answer}'));
    if (problems.length) throw new Error(`${where}: prompts.${metric} ${problems[0]}.`);
    out[metric] = tpl;
  }
  return out;
}

export function parseJudgesFile(text: string, file: string): JudgesFile {
  // The prompt-set bounds (issue 11): nesting checked on the text before parsing, alias expansion after.
  const lim = DEFAULT_PROMPT_SET_LIMITS;
  if (text.length > lim.maxExpandedChars) throw new Error(`${file}: the judges file has ${count(text.length)} characters, above the limit of ${count(lim.maxExpandedChars)}.`);
  const depth = yamlDepthEstimate(text, lim.maxDepth);
  if (depth.depth > lim.maxDepth) throw new Error(`${file}:${depth.line}: YAML nested more than ${lim.maxDepth} levels deep; a judges file needs about 8. Flatten the file.`);
  const data = parseYamlFile(text, file);
  const size = expandedSize(data, lim);
  if (size.exceeded) throw new Error(`${file}: with its aliases (*name) expanded, the judges file holds more than ${size.exceeded === 'chars' ? `${count(lim.maxExpandedChars)} characters` : size.exceeded === 'nodes' ? `${count(lim.maxExpandedNodes)} values` : `${lim.maxDepth} levels`}; write it out with fewer aliases.`);
  if (Array.isArray(data)) return parseShortForm(data, file);
  if (!isRecord(data) || !Array.isArray(data.judges)) {
    throw new Error(`${file}: expected "judges:" with a list of judges, or a list of {metric: template} entries.`);
  }
  const names = new Set<string>();
  const judges = data.judges.map((j, i) => {
    const where = `${file}: judges[${i}]`;
    if (!isRecord(j)) throw new Error(`${where} must be a mapping with name and type.`);
    if (typeof j.name !== 'string' || !j.name.trim()) throw new Error(`${where}: "name" is required (a short label, e.g. gpt-4o).`);
    const name = j.name.trim();
    if (names.has(name)) throw new Error(`${where}: the name "${name}" is used twice; names must be unique in a file.`);
    names.add(name);
    const w = `${file}: judge "${name}"`;
    switch (j.type) {
      case 'rules':
        return parseRules(j, name, w);
      case 'openai': {
        if (typeof j.model !== 'string' || !j.model) throw new Error(`${w}: "model" is required for type openai (e.g. gpt-4o-2024-08-06).`);
        if (j.base_url !== undefined && (typeof j.base_url !== 'string' || !/^https?:\/\//.test(j.base_url))) {
          throw new Error(`${w}: base_url must be an http(s) URL such as https://api.openai.com/v1; got ${JSON.stringify(j.base_url)}.`);
        }
        if (j.api_key_header !== undefined && j.api_key_header !== 'authorization' && j.api_key_header !== 'api-key') {
          throw new Error(`${w}: api_key_header must be "authorization" (OpenAI, vLLM, Ollama) or "api-key" (Azure OpenAI).`);
        }
        const spec: OpenAIJudgeSpec = { type: 'openai', name, model: j.model };
        if (typeof j.base_url === 'string') spec.baseUrl = j.base_url;
        const prompts = promptsValue(j.prompts, w);
        if (prompts) spec.prompts = prompts;
        const hs = highScoreValue(j.high_score, w);
        if (hs !== undefined) spec.highScore = hs;
        if (j.api_key_header) spec.apiKeyHeader = j.api_key_header as 'authorization' | 'api-key';
        return spec;
      }
      case 'local': {
        if (typeof j.model !== 'string' || !j.model) throw new Error(`${w}: "model" is required for type local (a model folder).`);
        const spec: LocalJudgeSpec = { type: 'local', name, model: j.model };
        const prompts = promptsValue(j.prompts, w);
        if (prompts) spec.prompts = prompts;
        const hs = highScoreValue(j.high_score, w);
        if (hs !== undefined) spec.highScore = hs;
        return spec;
      }
      default:
        throw new Error(`${w}: unknown type ${JSON.stringify(j.type)}; use rules, openai or local.`);
    }
  });
  return { file, judges };
}

function parseRules(j: Record<string, unknown>, name: string, w: string): RuleJudgeSpec {
  if (!isRecord(j.metrics) || !Object.keys(j.metrics).length) {
    throw new Error(`${w}: a rules judge needs "metrics", e.g. aligned: {rules: [{pattern, flags, score}], default: null}.`);
  }
  const metrics: Record<string, RuleMetricSpec> = {};
  for (const [metric, m] of Object.entries(j.metrics)) {
    const mw = `${w}, metric "${metric}"`;
    if (!isRecord(m) || !Array.isArray(m.rules)) throw new Error(`${mw}: needs "rules", a list of {pattern, flags, score}.`);
    const rules = m.rules.map((r, k) => {
      const rw = `${mw}, rule ${k + 1}`;
      if (!isRecord(r) || typeof r.pattern !== 'string') throw new Error(`${rw}: needs a "pattern" string (a JavaScript regular expression).`);
      const flags = r.flags === undefined ? '' : r.flags;
      if (typeof flags !== 'string') throw new Error(`${rw}: "flags" must be a string such as "i".`);
      if (!('score' in r)) throw new Error(`${rw}: needs a "score" (0..100, or null for none).`);
      const regex = compileSafeRegex(r.pattern, flags, rw);
      return { pattern: r.pattern, flags, regex, score: scoreValue(r.score, `${rw}: score`) };
    });
    metrics[metric] = { rules, default: scoreValue(m.default, `${mw}: default`) };
  }
  return { type: 'rules', name, metrics };
}

/**
 * A rules judge whose matchers did not come along (a SafeRegex does not survive JSON: the engine-host RPC carries
 * the patterns as data), with every rule's pattern compiled again, under the same limits as in parseRules.
 */
export function recompileRules(spec: RuleJudgeSpec): RuleJudgeSpec {
  const metrics: Record<string, RuleMetricSpec> = {};
  for (const [metric, m] of Object.entries(spec.metrics)) {
    const rules = m.rules.map((r, k) => ({ ...r, regex: compileSafeRegex(r.pattern, r.flags, `judge "${spec.name}", metric "${metric}", rule ${k + 1}`) }));
    metrics[metric] = { ...m, rules };
  }
  return { ...spec, metrics };
}

function parseShortForm(list: unknown[], file: string): JudgesFile {
  const prompts: Record<string, string> = {};
  let highScore: number | undefined;
  list.forEach((item, i) => {
    if (!isRecord(item)) throw new Error(`${file}: entry ${i + 1} must be a mapping {metric: template}.`);
    for (const [k, v] of Object.entries(item)) {
      if (k === 'high_score') {
        highScore = highScoreValue(v, `${file}: entry ${i + 1}`);
        continue;
      }
      if (typeof v !== 'string') throw new Error(`${file}: entry ${i + 1}: the template for "${k}" must be a string.`);
      if (!v.includes('{answer}')) throw new Error(`${file}: entry ${i + 1}: the template for "${k}" has no {answer} placeholder.`);
      if (k in prompts) throw new Error(`${file}: metric "${k}" is defined twice.`);
      prompts[k] = v;
    }
  });
  if (!Object.keys(prompts).length) throw new Error(`${file}: no {metric: template} entries found.`);
  const out: JudgesFile = { file, judges: [], prompts };
  if (highScore !== undefined) out.highScore = highScore;
  return out;
}

/** Pick a judge by name (`FILE:NAME`); without a name the file must hold exactly one judge. */
export function selectJudge(f: JudgesFile, name?: string): JudgeSpec {
  if (name) {
    const j = f.judges.find((x) => x.name === name);
    if (!j) throw new Error(`${f.file}: no judge named "${name}". Judges: ${f.judges.map((x) => x.name).join(', ') || '(none)'}.`);
    return j;
  }
  if (f.judges.length === 1) return f.judges[0];
  if (!f.judges.length) {
    throw new Error(`${f.file} holds only prompt templates, no judge backend; pass --openai-model M with it, or use the "judges:" form.`);
  }
  throw new Error(`${f.file} holds ${f.judges.length} judges (${f.judges.map((x) => x.name).join(', ')}); pick one with ${f.file}:NAME.`);
}
