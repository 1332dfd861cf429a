/**
 * Run an extension test suite (a module exporting `run()`) inside a real Node extension host: the VS Code
 * server shipped in code-server, started with --enable-smoke-test-driver, opened in Chromium with the
 * extensionDevelopmentPath/extensionTestsPath payload. The workbench calls `codeAutomationExit(code)` with
 * the suite's result. The extension host's console output (mocha's reporter) is forwarded to the page's
 * console; it is streamed to stdout here and kept in a log file. The server's environment carries
 * ORGANISM_LAB_TEST_RESULTS=<file>: a suite that writes its report there gets it printed at the end too.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import type { ConsoleMessage } from 'playwright-core';
import { launchBrowser } from './browser';
import { RESULTS_DIR } from './paths';
import { startVsCodeServer, writeUserSettings } from './server';

export interface ExtensionTestOptions {
  /** Folder with the extension's package.json. */
  extensionDevelopmentPath: string;
  /** The compiled test entry (a file exporting run(), or its folder). */
  extensionTestsPath: string;
  /** Folder opened as the workspace. */
  workspace: string;
  /** Extra environment for the server (and so the extension host). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Where logs go (default test-results/extension-tests). */
  logDir?: string;
  /** Print the server's own output live. */
  verbose?: boolean;
}

export interface ExtensionTestResult {
  exitCode: number;
  /** The extension-host console lines seen. */
  lines: string[];
  logDir: string;
}

/** vscode-remote://127.0.0.1:PORT/<absolute path> */
export function remoteUri(port: number, absPath: string): string {
  return `vscode-remote://127.0.0.1:${port}${encodeURI(absPath)}`;
}

/** The workbench URL with the test payload. */
export function testWorkbenchUrl(port: number, workspace: string, devPath: string, testsPath: string): string {
  const payload = [
    ['extensionDevelopmentPath', remoteUri(port, devPath)],
    ['extensionTestsPath', remoteUri(port, testsPath)],
  ];
  return `http://127.0.0.1:${port}/?folder=${encodeURIComponent(remoteUri(port, workspace))}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/**
 * The extension host's console output reaches the page's console through the workbench's log service
 * ("%c INFO color: #33f <text>"), mixed with the workbench's own logging. Strip the styling, drop the
 * workbench's own chatter (bracketed component tags, file-read cancellations, offline gallery errors).
 */
export function cleanConsoleLine(raw: string): string | undefined {
  const text = raw.replace(/^%c\s*(INFO|ERR|WARN|TRACE|DEBUG)\s+color:\s*#\w+\s?/, '');
  if (/^\[[\w .:/-]+\]/.test(text)) return undefined;
  if (/\/static\/out\/vs\/code\/browser\/workbench\/workbench\.js|^Creating a socket|^Creation of workbench contribution|Timed out waiting for authentication provider/.test(text)) return undefined;
  if (/Unable to read file|Failed to load resource|open-vsx\.org|getaddrinfo|vsda|DevTools|\[Violation\]|was preloaded using link preload/.test(text)) return undefined;
  return text;
}

/**
 * The console message as the extension host printed it: forwarded messages arrive as
 * ('%c LEVEL', 'color: …', format, ...args); apply the format like Node's console does (mocha's spec
 * reporter prints with '%s' / '%d' placeholders).
 */
async function formatConsoleMessage(msg: ConsoleMessage): Promise<string> {
  try {
    const args = await Promise.all(msg.args().map((a) => a.jsonValue().catch(() => undefined)));
    if (args.length >= 3 && typeof args[0] === 'string' && args[0].startsWith('%c') && typeof args[1] === 'string' && /^color:/.test(args[1])) {
      return `${args[0]} ${args[1]} ${format(...args.slice(2))}`;
    }
    if (args.length > 0 && typeof args[0] === 'string') return format(...args);
  } catch {
    /* fall back to Playwright's text */
  }
  return msg.text();
}

export async function runExtensionTests(opts: ExtensionTestOptions): Promise<ExtensionTestResult> {
  const logDir = opts.logDir ?? path.join(RESULTS_DIR, 'extension-tests');
  mkdirSync(logDir, { recursive: true });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'organism-lab-exttest-'));
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const lines: string[] = [];
  // A suite may also write its report to this file (mocha's reporter output); it is printed at the end.
  const resultsFile = path.join(logDir, 'results.txt');
  rmSync(resultsFile, { force: true });
  writeUserSettings(path.join(scratch, 'user-data'));
  const server = await startVsCodeServer({
    userDataDir: path.join(scratch, 'user-data'),
    serverDataDir: path.join(scratch, 'server-data'),
    extensionsDir: path.join(scratch, 'extensions'),
    logFile: path.join(logDir, 'server.log'),
    env: { ...opts.env, ORGANISM_LAB_TEST_RESULTS: resultsFile },
  });
  const session = await launchBrowser();
  try {
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));
    await session.page.exposeFunction('codeAutomationExit', (code: unknown) => {
      resolveExit(typeof code === 'number' ? code : 1);
    });
    // Lines are formatted in arrival order (reading the arguments is asynchronous).
    let queue: Promise<void> = Promise.resolve();
    session.page.on('console', (msg) => {
      queue = queue.then(async () => {
        const text = cleanConsoleLine(await formatConsoleMessage(msg));
        if (text === undefined) return;
        lines.push(text);
        process.stdout.write(text.split('\n').map((l) => `  | ${l}\n`).join(''));
      });
    });
    session.page.on('pageerror', (err) => process.stdout.write(`  | [page error] ${err.message}\n`));
    const url = testWorkbenchUrl(server.port, opts.workspace, opts.extensionDevelopmentPath, opts.extensionTestsPath);
    console.log(`extension tests: ${url}`);
    await session.page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((r) => {
      timer = setTimeout(() => {
        console.error(`extension tests: no result after ${timeoutMs / 1000}s; giving up`);
        r(124);
      }, timeoutMs);
    });
    let finished = false;
    const serverDied = new Promise<number>((r) =>
      server.process.once('exit', (code) => {
        if (finished) return;
        console.error(`extension tests: the VS Code server exited (${code}) before the suite finished`);
        r(125);
      }),
    );
    const exitCode = await Promise.race([exited, timedOut, serverDied]);
    finished = true;
    await queue;
    clearTimeout(timer);
    await session.page.screenshot({ path: path.join(logDir, 'workbench-at-exit.png') }).catch(() => undefined);
    writeFileSync(path.join(logDir, 'extension-host-console.log'), lines.join('\n') + '\n');
    if (existsSync(resultsFile)) {
      console.log(`extension tests: the suite's report (${resultsFile}):`);
      process.stdout.write(readFileSync(resultsFile, 'utf8'));
    }
    return { exitCode, lines, logDir };
  } finally {
    await session.close();
    await server.stop();
    keepExtensionLogs(scratch, logDir);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The extension's own log (its "Organism Lab" output channel, e.g. the panels' open times) kept beside the others. */
function keepExtensionLogs(scratch: string, logDir: string): void {
  if (!existsSync(scratch)) return;
  for (const rel of readdirSync(scratch, { recursive: true, encoding: 'utf8' })) {
    if (/organism lab[^/]*\.log$/i.test(rel)) copyFileSync(path.join(scratch, rel), path.join(logDir, `output-${path.basename(rel).replace(/\s+/g, '-')}`));
  }
}
