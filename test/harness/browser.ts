/**
 * Debian's Chromium driven by playwright-core, with the flags that work on these machines
 * (no sandbox, no GPU, no background traffic).
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, assertChromiumInstalled, assertToolsInstalled } from './paths';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The page's console lines (workbench + forwarded extension-host output). */
  consoleLines: string[];
  close(): Promise<void>;
}

/** `chromiumOnly`: for pages that need no code-server (e.g. Inspect's log viewer), check only that Chromium is there. */
export async function launchBrowser(opts: { width?: number; height?: number; headless?: boolean; chromiumOnly?: boolean } = {}): Promise<BrowserSession> {
  if (opts.chromiumOnly) assertChromiumInstalled();
  else assertToolsInstalled();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: opts.headless ?? true });
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 } });
  const page = await context.newPage();
  const consoleLines: string[] = [];
  page.on('console', (msg) => consoleLines.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`[pageerror] ${err.message}`));
  return {
    browser,
    context,
    page,
    consoleLines,
    async close() {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
}
