/**
 * The HTML page of every Organism Lab webview: a strict Content-Security-Policy with a nonce,
 * local resources only, and the initial state injected as JSON under the nonce. The nonce is also
 * published in `<meta property="csp-nonce">`, where the toolkit (FAST) looks for it when it adds a
 * probe `<style>` element (without it that probe breaks the style-src policy).
 * No `vscode` import here so it can be unit-tested; the panel hosts pass in `webview.cspSource`
 * and the URIs they got from `webview.asWebviewUri`.
 */

import { INITIAL_STATE_ELEMENT_ID } from '../../protocol/webviews';
import { htmlText } from '../../engine/review/escape';

export { INITIAL_STATE_ELEMENT_ID };

export interface WebviewPageOptions {
  /** `webview.cspSource` of the panel. */
  cspSource: string;
  /** A fresh nonce from createNonce(). */
  nonce: string;
  /** Page title (plain text; escaped here). */
  title: string;
  /** Webview URIs (as strings) of the bundled script(s) to load, in order. */
  scriptUris: string[];
  /** Webview URIs (as strings) of stylesheets to link. */
  styleUris?: string[];
  /** JSON-serialisable state, readable in the page with readInjectedState() (src/webviews/shared). */
  initialState?: unknown;
  /** Extra CSP image sources besides cspSource and data: (normally none). */
  extraImgSrc?: string[];
}


/** The Content-Security-Policy for a webview page. */
export function buildCsp(cspSource: string, nonce: string, extraImgSrc: string[] = []): string {
  assertNonce(nonce);
  const img = [cspSource, 'data:', ...extraImgSrc].join(' ');
  return [
    `default-src 'none'`,
    `img-src ${img}`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

/**
 * JSON for inclusion inside a `<script type="application/json">` element: `<`, `>` and `&` become
 * \u003c, \u003e and \u0026 (so `</script>` and `<!--` cannot end or change the element), and U+2028/U+2029
 * are escaped too. JSON.parse gives back the original value.
 */
export function jsonForScript(value: unknown): string {
  const json = JSON.stringify(value === undefined ? null : value);
  return json
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Escapes text for an HTML text node or a double-quoted attribute value. */
export function escapeHtml(text: string): string {
  return htmlText(text);
}

/** The complete HTML document of a webview. */
export function renderWebviewHtml(opts: WebviewPageOptions): string {
  const { cspSource, nonce } = opts;
  const csp = buildCsp(cspSource, nonce, opts.extraImgSrc);
  const styles = (opts.styleUris ?? [])
    .map((u) => `    <link rel="stylesheet" nonce="${nonce}" href="${escapeHtml(u)}">`)
    .join('\n');
  const scripts = opts.scriptUris
    .map((u) => `    <script nonce="${nonce}" src="${escapeHtml(u)}"></script>`)
    .join('\n');
  const state =
    opts.initialState === undefined
      ? ''
      : `    <script nonce="${nonce}" type="application/json" id="${INITIAL_STATE_ELEMENT_ID}">${jsonForScript(opts.initialState)}</script>\n`;
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
    <meta property="csp-nonce" content="${nonce}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <title>${escapeHtml(opts.title)}</title>
${styles}
  </head>
  <body>
    <main id="app" aria-busy="true"></main>
${state}${scripts}
  </body>
</html>
`;
}

function assertNonce(nonce: string): void {
  if (!/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(nonce)) {
    throw new Error('webview HTML: the nonce must be a base64/base64url string of at least 16 characters from createNonce()');
  }
}
