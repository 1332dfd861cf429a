/**
 * Escaping untrusted text (model output, prompt-set text) for reports that travel: Markdown for pull-request
 * comments and job summaries, HTML for static artifacts. Model output is never markup: in Markdown it goes
 * into fenced code blocks (a fence longer than any backtick run inside) or through `mdInline`, which leaves
 * no link, image, HTML tag, table cell break or autolink; in HTML every character that matters is an entity.
 */

/** One line of untrusted text for a Markdown paragraph or table cell: inert, on one line. */
export function mdInline(text: string, maxLength = 200): string {
  let t = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/\s+/g, ' ').trim();
  if (t.length > maxLength) t = `${t.slice(0, maxLength - 1)}…`;
  return (
    t
      // Backslash-escape every ASCII punctuation mark CommonMark lets a backslash escape, except the ones
      // that become entities below.
      .replace(/[\\`*_{}[\]()#+\-.!|~^$=]/g, (c) => `\\${c}`)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // Autolinks (GFM: http://…, www.…, user@host) need the colon or the @ in one text run: entities split it.
      .replace(/:/g, '&#58;')
      .replace(/@/g, '&#64;')
  );
}

/** A fenced code block holding untrusted text verbatim; the fence is longer than any backtick run inside. */
export function mdCodeBlock(text: string, maxLength = 1200): string {
  let t = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
  if (t.length > maxLength) t = `${t.slice(0, maxLength)}\n… (${text.length - maxLength} more characters)`;
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}text\n${t}\n${fence}`;
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an HTML text node or a quoted attribute value. */
export function htmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

/** A percentage with one decimal, or "–" when there is no value. */
export function pct(p: number | null | undefined): string {
  return p === null || p === undefined ? '–' : `${(100 * p).toFixed(1)}%`;
}

/** "12.5% [8.1, 18.0]" for a proportion with its interval. */
export function pctInterval(p: { p: number | null; lo: number | null; hi: number | null }): string {
  if (p.p === null) return '–';
  return `${pct(p.p)} [${(100 * p.lo!).toFixed(1)}, ${(100 * p.hi!).toFixed(1)}]`;
}

/** "+4.2 pts [-1.0, 9.5]" for a difference of proportions. */
export function pointsInterval(d: { d: number | null; lo: number | null; hi: number | null }): string {
  if (d.d === null) return '–';
  const f = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  return `${f(d.d)} pts [${(100 * d.lo!).toFixed(1)}, ${(100 * d.hi!).toFixed(1)}]`;
}
