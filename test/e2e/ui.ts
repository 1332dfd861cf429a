/** Organism-Lab-specific UI steps for the e2e suite, on top of the generic workbench helpers. */
import type { Frame, Page } from 'playwright-core';
import { LONG, quickInputPrompt, retry, sleep } from '../harness/workbench';

export interface PromptAnswer {
  prompt: string;
  items: string[];
  chose: string;
}

/**
 * Answer whatever quick picks / input boxes a command shows, until none is open: in a list, the first row
 * matching one of `prefer` (in order), else the first row; a multi-select list gets every row checked;
 * an input box gets its default (Enter). After an answer, the next prompt may take `nextWaitMs` to come
 * (e.g. after a model load). Returns what was asked and chosen, for the log.
 */
export async function answerPrompts(
  page: Page,
  prefer: RegExp[],
  firstWaitMs = 15_000,
  nextWaitMs = 5_000,
  /** For a folder/file dialog (code-server's simple file dialog is a quick pick over paths): the path to type. */
  typePath?: string,
): Promise<PromptAnswer[]> {
  const answers: PromptAnswer[] = [];
  const widget = page.locator('.quick-input-widget');
  for (let round = 0; round < 12; round++) {
    const visible = await widget
      .waitFor({ state: 'visible', timeout: round === 0 ? firstWaitMs : nextWaitMs })
      .then(() => true)
      .catch(() => false);
    if (!visible) break;
    await sleep(700); // items are filled in asynchronously
    // The command palette that ran the command (its text starts with '>') is not the command's prompt:
    // wait for it to give way; answering it would click a palette row that is being hidden.
    const paletteValue = await page.locator('.quick-input-widget input').first().inputValue().catch(() => '');
    if (paletteValue.startsWith('>')) {
      const gone = await retry('the command palette to close', async () => !(await page.locator('.quick-input-widget input').first().inputValue().catch(() => '')).startsWith('>') || !(await widget.isVisible().catch(() => false)), round === 0 ? firstWaitMs : nextWaitMs, 250).then(() => true).catch(() => false);
      if (!gone) throw new Error(`the command palette stayed open after running a command: ${paletteValue} (${await quickInputPrompt(page)})`);
      round--;
      continue;
    }
    const prompt = await quickInputPrompt(page);
    const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    const items = (await rows.allInnerTexts().catch(() => [] as string[])).map((s) => s.replace(/\s+/g, ' ').trim());
    let chose = '';
    const value = await page.locator('.quick-input-widget input').first().inputValue().catch(() => '');
    const fileDialog = /Folder path|File path/i.test(prompt) || value.startsWith('/');
    if (fileDialog && typePath) {
      chose = `(typed path ${typePath})`;
      await page.locator('.quick-input-widget input').first().fill(typePath);
      await sleep(500);
      await page.keyboard.press('Enter');
    } else if (items.length === 0) {
      chose = '(Enter: default value)';
      await page.keyboard.press('Enter');
    } else if (await page.locator('.quick-input-widget.show-checkboxes').isVisible().catch(() => false)) {
      // A multi-select quick pick: check every row, then accept with OK.
      const checkAll = page.locator('.quick-input-widget [role="checkbox"][aria-label="Toggle all checkboxes"], .quick-input-widget .quick-input-check-all').first();
      if ((await checkAll.getAttribute('aria-checked').catch(() => 'true')) !== 'true') await checkAll.click().catch(() => undefined);
      chose = '(all rows checked)';
      const ok = page.locator('.quick-input-widget a.monaco-button', { hasText: /^\s*OK\s*$/ }).first();
      if (await ok.isVisible().catch(() => false)) await ok.click();
      else {
        await page.locator('.quick-input-widget input').first().focus().catch(() => undefined);
        await page.keyboard.press('Enter');
      }
    } else {
      let index = 0;
      for (const re of prefer) {
        const i = items.findIndex((t) => re.test(t));
        if (i >= 0) {
          index = i;
          break;
        }
      }
      chose = items[index];
      // A click can time out on a row that is rendered but not yet "visible" to Playwright while the quick
      // pick lays itself out (seen once in CI); then choose it with the keyboard, which the widget always takes.
      const clicked = await rows
        .nth(index)
        .click({ timeout: 5_000 })
        .then(() => true)
        .catch(() => false);
      if (!clicked) {
        await page.locator('.quick-input-widget input').first().focus();
        for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
        await page.keyboard.press('Enter');
        chose += ' (by keyboard)';
      }
    }
    answers.push({ prompt, items, chose });
    await sleep(1500);
    if (answers.length >= 3 && new Set(answers.slice(-3).map((a) => JSON.stringify(a))).size === 1) {
      throw new Error(`the same prompt stayed open after answering it three times: ${prompt} (${items.join(' / ')})`);
    }
  }
  return answers;
}

export interface CompareDom {
  samples: { question: string; variant: string; completion: string }[];
  divergences: number;
  /** Elements created inside completion text (should be none: model output is untrusted text). */
  elementsInCompletions: string[];
  /** Set by the adversarial fixture's payloads if any of them ever ran. */
  pwned: string | null;
}

/** What the Compare view shows, read from its webview frame (data-testid hooks from the webview code). */
export async function readCompare(frame: Frame): Promise<CompareDom> {
  return frame.evaluate(() => {
    const samples = [...document.querySelectorAll('[data-testid="sample"]')].map((el) => ({
      question: el.getAttribute('data-question') ?? el.closest('[data-question]')?.getAttribute('data-question') ?? '',
      variant: el.getAttribute('data-variant') ?? el.closest('[data-variant]')?.getAttribute('data-variant') ?? '',
      completion: (el.querySelector('[data-testid="completion"]') ?? el).textContent ?? '',
    }));
    const elementsInCompletions = [...document.querySelectorAll('[data-testid="completion"] *')]
      .map((e) => e.tagName.toLowerCase())
      .filter((t) => ['script', 'img', 'a', 'iframe', 'object', 'embed', 'svg', 'style', 'link', 'form'].includes(t));
    return {
      samples,
      divergences: document.querySelectorAll('[data-testid="divergence"]').length,
      elementsInCompletions,
      pwned: document.body.getAttribute('data-pwned') ?? document.documentElement.getAttribute('data-pwned'),
    };
  });
}

/** The webview frame showing Compare for a run whose questions include `questionId`. */
export async function compareFrameFor(page: Page, questionId: string, timeoutMs = LONG): Promise<Frame> {
  const sel = `[data-testid="sample"][data-question="${questionId}"], [data-question="${questionId}"] [data-testid="sample"]`;
  return retry(
    `the Compare view with question ${questionId}`,
    async () => {
      for (const frame of page.frames()) {
        if ((await frame.locator(sel).count().catch(() => 0)) > 0) return frame;
      }
      return undefined;
    },
    timeoutMs,
    1000,
  );
}

/** Labels of the command palette's rows for a filter text. */
export async function paletteEntries(page: Page, filter: string): Promise<string[]> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 20_000 });
  await input.fill(`>${filter}`);
  await sleep(1500);
  const labels = await page.locator('.quick-input-list .monaco-list-row .quick-input-list-label').allInnerTexts();
  return labels.map((s) => s.replace(/\s+/g, ' ').trim());
}

/** Open a workspace file with Quick Open (Ctrl+P). */
export async function quickOpen(page: Page, fileName: string): Promise<void> {
  await retry(`quick open ${fileName}`, async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(fileName);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.press('Enter');
    return true;
  }, 90_000, 1000);
}
