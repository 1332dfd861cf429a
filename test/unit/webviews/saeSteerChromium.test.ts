/**
 * The Activations page's "Steer…" button in headless Chromium with the real web components (the bundled page under
 * the panel's CSP, a fake VS Code API): a mouse click, Enter and Space each post exactly one activations/saeSteer
 * with the feature (the toolkit's native button and the control's own key handling never both fire). Skipped where
 * Chromium or the built bundle (npm test builds it first; or node scripts/build.mjs) is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createNonce } from '../../../src/extension/panels/nonce';
import { jsonForScript, renderWebviewHtml } from '../../../src/extension/panels/webviewHtml';
import type { SaeRunDiff } from '../../../src/protocol/activations';

const CHROMIUM = '/usr/bin/chromium';
const DIST = path.resolve(__dirname, '../../../dist/webviews');
const skip = !existsSync(CHROMIUM) ? 'no Chromium' : !existsSync(path.join(DIST, 'activations.js')) ? 'dist/webviews/activations.js not built' : false;

const diff: SaeRunDiff = {
  runPath: '/r.run.jsonl',
  sae: { dir: '/sae', architecture: 'standard', dSae: 64, hookName: 'blocks.1.hook_resid_post', hookMapping: 'blocks.1.hook_resid_post = output of decoder layer 1 = hidden_states[2]', warnings: [] },
  reference: 'base', variant: 'adapter', samples: 3, responseTokens: 30, labels: { misaligned: 1, aligned: 2, judge: null },
  rising: [{ feature: 7, meanRef: 0.1, meanVar: 2, delta: 1.9, samplesRef: 1, samplesVar: 3, aucMisaligned: null }], falling: [], skipped: [], elapsedMs: 5,
};

test('"Steer…" in Chromium: mouse, Enter and Space each post one activations/saeSteer', { skip, timeout: 90_000 }, async () => {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(path.join(tmpdir(), 'ol-sae-steer-page-'));
  const nonce = createNonce();
  const fake = `window.__posted = []; window.acquireVsCodeApi = () => ({ postMessage(m) { window.__posted.push(m); if (m.type === 'activations/ready') setTimeout(() => window.postMessage(${jsonForScript({ type: 'activations/saeDiff', data: diff })}, '*')); }, getState() {}, setState() {} });`;
  const html = renderWebviewHtml({
    cspSource: 'file:',
    nonce,
    title: 'Activations',
    scriptUris: [`file://${DIST}/activations.js`],
    styleUris: [`file://${DIST}/activations.css`],
    initialState: { runUri: 'file:///r.run.jsonl', fileName: 'r.run.jsonl', viewState: null },
  }).replace('</head>', `<script nonce="${nonce}">${fake}</script></head>`);
  const page = path.join(dir, 'activations.html');
  writeFileSync(page, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files', '--disable-background-networking'] });
  try {
    const p = await browser.newPage();
    const pageErrors: string[] = [];
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(`file://${page}`);
    const steer = p.locator('[data-testid="sae-steer-7"]');
    await steer.waitFor({ timeout: 20_000 });
    const steers = async () => (await p.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted.filter((m) => m.type === 'activations/saeSteer'))) as unknown[];
    const settle = () => p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await steer.click();
    await settle();
    assert.deepEqual(await steers(), [{ type: 'activations/saeSteer', feature: 7 }], 'one message per click');
    await steer.focus();
    assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'sae-steer-7', 'the button takes the focus');
    await p.keyboard.press('Enter');
    await settle();
    assert.equal((await steers()).length, 2, 'Enter: one more message, not two');
    await p.keyboard.press(' ');
    await settle();
    assert.equal((await steers()).length, 3, 'Space: one more message, not two');
    await p.keyboard.press('a');
    await settle();
    assert.equal((await steers()).length, 3);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
