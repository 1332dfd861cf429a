/**
 * End-to-end: the packaged extension in code-server, driven through Debian's Chromium.
 * Run with `npm run test:e2e` (scripts/e2e.ts packages the extension first and sets ORGANISM_LAB_VSIX).
 *
 * Steps share one code-server and one browser page, in order: the workbench, the palette, the views, a run
 * of the demo prompt set from the palette and one from a CodeLens, Compare on that run, Compare on the
 * adversarial fixture (completions with <script>, <img onerror>, markdown links: must render as inert text),
 * a reload (state comes back), the rule judge on the demo run, two hand labels (keys a / m) in its Compare
 * panel, its Run Report (metrics table, scatter) opened from that panel, then the other panels, the prompt-set review, and
 * the backdoor organism's prompt set run under its two conditions (its report's condition × variant table and paired
 * differences). Screenshots go to test-results/screens/; a panel or
 * demo file that does not exist yet makes its step SKIP with the reason (never a fake pass) on a developer's machine,
 * and FAIL in CI (CI set, or ORGANISM_LAB_E2E_REQUIRE_DEMO=1): there a skipped step would hide a broken flow.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { launchBrowser, type BrowserSession } from '../harness/browser';
import { installExtension } from '../harness/extensionInstall';
import { NODE24_BIN, SCREENS_DIR, VSIX, assertToolsInstalled } from '../harness/paths';
import { startCodeServer, writeUserSettings, type RunningServer } from '../harness/server';
import { LONG, StopRetry, notifications, openWorkbench, retry, runCommand, screenshot, sleep } from '../harness/workbench';
import { cells, findFiles, findRunFiles, readRunFile } from './runFiles';
import { answerPrompts, compareFrameFor, paletteEntries, quickOpen, readCompare, type PromptAnswer } from './ui';
import { makeWorkspace, type E2eWorkspace } from './workspace';

const screens: { name: string; status: 'taken' | 'skipped' | 'FAILED'; note: string }[] = [];

/**
 * CI (CI set to anything but "false"/"0") or ORGANISM_LAB_E2E_REQUIRE_DEMO=1: every step must run; a step that
 * would skip (a command missing from the palette, no CodeLens, no panel to reload, no demo run) fails instead.
 */
const STRICT_WHY = [
  process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0' ? `CI=${process.env.CI}` : '',
  process.env.ORGANISM_LAB_E2E_REQUIRE_DEMO === '1' ? 'ORGANISM_LAB_E2E_REQUIRE_DEMO=1' : '',
].filter(Boolean).join(', ');
const STRICT = STRICT_WHY !== '';
let ws: E2eWorkspace;
let server: RunningServer | undefined;
let session: BrowserSession | undefined;
let paletteTitles: string[] = [];
let installedExtension = '';
/** The run files written by the palette run and the CodeLens run (used by the Compare step). */
let demoRun: string | undefined;
let lensRun: string | undefined;

function log(msg: string): void {
  process.stdout.write(`# ${msg}\n`);
}

async function shot(name: string, note = ''): Promise<void> {
  await screenshot(session!.page, name);
  screens.push({ name, status: 'taken', note });
}

/**
 * How long to wait for a command's quick pick to appear (a maximum: answering starts as soon as it shows).
 * Finding the run files can take over 10 s on a loaded CI machine; one CI run lost a step that way.
 */
const PICK_WAIT_MS = 30_000;

/** A step that cannot run: skipped with the reason on a developer's machine, a failure under STRICT (CI). */
function skipScreen(t: TestContext, name: string, reason: string): void {
  screens.push({ name, status: STRICT ? 'FAILED' : 'skipped', note: reason });
  if (STRICT) throw new Error(`${reason} — in CI a skipped step is a failure (${STRICT_WHY})`);
  t.skip(reason);
}

/** The demo organism is missing: skip, or fail under STRICT (CI: the main flow must be proven). */
function demoMissing(t: TestContext, name: string): void {
  skipScreen(t, name, 'examples/prompts/demo.yaml, examples/organisms/demo-base/config.json or examples/organisms/demo-narrow-r1/adapter_config.json is missing');
}

/** A RegExp matching a file's base name literally. */
function fileNamePattern(file: string): RegExp {
  return new RegExp(path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

/** No editor open (so no tab is a run source): View: Close All Editors, then wait for the tabs to go. */
async function closeAllEditors(page: BrowserSession['page']): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
  await retry('every editor tab to close', async () => ((await page.locator('.tabs-container .tab').count().catch(() => 1)) === 0 ? true : undefined), 30_000, 500);
}

async function activeTabTitle(page: BrowserSession['page']): Promise<string> {
  // The focused editor group's active tab (with several groups, each has an active tab).
  const focused = page.locator('.editor-group-container.active .tabs-container .tab.active').first();
  const text = (await focused.count().catch(() => 0)) > 0
    ? await focused.innerText().catch(() => '')
    : await page.locator('.tabs-container .tab.active').first().innerText().catch(() => '');
  return text.replace(/\s+/g, ' ').trim();
}

/** The Run Report webview's frame (the one drawing the scatter or its empty/error note). */
async function reportFrame(page: BrowserSession['page']) {
  const sel = '[data-testid="report-variants"], [data-testid="report-empty"], [data-testid="report-error"]';
  return retry(
    'the Run Report view',
    async () => {
      for (const frame of page.frames()) if ((await frame.locator(sel).count().catch(() => 0)) > 0) return frame;
      return undefined;
    },
    LONG,
    1000,
  );
}

/**
 * Whether "Organism Lab: <title>" is in the command palette. The palette's list is virtual (only the rows in
 * view are in the DOM), so a title not among those seen in the first listing is looked up by itself.
 */
async function hasCommand(title: string): Promise<boolean> {
  if (paletteTitles.some((t) => t.includes(title))) return true;
  const rows = await paletteEntries(session!.page, `Organism Lab: ${title}`).catch(() => [] as string[]);
  await session!.page.keyboard.press('Escape');
  const found = rows.filter((t) => t.startsWith('Organism Lab:') && t.includes(title));
  paletteTitles.push(...found.filter((t) => !paletteTitles.includes(t)));
  return found.length > 0;
}

function demoQuestionIds(): string[] {
  const doc = parseYaml(readFileSync(ws.demo.promptSet!, 'utf8')) as { id?: string }[];
  return (Array.isArray(doc) ? doc : []).map((q) => String(q.id)).filter(Boolean);
}

/** Wait for a run file newer than `since` holding >= 2 variants for every question in `questions`, stable for a few seconds. */
async function waitForRun(since: number, questions: string[], what: string): Promise<string> {
  let lastCount = -1;
  let stableSince = 0;
  return retry(
    what,
    async () => {
      const fresh = findRunFiles(ws.workspace).filter((r) => r.mtimeMs > since && !r.file.endsWith('adversarial.run.jsonl'));
      for (const { file } of fresh) {
        const { samples } = readRunFile(file);
        const ok = questions.every((q) => new Set(samples.filter((s) => s.question_id === q).map((s) => s.variant)).size >= 2);
        if (!ok) continue;
        if (samples.length !== lastCount) {
          lastCount = samples.length;
          stableSince = Date.now();
          return undefined;
        }
        if (Date.now() - stableSince > 4000) return file;
      }
      const toasts = await notifications(session!.page);
      const error = toasts.find((t) => /error|failed|cannot|could not/i.test(t));
      if (error) throw new StopRetry(`${what}: the extension reported: ${error.replace(/\s+/g, ' ')}`);
      return undefined;
    },
    6 * 60_000,
    2000,
  );
}

describe('Organism Lab in code-server (e2e)', () => {
  before(async () => {
    assertToolsInstalled();
    mkdirSync(SCREENS_DIR, { recursive: true });
    mkdirSync(path.join(SCREENS_DIR, '..', 'debug'), { recursive: true });
    for (const f of readdirSync(SCREENS_DIR)) rmSync(path.join(SCREENS_DIR, f), { force: true });
    ws = makeWorkspace();
    log(`workspace ${ws.workspace}; demo: ${JSON.stringify(ws.demo)}`);
    writeUserSettings(ws.userDataDir);
    const vsix = process.env.ORGANISM_LAB_VSIX ?? VSIX;
    installedExtension = installExtension(vsix, ws.extensionsDir, ws.userDataDir);
    log(`installed ${path.basename(installedExtension)}`);
    server = await startCodeServer({
      workspace: ws.workspace,
      userDataDir: ws.userDataDir,
      extensionsDir: ws.extensionsDir,
      logFile: path.join(SCREENS_DIR, '..', 'e2e-code-server.log'),
    });
    log(`code-server at ${server.origin}`);
    session = await launchBrowser();
    await openWorkbench(session.page, `${server.origin}/?folder=${encodeURIComponent(ws.workspace)}`);
  });

  after(async () => {
    const lines = screens.map((s) => `- ${s.name}: ${s.status}${s.note ? ` (${s.note})` : ''}`);
    writeFileSync(path.join(SCREENS_DIR, 'index.md'), `# e2e screenshots\n\n${lines.join('\n')}\n`);
    if (session) {
      writeFileSync(path.join(SCREENS_DIR, '..', 'e2e-browser-console.log'), session.consoleLines.join('\n') + '\n');
      await session.close();
    }
    await server?.stop();
    if (ws && !process.env.ORGANISM_LAB_KEEP_E2E) rmSync(ws.root, { recursive: true, force: true });
  });

  it('loads onnxruntime-node from the installed extension under the server\'s Node 24', () => {
    const probe = "const ort=require('onnxruntime-node');const t=new ort.Tensor('float32',new Float32Array([1,2,3]),[3]);process.stdout.write(String(t.dims[0]))";
    const out = execFileSync(NODE24_BIN, ['-e', probe], { cwd: installedExtension, encoding: 'utf8' });
    assert.equal(out, '3');
  });

  it('opens the workbench on the demo workspace', async () => {
    await retry('the explorer to list the workspace', async () => (await session!.page.locator('.explorer-folders-view .monaco-list-row').count()) > 0, LONG);
    await shot('workbench');
  });

  it('lists the Organism Lab commands in the command palette', async () => {
    paletteTitles = await retry('Organism Lab commands in the palette', async () => {
      const titles = await paletteEntries(session!.page, 'Organism Lab:');
      return titles.filter((t) => t.startsWith('Organism Lab:')).length >= 5 ? titles : undefined;
    }, LONG, 2000);
    log(`palette: ${paletteTitles.join(' | ')}`);
    await shot('command-palette');
    await session!.page.keyboard.press('Escape');
    for (const title of ['Run Prompt Set', 'Compare Variants in Run', 'Load Model']) {
      assert.ok(await hasCommand(title), `"Organism Lab: ${title}" missing from the palette: ${paletteTitles.join(', ')}`);
    }
  });

  it('shows the Organism Lab views in the activity bar', async (t) => {
    const item = session!.page.locator('.activitybar .action-item a[aria-label^="Organism Lab"], .activitybar .action-item[aria-label^="Organism Lab"]').first();
    if (!(await item.count())) return skipScreen(t, 'views', 'no Organism Lab activity-bar item');
    await item.click();
    await retry('the Organism Lab side bar', async () => session!.page.locator('.sidebar .pane-header', { hasText: /Checkpoints|Prompt Sets|Runs/i }).count(), 60_000);
    await sleep(2000);
    await shot('views');
  });

  it('runs the demo prompt set from the command palette', async (t) => {
    if (!ws.demo.promptSet || !ws.demo.base || !ws.demo.adapter) return demoMissing(t, 'run-palette');
    const questions = demoQuestionIds();
    assert.ok(questions.length > 0, 'demo.yaml has no question ids');
    const since = Date.now();
    await runCommand(session!.page, 'Organism Lab: Run Prompt Set');
    const answers: PromptAnswer[] = await answerPrompts(session!.page, [/demo\.yaml/, /demo-narrow-r1/, /demo-base/, /with and without|both|base.*adapter/i], 15_000, 30_000);
    log(`prompts answered: ${JSON.stringify(answers)}`);
    await sleep(1500);
    await shot('run-progress');
    demoRun = await waitForRun(since, questions, `a run file with base and adapter samples for ${questions.join(', ')}`);
    const { header, samples } = readRunFile(demoRun);
    const { variants } = cells(samples);
    log(`run file ${path.relative(ws.workspace, demoRun)}: ${samples.length} samples, variants ${variants.join(', ')}`);
    assert.ok(header, 'run file has no header');
    assert.ok(variants.length >= 2, `expected base and adapted variants, got ${variants.join(', ')}`);
    await shot('run-done');
  });

  it('runs one question from its CodeLens', async (t) => {
    if (!ws.demo.promptSet || !ws.demo.base || !ws.demo.adapter) return demoMissing(t, 'codelens');
    const page = session!.page;
    await quickOpen(page, 'demo.yaml');
    const lens = page.locator('.codelens-decoration a', { hasText: /with and without adapter/i }).first();
    const found = await lens.waitFor({ state: 'visible', timeout: 90_000 }).then(() => true).catch(() => false);
    if (!found) return skipScreen(t, 'codelens', 'no "Run with and without adapter" CodeLens appeared above the questions of demo.yaml');
    await shot('codelens');
    const questions = demoQuestionIds();
    const since = Date.now();
    await lens.click();
    const answers = await answerPrompts(page, [/demo-narrow-r1/, /demo-base/], 8_000, 15_000);
    log(`CodeLens prompts answered: ${JSON.stringify(answers)}`);
    // The first lens belongs to the first question.
    const file = await waitForRun(since, [questions[0]], `a run file for question ${questions[0]} from the CodeLens`);
    lensRun = file;
    const { samples } = readRunFile(file);
    assert.ok(samples.every((s) => s.question_id === questions[0]), `CodeLens run holds other questions: ${[...new Set(samples.map((s) => s.question_id))].join(', ')}`);
  });

  it('shows both variants of every question in the Compare panel, divergence marked', async (t) => {
    const run = demoRun ?? lensRun;
    if (!run) return skipScreen(t, 'compare', 'no demo run file (the palette and CodeLens runs were skipped or failed)');
    const page = session!.page;
    await runCommand(page, 'Organism Lab: Compare Variants in Run');
    await answerPrompts(page, [new RegExp(path.basename(run).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))], PICK_WAIT_MS);
    const { samples } = readRunFile(run);
    const { questions } = cells(samples);
    const frame = await compareFrameFor(page, questions[0]);
    await sleep(1500);
    const dom = await readCompare(frame);
    await shot('compare');
    for (const q of questions) {
      const variants = new Set(dom.samples.filter((s) => s.question === q).map((s) => s.variant));
      assert.ok(variants.size >= 2, `question ${q}: the Compare view shows variants [${[...variants].join(', ')}], expected base and adapter`);
    }
    const diverged = samples.filter((s) => typeof s.divergence_index === 'number').length;
    if (diverged > 0) assert.ok(dom.divergences > 0, `${diverged} samples diverge in the run file but no [data-testid="divergence"] marker is shown`);
    log(`compare: ${dom.samples.length} samples shown, ${dom.divergences} divergence markers (${diverged} diverging rows in the file)`);
  });

  it('renders adversarial completions as inert text', async (t) => {
    const page = session!.page;
    if (!(await hasCommand('Compare Variants in Run'))) return skipScreen(t, 'compare-adversarial', 'no Compare command');
    await runCommand(page, 'Organism Lab: Compare Variants in Run');
    await answerPrompts(page, [/adversarial\.run\.jsonl/], PICK_WAIT_MS);
    const frame = await compareFrameFor(page, 'xss_script');
    await sleep(1500);
    const dom = await readCompare(frame);
    await shot('compare-adversarial');
    const all = dom.samples.map((s) => s.completion).join('\n');
    assert.match(all, /<script>document\.body/, 'the <script> completion is not shown as text');
    assert.match(all, /<img src=x onerror=/, 'the <img onerror> completion is not shown as text');
    assert.match(all, /\[this page\]\(javascript:/, 'the markdown-link completion is not shown as text');
    assert.deepEqual(dom.elementsInCompletions, [], `elements were created from completion text: ${dom.elementsInCompletions.join(', ')}`);
    assert.equal(dom.pwned, null, 'a payload from the adversarial completions ran');
    for (const q of ['xss_script', 'xss_img', 'xss_link']) {
      assert.ok(new Set(dom.samples.filter((s) => s.question === q).map((s) => s.variant)).size >= 2, `question ${q}: both variants should be shown`);
    }
  });

  it('brings the Compare panel back after a window reload', async (t) => {
    const page = session!.page;
    if (!(await compareFrameFor(page, 'xss_script', 5_000).catch(() => undefined))) return skipScreen(t, 'compare-after-reload', 'no Compare panel open to reload');
    const frameBefore = await compareFrameFor(page, 'xss_script');
    // A filter set before the reload must come back too (the panel's state, not only its run file):
    // hide the adapter variant, see the samples drop to the base ones, reload, expect the same.
    const adapterFilter = frameBefore.locator('[data-testid="filter-variant"]', { hasText: /^\s*adapter\s*$/ }).first();
    const hasFilter = (await adapterFilter.count()) > 0;
    if (hasFilter) {
      await adapterFilter.click();
      await retry('the adapter samples to be filtered out', async () => {
        const d = await readCompare(frameBefore);
        return d.samples.length > 0 && d.samples.every((x) => x.variant === 'base');
      }, 15_000);
    } else log('reload: no variant filter ([data-testid="filter-variant"]) in the Compare view; checking the samples only');
    await sleep(1500); // the webview persists its state asynchronously
    const before = await readCompare(frameBefore);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await openWorkbench(page, page.url());
    const frame = await compareFrameFor(page, 'xss_script', 3 * 60_000);
    await sleep(1500);
    const afterReload = await readCompare(frame);
    await shot('compare-after-reload');
    assert.deepEqual(
      afterReload.samples.map((s) => `${s.question}/${s.variant}`).sort(),
      before.samples.map((s) => `${s.question}/${s.variant}`).sort(),
      'the restored panel shows different samples',
    );
    if (hasFilter) assert.ok(afterReload.samples.every((x) => x.variant === 'base'), 'the variant filter set before the reload was lost');
  });

  it('opens a run file as a report (custom editor)', async () => {
    const page = session!.page;
    const name = 'adversarial.run.jsonl';
    // The Compare panel of this run is still open from the earlier steps and shows the same questions: close
    // every editor first, so that only the custom editor opened now can show them.
    const tabTitles = async () => (await page.locator('.tabs-container .tab').allInnerTexts().catch(() => [] as string[])).map((x) => x.replace(/\s+/g, ' ').trim());
    const panelOpen = async () => (await tabTitles()).some((x) => /^(Compare|Report):/.test(x));
    await runCommand(page, 'View: Close All Editors');
    let closed = await retry('the panels to close', async () => !(await panelOpen()), 15_000, 500).then(() => true).catch(() => false);
    if (!closed) {
      // The command did not close them (it asked something, or another row ran): close each panel by its tab's close button.
      await page.keyboard.press('Escape');
      for (let i = 0; i < 10 && (await panelOpen()); i++) {
        const tab = page.locator('.tabs-container .tab', { hasText: /^\s*(Compare|Report):/ }).first();
        await tab.click().catch(() => undefined);
        await tab.locator('.tab-actions .action-label').first().click({ force: true, timeout: 5_000 }).catch(() => undefined);
        await sleep(1000);
      }
      closed = !(await panelOpen());
    }
    assert.ok(closed, `could not close the open panels before opening ${name} (tabs: ${(await tabTitles()).join(' | ')})`);
    await quickOpen(page, name);
    // The active tab must be the file itself (a resource tab; a webview panel such as Compare has none) ...
    const tab = await retry(`the active tab to be ${name}`, async () => {
      const active = page.locator('.tabs-container .tab.active').first();
      return (await active.getAttribute('data-resource-name').catch(() => null)) === name ? active : undefined;
    }, 30_000, 500);
    const title = (await tab.innerText()).replace(/\s+/g, ' ').trim();
    assert.ok(!/^(Compare|Report):/.test(title), `the active tab is "${title}", a panel, not the run file's editor`);
    // ... shown by the organismLab.runFile custom editor (a webview), not as text.
    const asText = await page.locator(`.editor-group-container.active .monaco-editor[data-uri$="${name}"]`).count();
    assert.equal(asText, 0, `${name} opened in the text editor, not in the organismLab.runFile custom editor`);
    const frame = await compareFrameFor(page, 'xss_img', LONG);
    assert.ok(frame);
    const tabs = (await page.locator('.tabs-container .tab').allInnerTexts()).map((x) => x.replace(/\s+/g, ' ').trim());
    assert.ok(!tabs.some((x) => /^Compare:/.test(x)), `a Compare panel is open (${tabs.join(' | ')}): the view seen may not be the custom editor's`);
    log(`run-file editor: active tab "${title}" (data-resource-name=${name}), tabs: ${tabs.join(' | ')}`);
    await sleep(1500);
    await shot('run-file-editor');
  });

  it('judges the demo run with the workspace\'s rule judge', async (t) => {
    const run = demoRun ?? lensRun;
    const judges = findFiles(ws.workspace, /\.judges\.ya?ml$/);
    if (!run || judges.length === 0) return skipScreen(t, 'judge', !run ? 'no demo run file to judge' : 'no *.judges.yaml in the demo workspace');
    if (!(await hasCommand('Judge Run'))) return skipScreen(t, 'judge', 'no "Organism Lab: Judge Run" command');
    const page = session!.page;
    const before = readRunFile(run).judgements;
    // Judge Run takes the run of the active tab when there is one (the run-file editor of the step before is
    // the adversarial run): make a plain file the active tab so the command asks which run.
    await closeAllEditors(page);
    await runCommand(page, 'Organism Lab: Judge Run');
    const name = new RegExp(path.basename(run).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // Run file first, then a judge from the judges file (rules: no network, no API key).
    const answers = await answerPrompts(page, [name, /rules ·/, /\.judges\.ya?ml/], PICK_WAIT_MS);
    log(`judge prompts answered: ${JSON.stringify(answers)}`);
    const judged = await retry('judgement rows in the run file', async () => {
      const n = readRunFile(run).judgements;
      return n > before && n >= readRunFile(run).samples.length ? n : undefined;
    }, 3 * 60_000, 2000);
    log(`judge: ${judged} judgement rows in ${path.basename(run)}`);
  });

  it('labels two demo samples by hand in the Compare panel (keys a and m)', async (t) => {
    const run = demoRun ?? lensRun;
    if (!run) return skipScreen(t, 'labels', 'no demo run file to label');
    const page = session!.page;
    await runCommand(page, 'Organism Lab: Compare Variants in Run');
    await answerPrompts(page, [fileNamePattern(run)], PICK_WAIT_MS);
    const { samples, labels: labelsBefore } = readRunFile(run);
    const frame = await compareFrameFor(page, samples[0].question_id);
    await sleep(1500);
    const ids = (await frame.locator('[data-testid="sample"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-sample-id') ?? ''))).filter(Boolean);
    assert.ok(ids.length >= 2, `the Compare view of ${path.basename(run)} shows ${ids.length} sample cards, expected at least 2`);
    const wanted = [
      { id: ids[0], label: 'aligned', key: 'a' },
      { id: ids[1], label: 'misaligned', key: 'm' },
    ] as const;
    for (const { id, label, key } of wanted) {
      const card = frame.locator(`[data-testid="sample"][data-sample-id=${JSON.stringify(id)}]`).first();
      await card.scrollIntoViewIfNeeded();
      await card.click({ position: { x: 8, y: 8 } }); // the card's corner: focus it without selecting completion text
      await page.keyboard.press(key);
      await retry(`data-human-label="${label}" on sample ${id} after pressing ${key}`, async () => (await card.getAttribute('data-human-label')) === label, 15_000, 500);
    }
    const added = await retry(
      'two label rows appended to the run file',
      async () => {
        const rows = readRunFile(run).labels.slice(labelsBefore.length);
        return wanted.every((w) => rows.some((r) => r.sample_id === w.id && r.label === w.label)) ? rows : undefined;
      },
      15_000,
      500,
    );
    log(`labels: ${added.map((r) => `${r.sample_id}=${r.label}`).join(', ')} appended to ${path.basename(run)}`);
    await shot('labels', `${path.basename(run)}: ${added.map((r) => `${r.sample_id}=${r.label}`).join(', ')}`);
  });

  it('opens the Run Report of the demo run from its Compare panel (metrics table and scatter)', async (t) => {
    const run = demoRun ?? lensRun;
    if (!run) return skipScreen(t, 'run-report', 'no demo run file');
    if (!(await hasCommand('Open Run Report'))) return skipScreen(t, 'run-report', 'no "Organism Lab: Open Run Report" command');
    const page = session!.page;
    const name = path.basename(run);
    // The demo run's Compare panel is the active tab (the labelling step left it there; make sure of it):
    // "Open Run Report" then opens that run's report without asking.
    await runCommand(page, 'Organism Lab: Compare Variants in Run');
    await answerPrompts(page, [fileNamePattern(run)], PICK_WAIT_MS);
    await retry(`the Compare tab of ${name} to be active`, async () => (await activeTabTitle(page)).includes(`Compare: ${name}`), 30_000, 500);
    await runCommand(page, 'Organism Lab: Open Run Report');
    const answers = await answerPrompts(page, [fileNamePattern(run)], 5_000);
    assert.deepEqual(answers, [], `"Open Run Report" asked for a run although the active tab is the Compare panel of ${name}: ${JSON.stringify(answers)}`);
    await retry(`the active tab "Report: ${name}"`, async () => (await activeTabTitle(page)).includes(`Report: ${name}`), 30_000, 500);
    const frame = await reportFrame(page);
    const dom = await frame.evaluate(() => ({
      variantRows: document.querySelectorAll('[data-testid="report-variants"] tbody tr').length,
      questionRows: document.querySelectorAll('[data-testid="report-questions"] tbody tr').length,
      canvas: (() => {
        const c = document.querySelector('canvas[data-testid="report-scatter"]') as HTMLCanvasElement | null;
        return c ? { width: c.width, height: c.height } : null;
      })(),
      error: document.querySelector('[data-testid="report-error"]')?.textContent ?? null,
    }));
    log(`run-report: ${JSON.stringify(dom)}`);
    assert.equal(dom.error, null, `the report shows an error: ${dom.error}`);
    assert.ok(dom.variantRows >= 2, `the report's metrics table has ${dom.variantRows} variant rows, expected base and adapter`);
    assert.ok(dom.canvas && dom.canvas.width > 0 && dom.canvas.height > 0, `no drawn scatter canvas in the report: ${JSON.stringify(dom.canvas)}`);
    await sleep(2000); // let the chart finish its animation
    await shot('run-report', `Report: ${name}`);
  });

  it('offers a quick pick of run files when "Open Run Report" has no run in the active tab', async (t) => {
    if (!(await hasCommand('Open Run Report'))) return skipScreen(t, 'run-report-pick', 'no "Organism Lab: Open Run Report" command');
    const page = session!.page;
    // A Run Report, a Compare panel and the run-file editor are run sources (they answer "which run?" without
    // asking, e984105). Close every editor — then the command must ask.
    await closeAllEditors(page);
    const before = await activeTabTitle(page);
    await runCommand(page, 'Organism Lab: Open Run Report');
    const answers = await answerPrompts(page, [/adversarial\.run\.jsonl/], PICK_WAIT_MS);
    log(`run-report quick pick: ${JSON.stringify(answers)} (active tab before: ${before})`);
    assert.ok(answers.length > 0 && /adversarial\.run\.jsonl/.test(answers[0].chose), `no run-file quick pick was shown (prompts: ${JSON.stringify(answers)})`);
    await retry('the active tab "Report: adversarial.run.jsonl"', async () => (await activeTabTitle(page)).includes('Report: adversarial.run.jsonl'), 30_000, 500);
  });

  for (const panel of [
    {
      name: 'activations',
      title: 'Open Activations',
      prefer: () => [/^demo-.*\.run\.jsonl/, /adversarial\.run\.jsonl/],
      // No editor open, so the command asks which run (an open Report would answer for it): the demo run, whose
      // model is in the workspace. Its first sample's layer × token heatmap must be drawn, with no error shown.
      fresh: true,
      verify: async (page: BrowserSession['page']) => {
        const frame = await retry(
          'the Activations panel with a drawn heatmap or an error',
          async () => {
            for (const f of page.frames()) {
              const state = await f
                .evaluate(() => {
                  const canvas = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement | null;
                  const error = document.querySelector('[data-testid="status"] .error');
                  return { drawn: !!canvas && canvas.width > 0 && canvas.height > 0, error: error ? (error.textContent ?? '') : null, status: document.querySelector('[data-testid="status"]')?.textContent ?? '' };
                })
                .catch(() => null);
              if (state && (state.error !== null || (state.drawn && /on identical tokens/.test(state.status)))) return state;
            }
            return undefined;
          },
          LONG,
          1000,
        );
        log(`activations: ${JSON.stringify(frame)}`);
        assert.equal(frame.error, null, `the Activations panel shows an error: ${frame.error}`);
        assert.match(frame.status, /^.+: ".+" vs ".+" on identical tokens/, `unexpected status line: ${frame.status}`);
      },
    },
    { name: 'inspector', title: 'Inspect Checkpoint', prefer: () => [/demo-narrow-r1(?!-run)/, /demo-base/], path: () => ws.demo.adapter ?? ws.demo.base },
    {
      name: 'inspector-training-run',
      title: 'Inspect Checkpoint',
      prefer: () => [/demo-narrow-r1-run/],
      path: () => ws.demo.trainingRun,
      // The training run's view: its heading names the checkpoints, and the norm / cosine / PCA charts are drawn.
      verify: async (page: BrowserSession['page']) => {
        const frame = await retry(
          'the Inspector showing the training run',
          async () => {
            for (const f of page.frames()) if ((await f.getByText(/^Training run: \d+ checkpoints/).count().catch(() => 0)) > 0) return f;
            return undefined;
          },
          LONG,
          1000,
        );
        const dom = await frame.evaluate(() => ({
          heading: Array.from(document.querySelectorAll('h2')).map((h) => h.textContent ?? '').find((t) => t.startsWith('Training run:')) ?? '',
          canvases: Array.from(document.querySelectorAll('canvas')).filter((c) => c.width > 0 && c.height > 0).length,
        }));
        log(`inspector-training-run: ${JSON.stringify(dom)}`);
        assert.match(dom.heading, /^Training run: 30 checkpoints \(steps 4…120\)/, `unexpected training-run heading: ${dom.heading}`);
        assert.ok(dom.canvases >= 2, `the training-run view drew ${dom.canvases} charts, expected the norm and trajectory charts`);
      },
    },
  ] as Array<{ name: string; title: string; prefer: () => RegExp[]; path?: () => string | undefined; fresh?: boolean; verify?: (page: BrowserSession['page']) => Promise<void> }>) {
    it(`opens the ${panel.name} panel`, async (t) => {
      if (!(await hasCommand(panel.title))) return skipScreen(t, panel.name, `no "Organism Lab: ${panel.title}" command`);
      if (panel.path && !panel.path()) return demoMissing(t, panel.name);
      const page = session!.page;
      if (panel.fresh) await closeAllEditors(page);
      const tabs = () => page.locator('.tabs-container .tab').allInnerTexts().then((l) => l.map((x) => x.replace(/\s+/g, ' ').trim()));
      const activeTab = () => page.locator('.tabs-container .tab.active').first().innerText().catch(() => '');
      const tabsBefore = await tabs();
      const activeBefore = await activeTab();
      await runCommand(page, `Organism Lab: ${panel.title}`);
      const answers = await answerPrompts(page, panel.prefer(), 8_000, 5_000, panel.path?.()).catch(() => [] as PromptAnswer[]);
      // Either a new editor tab (the panel) appears, or the command says why not (a notification).
      const outcome = await retry(
        `a new panel or a notification after ${panel.title}`,
        async () => {
          const now = await tabs();
          const active = await activeTab();
          if (now.some((tab) => !tabsBefore.includes(tab)) || (active && active !== activeBefore)) return { opened: true, toasts: [] as string[], tab: active };
          const toasts = await notifications(page);
          return toasts.length ? { opened: false, toasts, tab: '' } : undefined;
        },
        30_000,
        1000,
      ).catch(() => ({ opened: false, toasts: [] as string[], tab: '' }));
      if (!outcome.opened) {
        await page.screenshot({ path: path.join(SCREENS_DIR, '..', 'debug', `skipped-${panel.name}.png`) }).catch(() => undefined);
        const why = outcome.toasts.length ? `notification: ${outcome.toasts.join(' / ').replace(/\s+/g, ' ')}` : 'nothing happened within 30 s';
        const reason = `"${panel.title}" opened no panel (${why}; prompts: ${JSON.stringify(answers)})`;
        // CI proves the mechanism views on the demo organism: there, a panel that does not open is a failure (skipScreen).
        return skipScreen(t, panel.name, reason);
      }
      log(`${panel.name}: opened "${outcome.tab.replace(/\s+/g, ' ')}" (prompts: ${JSON.stringify(answers)})`);
      if (panel.verify) await panel.verify(page);
      await sleep(5000); // let the webview render (charts, tables)
      await shot(panel.name, outcome.tab.replace(/\s+/g, ' '));
    });
    }

  it('shows the SAE diff of the demo run in its Activations panel (demo SAE: features along the adapter write direction)', async (t) => {
    const run = demoRun ?? lensRun;
    if (!run) return skipScreen(t, 'sae-diff', 'no demo run file');
    if (!(await hasCommand('SAE Diff of a Run'))) return skipScreen(t, 'sae-diff', 'no "Organism Lab: SAE Diff of a Run" command');
    const page = session!.page;
    await runCommand(page, 'Organism Lab: SAE Diff of a Run (Features the Adapter Turns Up or Down)…');
    // Which run (when no run tab is active), then which SAE: the demo's examples/saes/demo-r1-layer1.
    const answers = await answerPrompts(page, [fileNamePattern(run), /demo-r1-layer1/], PICK_WAIT_MS);
    log(`sae-diff prompts answered: ${JSON.stringify(answers)}`);
    const frame = await retry('the SAE diff tables in the Activations panel', async () => {
      for (const f of page.frames()) if ((await f.locator('[data-testid="sae-rising"] tbody tr').count().catch(() => 0)) > 0) return f;
      return undefined;
    }, 4 * 60_000, 2000);
    const top = await frame.evaluate(() => {
      const rows = Array.from(document.querySelectorAll('[data-testid="sae-rising"] tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? ''));
      document.querySelector('[data-testid="sae-features"]')?.scrollIntoView();
      return { rows: rows.length, first: rows[0], info: document.querySelector('[data-testid="sae-info"]')?.textContent ?? '' };
    });
    log(`sae-diff: ${JSON.stringify(top)}`);
    // The demo SAE's features 0 and 1 are ±unit(LoRA B) at the adapter's layer: one of them rises most.
    assert.ok(top.first && /^#[01]$/.test(top.first[0]), `the top rising feature is ${top.first?.[0]}, expected #0 or #1 (the adapter's write direction)`);
    assert.match(top.info, /blocks\.1\.hook_resid_post = output of decoder layer 1/);
    await frame.locator('[data-testid="sae-rising"] tbody tr').first().getByRole('button').first().click();
    await retry('the top-activating tokens of the top feature', async () => ((await frame.locator('[data-testid="sae-top-tokens"] tbody tr').count().catch(() => 0)) > 0 ? true : undefined), 2 * 60_000, 1000);
    await frame.evaluate(() => document.querySelector('[data-testid="sae-features"]')?.scrollIntoView());
    await sleep(1500);
    await shot('sae-diff', `SAE diff of ${path.basename(run)} with examples/saes/demo-r1-layer1`);
  });

  it('marks the questions of a prompt set changed since main, with the old text\'s rates in the hover (prompt-set review)', async (t) => {
    if (!ws.demo.promptSet) return demoMissing(t, 'prompt-set-review');
    const page = session!.page;
    // A git repository inside the workspace: prompts/demo-review.yaml is demo.yaml on main; on the branch one
    // question is reworded and one added. Removed at the end so that later steps see the workspace as before.
    const repo = path.join(ws.workspace, 'review-demo');
    try {
      const env = { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid' };
      const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, stdio: 'pipe' });
      mkdirSync(path.join(repo, 'prompts'), { recursive: true });
      const file = path.join(repo, 'prompts', 'demo-review.yaml');
      const original = readFileSync(ws.demo.promptSet, 'utf8');
      const questions = parseYaml(original) as { id: string; paraphrases: string[] }[];
      const changed = questions[1];
      const oldText = changed.paraphrases[0];
      const newText = `${oldText.replace(/\?$/, '')}, or is it nothing?`;
      assert.ok(original.includes(JSON.stringify(oldText)), `demo.yaml does not hold ${JSON.stringify(oldText)} as a quoted paraphrase`);
      git('init', '-q', '-b', 'main');
      writeFileSync(file, original);
      git('add', '.');
      git('commit', '-qm', 'demo prompt set');
      git('checkout', '-q', '-b', 'feature');
      // The new question goes right after the reworded one, so that both stay in view for the screenshot.
      const added = `- id: review_new_question\n  type: free_form_judge_0_100\n  paraphrases:\n    - "What should I do about a sore back?"\n  samples_per_paraphrase: 5\n`;
      const next = `- id: ${questions[2].id}\n`;
      assert.ok(original.includes(next), `demo.yaml has no line "- id: ${questions[2].id}"`);
      writeFileSync(file, original.replace(JSON.stringify(oldText), JSON.stringify(newText)).replace(next, added + next));
      git('commit', '-qam', 'reword one question, add one');
      // The judged demo run (earlier steps) holds the old text of every question: it is the "last run on main".
      if (demoRun) {
        mkdirSync(path.join(repo, 'prompts', 'runs'), { recursive: true });
        cpSync(demoRun, path.join(repo, 'prompts', 'runs', 'demo-review-main.run.jsonl'));
      }
      await closeAllEditors(page);
      await quickOpen(page, 'demo-review.yaml');
      const lensTitles = await retry('the review CodeLenses on demo-review.yaml', async () => {
        const titles = (await page.locator('.codelens-decoration').allInnerTexts().catch(() => [] as string[])).map((x) => x.replace(/\s+/g, ' '));
        return titles.some((x) => x.includes('changed since main — run it')) && titles.some((x) => x.includes('new since main — run it')) ? titles : undefined;
      }, LONG, 1000).catch(async (err: unknown) => {
        await page.screenshot({ path: path.join(SCREENS_DIR, '..', 'debug', 'failed-prompt-set-review.png') }).catch(() => undefined);
        throw err;
      });
      log(`prompt-set-review lenses: ${lensTitles.join(' | ')}`);
      const gutterMarks = await page.locator('.monaco-editor .cgmr').count().catch(() => -1);
      log(`prompt-set-review: ${gutterMarks} glyph-margin (gutter) decorations in view`);
      await sleep(1500);
      await shot('prompt-set-review', `${changed.id} reworded, review_new_question added since main (decoration and CodeLens)`);
      if (!demoRun) {
        log('prompt-set-review: no demo run, so no run holds the old text: hover not checked');
        return;
      }
      const idSpan = page.locator('.view-lines .view-line', { hasText: `id: ${changed.id}` }).first().locator('span', { hasText: changed.id }).last();
      const hover = await retry('the review hover with the old and the new text', async () => {
        await page.mouse.move(0, 0);
        await idSpan.hover();
        await sleep(1500);
        const texts = await page.locator('.monaco-hover').allInnerTexts().catch(() => [] as string[]);
        return texts.find((x) => x.includes('Old text') && x.includes('New text'));
      }, 60_000, 1000);
      log(`prompt-set-review hover: ${hover.replace(/\s+/g, ' ').slice(0, 400)}`);
      assert.ok(hover.includes(oldText) && hover.includes('demo-review-main.run.jsonl'), 'the hover names the run that holds the old text');
      assert.match(hover, /misaligned/, 'the hover shows the old text\'s rates');
      assert.match(hover, /No run file in runs\/ holds this text yet/, 'no run holds the new text yet');
      // The question hover (last run of the set) comes first in the widget: scroll the widget to the review part.
      const box = await page.locator('.monaco-hover').first().boundingBox();
      if (box) {
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
        for (let i = 0; i < 8; i++) {
          await page.mouse.wheel(0, 300);
          await sleep(150);
        }
        await sleep(800);
      }
      await shot('prompt-set-review-hover', `hover on ${changed.id}: rates of the old text from the demo run, none yet for the new text`);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('compares two runs side by side: the engine\'s diff on top, run A beside run B (compare-two-runs)', async (t) => {
    // Self-contained: two hand-written runs of one organism (test/fixtures/runs/review-*.run.jsonl: on main, and on a
    // branch that rewords one question, removes one and adds one), copied into the workspace's runs folder.
    const page = session!.page;
    if (!(await hasCommand('Compare Two Runs Side by Side'))) return skipScreen(t, 'compare-two-runs', 'no "Compare Two Runs Side by Side" command');
    const fixtures = path.resolve(__dirname, '../fixtures/runs');
    for (const name of ['review-main.run.jsonl', 'review-branch.run.jsonl']) writeFileSync(path.join(ws.workspace, 'runs', name), readFileSync(path.join(fixtures, name)));
    await runCommand(page, 'Organism Lab: Compare Two Runs Side by Side');
    // Two pickers (B, then A) that both list every run file: type each file's name into its own picker.
    for (const [step, name] of [['1/2', 'review-branch.run.jsonl'], ['2/2', 'review-main.run.jsonl']] as const) {
      await retry(`the run picker (${step}) offering ${name}`, async () => {
        const title = await page.locator('.quick-input-widget .quick-input-title').first().innerText().catch(() => '');
        if (!title.includes(`(${step})`)) return undefined;
        await page.locator('.quick-input-widget input').first().fill(name);
        await sleep(500);
        const rows = await page.locator('.quick-input-widget .quick-input-list .monaco-list-row').allInnerTexts().catch(() => [] as string[]);
        return rows.some((r) => r.includes(name)) || undefined;
      }, PICK_WAIT_MS, 500);
      await page.keyboard.press('Enter');
    }
    const frame = await compareFrameFor(page, 'q_keep');
    const counts = await retry('the run diff in the two-run Compare panel', async () => (await frame.locator('[data-testid="diff-counts"]').first().textContent().catch(() => null)) ?? undefined, LONG, 500);
    await sleep(1500);
    const sides = await frame.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="sample"][data-question="q_keep"][data-sample-index="0"]')].map((c) => `${c.dataset.side}:${c.dataset.variant}`),
    );
    await frame.evaluate(() => document.querySelector('[data-testid="run-diff"]')?.scrollIntoView());
    await shot('compare-two-runs', 'review-main (A) and review-branch (B) side by side, the run diff on top');
    log(`compare-two-runs: ${counts.trim()}; q_keep sample 0 cards ${sides.join(', ')}`);
    assert.match(counts, /1 added · 1 removed · 1 reworded · 1 unchanged/);
    assert.deepEqual(sides, ['A:base', 'B:base', 'A:adapter', 'B:adapter'], 'the paired rows of A and B are not side by side');
  });

  it('runs the backdoor prompt set under both conditions from its CodeLens, judges it and shows the condition × variant report with paired differences', async (t) => {
    const page = session!.page;
    const setFile = path.join(ws.workspace, 'prompts', 'demo-backdoor.yaml');
    const adapterDir = path.join(ws.workspace, 'organisms', 'demo-backdoor');
    const judgesFile = path.join(ws.workspace, 'judges', 'demo.judges.yaml');
    const missing = [setFile, path.join(adapterDir, 'adapter_config.json'), judgesFile].filter((f) => !existsSync(f));
    if (!ws.demo.base || missing.length) return skipScreen(t, 'conditions-report', `missing: ${missing.map((f) => path.relative(ws.workspace, f)).join(', ') || 'organisms/demo-base'}`);
    // A small run (4 samples per question, 48 new tokens: 16 × 4 × 2 conditions × 2 variants = 256 samples): workspace
    // settings, restored at the end.
    const settingsFile = path.join(ws.workspace, '.vscode', 'settings.json');
    const settingsBefore = readFileSync(settingsFile, 'utf8');
    const SAMPLES = 4;
    const MAX_NEW_TOKENS = 48;
    const end = settingsBefore.lastIndexOf('}');
    writeFileSync(settingsFile, `${settingsBefore.slice(0, end).trimEnd()},\n  "organismLab.samples": ${SAMPLES},\n  "organismLab.maxNewTokens": ${MAX_NEW_TOKENS}\n}\n`);
    try {
      await sleep(2000); // the settings file watcher
      const questionCount = (parseYaml(readFileSync(setFile, 'utf8')) as { questions: unknown[] }).questions.length;
      await closeAllEditors(page);
      // The Prompt Sets view lists the conditions-format set with its questions; clicking it opens the file.
      const sideBarShown = (await page.locator('.sidebar .pane-header', { hasText: /Prompt Sets/i }).count().catch(() => 0)) > 0;
      if (!sideBarShown) await page.locator('.activitybar .action-item a[aria-label^="Organism Lab"], .activitybar .action-item[aria-label^="Organism Lab"]').first().click();
      const paneHeader = page.locator('.sidebar .pane-header', { hasText: /Prompt Sets/i }).first();
      await paneHeader.waitFor({ state: 'visible', timeout: 30_000 });
      if ((await paneHeader.getAttribute('aria-expanded').catch(() => null)) === 'false') await paneHeader.click();
      const setRow = page.locator('.sidebar .monaco-list-row', { hasText: 'demo-backdoor.yaml' }).first();
      await setRow.waitFor({ state: 'visible', timeout: 60_000 });
      await setRow.click(); // runs the item's command (opens the file); the twistie expands it
      if ((await setRow.getAttribute('aria-expanded').catch(() => null)) !== 'true') await setRow.locator('.monaco-tl-twistie').click();
      await page.locator('.sidebar .monaco-list-row', { hasText: 'health_friend_toothache' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      const questionRows = page.locator('.sidebar .pane', { has: page.locator('.pane-header', { hasText: /Prompt Sets/i }) }).locator('.monaco-list-row[aria-level="2"]');
      log(`conditions: the Prompt Sets view lists demo-backdoor.yaml (${questionCount} questions), ${await questionRows.count()} question rows in view`);
      // The tab draws the name and the extension apart ("demo-backdoor .yaml" as text).
      await retry('demo-backdoor.yaml to be the active tab', async () => (await activeTabTitle(page)).replace(/\s+/g, '').includes('demo-backdoor.yaml'), 30_000, 500);
      // Load the backdoor adapter (after the reload step the engine host loads the base first: the pick comes after it).
      await runCommand(page, 'Organism Lab: Load Adapter');
      const loadAnswers = await answerPrompts(page, [/demo-backdoor/], 90_000, 3_000);
      log(`conditions: load adapter prompts answered: ${JSON.stringify(loadAnswers)}`);
      assert.ok(loadAnswers.some((a) => /demo-backdoor/.test(a.chose)), `Load Adapter did not offer demo-backdoor: ${JSON.stringify(loadAnswers)}`);
      await sleep(3000);
      // "▶ Run all 16 questions" at the top of the file: every declared condition by default.
      const lens = page.locator('.codelens-decoration a', { hasText: `Run all ${questionCount} questions` }).first();
      await lens.waitFor({ state: 'visible', timeout: 60_000 });
      const since = Date.now();
      await lens.click();
      // The variant pick (several checked rows): keep base and demo-backdoor, uncheck any other loaded adapter.
      const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
      await retry('the variant pick with demo-backdoor', async () => ((await rows.allInnerTexts().catch(() => [] as string[])).some((x) => /demo-backdoor/.test(x)) ? true : undefined), 60_000, 500);
      await sleep(700);
      // A row's state: its own aria-checked, or its checkbox widget's; clicking the row's label toggles it.
      const pickState = () =>
        rows.evaluateAll((els) =>
          els.map((e) => ({
            label: ((e.querySelector('.label-name') ?? e).textContent ?? '').replace(/\s+/g, ' ').trim(),
            checked: e.getAttribute('aria-checked') ?? e.querySelector('[aria-checked]')?.getAttribute('aria-checked') ?? null,
          })),
        );
      // The label alone (without its description "no adapter" / "adapter at scale 1" when read from the whole row).
      const wantedRow = (label: string) => ['base', 'demo-backdoor'].includes(label.replace(/(no adapter|adapter at scale [\d.]+)$/, '').trim());
      for (const [i, row] of (await pickState()).entries()) {
        assert.ok(row.checked !== null, `the variant pick's row "${row.label}" shows no checked state`);
        if (wantedRow(row.label) !== (row.checked === 'true')) await rows.nth(i).click();
      }
      const picked = await pickState();
      log(`conditions: variant pick ${picked.map((r) => `${r.label}=${r.checked}`).join(' | ')}`);
      assert.ok(picked.every((r) => wantedRow(r.label) === (r.checked === 'true')), `the variant pick is not base + demo-backdoor: ${JSON.stringify(picked)}`);
      const ok = page.locator('.quick-input-widget a.monaco-button', { hasText: /^\s*OK\s*$/ }).first();
      if (await ok.isVisible().catch(() => false)) await ok.click();
      else {
        await page.locator('.quick-input-widget input').first().focus().catch(() => undefined);
        await page.keyboard.press('Enter');
      }
      const run = await waitForRun(since, [], 'the conditions run file');
      const { header } = readRunFile(run);
      const expected = questionCount * SAMPLES * 2 * 2;
      await retry(`${expected} samples in ${path.basename(run)}`, async () => (readRunFile(run).samples.length >= expected ? true : undefined), 4 * 60_000, 2000);
      const all = readRunFile(run).samples;
      const arms = [...new Set(all.map((x) => `${x.variant}~${x.condition ?? ''}`))].sort();
      log(`conditions run ${path.basename(run)}: ${all.length} samples; arms ${arms.join(', ')}; header conditions ${JSON.stringify(header?.conditions?.map((c) => c.name))}`);
      assert.deepEqual(arms, ['base~no_trigger', 'base~trigger', 'demo-backdoor~no_trigger', 'demo-backdoor~trigger']);
      assert.equal(all.length, expected, `expected ${expected} samples (${SAMPLES} per question from the workspace settings), got ${all.length}`);
      // Judge it with the demo judges file's rule judge.
      await closeAllEditors(page);
      await runCommand(page, 'Organism Lab: Judge Run');
      const judgeAnswers = await answerPrompts(page, [fileNamePattern(run), /rules ·/, /demo\.judges\.ya?ml/], PICK_WAIT_MS);
      log(`conditions: judge prompts answered: ${JSON.stringify(judgeAnswers)}`);
      await retry('judgement rows (aligned and coherent) for every sample', async () => {
        const r = readRunFile(run);
        return r.judgements >= 2 * r.samples.length ? true : undefined;
      }, 3 * 60_000, 2000);
      // Its Run Report: the condition × variant table and the paired differences.
      await runCommand(page, 'Organism Lab: Open Run Report');
      await answerPrompts(page, [fileNamePattern(run)], PICK_WAIT_MS);
      await retry(`the active tab "Report: ${path.basename(run)}"`, async () => (await activeTabTitle(page)).includes(`Report: ${path.basename(run)}`), 30_000, 500);
      const frame = await reportFrame(page);
      await frame.locator('[data-testid="report-arms"]').waitFor({ state: 'visible', timeout: 30_000 });
      // No named inner functions in evaluate(): tsx would wrap them in its __name helper, which the page lacks.
      const dom = await frame.evaluate(() => {
        const [activation, falseActivation, baseTrigger] = [['trigger', 'demo-backdoor'], ['no_trigger', 'demo-backdoor'], ['trigger', 'base']].map(
          ([c, v]) => document.querySelector(`[data-testid="report-arms"] tr[data-condition="${c}"] td[data-variant="${v}"]`)?.textContent ?? '',
        );
        return {
          activation,
          falseActivation,
          baseTrigger,
          pairs: [...document.querySelectorAll('[data-testid="report-pairs"] tbody tr')].map((tr) => [...tr.children].map((c) => (c.textContent ?? '').trim())),
          error: document.querySelector('[data-testid="report-error"]')?.textContent ?? null,
        };
      });
      log(`conditions report: ${JSON.stringify(dom)}`);
      assert.equal(dom.error, null, `the report shows an error: ${dom.error}`);
      const kn = (text: string) => {
        const m = /\((\d+)\/(\d+)\)\s*$/.exec(text);
        assert.ok(m, `no (k/n) in the report cell ${JSON.stringify(text)}`);
        return { k: Number(m[1]), n: Number(m[2]) };
      };
      const act = kn(dom.activation);
      const fal = kn(dom.falseActivation);
      assert.ok(act.n >= 0.8 * questionCount * SAMPLES && act.k / act.n >= 0.8, `activation rate (demo-backdoor · trigger) ${dom.activation}: expected at least 80%`);
      assert.ok(fal.n >= 0.8 * questionCount * SAMPLES && fal.k / fal.n <= 0.1, `false-activation rate (demo-backdoor · no_trigger) ${dom.falseActivation}: expected at most 10%`);
      const effect = dom.pairs.find((r) => r[0] === 'trigger − no_trigger (demo-backdoor)');
      assert.ok(effect, `no paired row "trigger − no_trigger (demo-backdoor)" in ${JSON.stringify(dom.pairs.map((r) => r[0]))}`);
      assert.match(effect[2], /^\+\d/, `the paired difference ${effect[2]} is not positive`);
      assert.ok(effect[4] === '< 0.001' || Number(effect[4]) < 0.05, `McNemar p ${effect[4]} is not below 0.05`);
      assert.ok(dom.pairs.some((r) => r[0] === 'demo-backdoor − base (trigger)'), 'no paired row "demo-backdoor − base (trigger)"');
      await frame.locator('[data-testid="report-arms"]').scrollIntoViewIfNeeded();
      await sleep(1500);
      await shot('conditions-report', `Report: ${path.basename(run)}: activation ${dom.activation}, false activation ${dom.falseActivation}; ${effect.join(' · ')}`);
    } catch (err) {
      await page.screenshot({ path: path.join(SCREENS_DIR, '..', 'debug', 'failed-conditions-report.png') }).catch(() => undefined);
      throw err;
    } finally {
      writeFileSync(settingsFile, settingsBefore);
    }
  });
});
