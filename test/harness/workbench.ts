/**
 * Driving the VS Code workbench in the browser: waiting for it, the command palette, quick picks,
 * notifications, webview frames, screenshots. Every wait is generous and retried: the machine is slow
 * and shared, and the workbench renders lazily.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { SCREENS_DIR } from './paths';

export const LONG = 120_000;

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Thrown inside a retry() callback to stop retrying at once (e.g. an error notification appeared). */
export class StopRetry extends Error {}

/** Retry `fn` until it returns a truthy value or `timeoutMs` passes; the last error is reported. A StopRetry ends it at once. */
export async function retry<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err instanceof StopRetry) throw err;
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Open a workbench URL and wait until the workbench and its extension host are up. */
export async function openWorkbench(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: LONG });
  await page.waitForSelector('.monaco-workbench', { timeout: LONG });
  // The status bar appears once the workbench has restored its parts.
  await page.waitForSelector('.statusbar', { timeout: LONG });
  await sleep(1500);
}

/** Press F1, type a command title, pick the entry whose label matches exactly (or the first match). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await retry(`command palette entry "${title}"`, async () => {
    await page.keyboard.press('Escape');
    await page.locator('.monaco-workbench').click({ position: { x: 5, y: 300 }, force: true }).catch(() => undefined);
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    // The palette ranks fuzzy matches (and recently used commands) first: "Organism Lab: Run Prompt Set" can
    // sit below "Organism Lab: Diff Two Runs (What a Prompt-Set Change Did)". Choose the row whose label is
    // the title (an ellipsis may follow), not whatever is on top.
    const rows = page.locator('.quick-input-list .monaco-list-row');
    const labels = (await rows.locator('.quick-input-list-label').allInnerTexts()).map((l) => l.replace(/\s+/g, ' ').trim());
    let index = labels.findIndex((l) => l.replace(/…$/, '') === title);
    if (index < 0) index = labels.findIndex((l) => l.includes(title));
    if (index <= 0) await page.keyboard.press('Enter');
    else {
      const clicked = await rows.nth(index).click({ timeout: 5_000 }).then(() => true).catch(() => false);
      if (!clicked) {
        for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Enter');
      }
    }
    return true;
  }, LONG, 1000);
}

/** The quick pick's visible rows' labels (empty when no quick pick is open). */
export async function quickPickItems(page: Page): Promise<string[]> {
  const widget = page.locator('.quick-input-widget');
  if (!(await widget.isVisible().catch(() => false))) return [];
  return page.locator('.quick-input-list .monaco-list-row .label-name, .quick-input-list .monaco-list-row .monaco-highlighted-label').allInnerTexts();
}

/** Wait for a quick pick with a row containing `text`, then choose it. */
export async function pickQuickPickItem(page: Page, text: string | RegExp, timeoutMs = 60_000): Promise<void> {
  await retry(`quick pick item ${String(text)}`, async () => {
    const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: text }).first();
    if (!(await row.isVisible().catch(() => false))) return false;
    await row.click();
    return true;
  }, timeoutMs);
}

/** The title shown by the quick input (prompt/placeholder), if any. */
export async function quickInputPrompt(page: Page): Promise<string> {
  const widget = page.locator('.quick-input-widget');
  if (!(await widget.isVisible().catch(() => false))) return '';
  const title = await page.locator('.quick-input-widget .quick-input-title').innerText().catch(() => '');
  const placeholder = (await page.locator('.quick-input-widget input').getAttribute('placeholder').catch(() => '')) ?? '';
  const message = await page.locator('.quick-input-widget .quick-input-message').innerText().catch(() => '');
  return [title, placeholder, message].filter(Boolean).join(' | ');
}

/** Text of every visible notification toast. */
export async function notifications(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-toast').allInnerTexts().catch(() => []);
}

/** All frames whose document has an element matching `selector` (webviews are nested iframes). */
export async function framesWith(page: Page, selector: string): Promise<Frame[]> {
  const found: Frame[] = [];
  for (const frame of page.frames()) {
    const n = await frame.locator(selector).count().catch(() => 0);
    if (n > 0) found.push(frame);
  }
  return found;
}

/** Wait for a webview frame containing `selector`. */
export async function webviewFrame(page: Page, selector: string, timeoutMs = LONG): Promise<Frame> {
  return retry(`a webview containing ${selector}`, async () => (await framesWith(page, selector))[0], timeoutMs, 1000);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  const file = path.join(SCREENS_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
