/**
 * Bounds on what a prompt-set file can make the parser build (issue 11): nesting depth, checked on the
 * text before the YAML parser recurses into it, and the size of the data after aliases are expanded,
 * measured with an explicit stack that stops as soon as a budget is exceeded (so a "billion laughs"
 * document costs no more than the budget).
 */
import type { PromptSetLimits } from '../limits/limits';

/**
 * An upper estimate of the nesting depth of a YAML text, from indentation, "- " sequence markers and
 * flow brackets outside quoted scalars (block-scalar contents are skipped). Linear in the text, no recursion.
 * Returns as soon as the depth exceeds `cap`, with the 1-based line where it did.
 */
export function yamlDepthEstimate(text: string, cap: number): { depth: number; line: number } {
  let max = 0;
  let maxLine = 1;
  let flow = 0;
  const indents: number[] = [];
  let blockParent = -1; // indentation of the line that opened a block scalar (| or >), -1 = none
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln].replace(/\r$/, '');
    let indent = 0;
    while (indent < line.length && line[indent] === ' ') indent++;
    const content = line.slice(indent);
    if (blockParent >= 0) {
      if (content === '' || indent > blockParent) continue;
      blockParent = -1;
    }
    if (content === '' || content.startsWith('#')) continue;
    if (flow === 0) {
      while (indents.length && indents[indents.length - 1] >= indent) indents.pop();
      indents.push(indent);
    }
    let depth = indents.length + flow;
    let i = indent;
    // "- - - x": each marker opens a sequence.
    while (line[i] === '-' && (i + 1 === line.length || line[i + 1] === ' ')) {
      depth++;
      i += 2;
      while (line[i] === ' ') i++;
    }
    if (depth > max) {
      max = depth;
      maxLine = ln + 1;
    }
    let quote: string | null = null;
    let prev = ' ';
    for (; i < line.length; i++) {
      const c = line[i];
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '#' && (prev === ' ' || prev === '\t')) break;
      if ((c === '"' || c === "'") && /[\s:,[{-]/.test(prev)) quote = c;
      else if (c === '[' || c === '{') {
        flow++;
        if (depth + 1 > max) {
          max = depth + 1;
          maxLine = ln + 1;
        }
        depth++;
      } else if ((c === ']' || c === '}') && flow > 0) {
        flow--;
        depth--;
      }
      if (c !== ' ') prev = c;
      else prev = ' ';
    }
    if (max > cap) return { depth: max, line: maxLine };
    if (flow === 0 && /(^|[\s:-])[|>][-+0-9]*\s*(#.*)?$/.test(content)) blockParent = indent;
  }
  return { depth: max, line: maxLine };
}

export interface ExpandedSize {
  chars: number;
  nodes: number;
  depth: number;
  /** Which budget was exceeded first, if any. */
  exceeded: null | 'chars' | 'nodes' | 'depth';
}

/**
 * Size of a parsed value as if every alias were copied: characters of all strings (keys included), number
 * of values, nesting depth. Stops at the first exceeded budget.
 */
export function expandedSize(value: unknown, limits: Pick<PromptSetLimits, 'maxExpandedChars' | 'maxExpandedNodes' | 'maxDepth'>): ExpandedSize {
  const out: ExpandedSize = { chars: 0, nodes: 0, depth: 0, exceeded: null };
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    out.nodes++;
    if (d > out.depth) out.depth = d;
    if (typeof v === 'string') out.chars += v.length;
    else if (Array.isArray(v)) {
      for (const x of v) stack.push([x, d + 1]);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        out.chars += k.length;
        stack.push([x, d + 1]);
      }
    }
    if (out.depth > limits.maxDepth) out.exceeded = 'depth';
    else if (out.chars > limits.maxExpandedChars) out.exceeded = 'chars';
    else if (out.nodes > limits.maxExpandedNodes) out.exceeded = 'nodes';
    if (out.exceeded) return out;
  }
  return out;
}
