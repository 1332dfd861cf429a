/**
 * Our Inspect logs in Inspect's own log viewer, in Chromium, without Python:
 *   node --import tsx scripts/check-inspect-view.ts --dist <inspect_ai's _view/dist> [--run RUN] [--out DIR]
 * (or ORGANISM_LAB_INSPECT_VIEW_DIST=<dist>). Needs `node scripts/build.mjs` (dist/cli.js) and Chromium.
 *
 * 1. Exports RUN (default: test/fixtures/runs/conditions.run.jsonl) with our CLI (`export-inspect`) into a
 *    static bundle laid out as `inspect view bundle` writes one: the viewer's files, index.html with the
 *    `log_dir_context` element naming `logs`, and logs/ with our .eval files, one log written by Inspect itself
 *    (test/fixtures/inspect/popularity-b.eval, as a control) and listing.json.
 * 2. Serves the bundle from 127.0.0.1 (byte ranges: the viewer reads .eval zips by range) and opens it.
 * 3. Checks, as a user would see them: every exported log listed with its model, task arguments, sample count
 *    and primary score; each log's samples with their ids, epochs, answers and every judge metric; one sample's
 *    transcript (the model call and the scores) and scoring tab; Inspect's control log opening too; and no
 *    error in the browser console other than the viewer's probes for the optional eval-set.json and flow.yaml.
 * Screenshots and report.json go to test-results/inspect-view/ (or --out). Exit 0 when everything was seen.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { writeInspectListing } from '../src/engine/interop/inspectListing';
import { readInspectLog } from '../src/engine/interop/inspectReader';
import type { InspectLog } from '../src/engine/interop/inspectTypes';
import { launchBrowser } from '../test/harness/browser';
import { RESULTS_DIR, ROOT } from '../test/harness/paths';
import { startStaticServer, type StaticServer } from '../test/harness/staticServer';

/** The viewer builds this check was run against: git blob id of assets/index.js → where it comes from. */
const KNOWN_VIEWERS: Record<string, string> = {
  '8bff79bf5c3c1d8f3284690805192766f2cad843': 'inspect_ai 499e6152 (2026-08-22), src/inspect_ai/_view/dist',
};
/** Files the viewer asks for in static mode whether or not a deployment has them (404 is its "none"). */
const OPTIONAL_PROBES = ['/logs/eval-set.json', '/logs/flow.yaml'];
const CONTROL_LOG = path.join(ROOT, 'test/fixtures/inspect/popularity-b.eval');
const WAIT_MS = 90_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`check-inspect-view: ${name} needs a value.`);
  return v;
}

function gitBlobId(file: string): string {
  const data = readFileSync(file);
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** Checks the folder is a built Inspect viewer (not Git LFS pointers); returns the git blob id of its index.js. */
function checkViewerDist(dist: string): string {
  const index = path.join(dist, 'index.html');
  const js = path.join(dist, 'assets/index.js');
  if (!existsSync(index) || !existsSync(js)) {
    throw new Error(`${dist}: not Inspect's log viewer (no index.html and assets/index.js). Point --dist (or ORGANISM_LAB_INSPECT_VIEW_DIST) at inspect_ai's src/inspect_ai/_view/dist; see README, "Export to Inspect logs".`);
  }
  if (readFileSync(js).subarray(0, 40).toString('utf8').startsWith('version https://git-lfs')) {
    throw new Error(`${js} is a Git LFS pointer, not the viewer's code: run \`git lfs pull\` in that inspect_ai clone, or use the dist of an installed inspect_ai.`);
  }
  return gitBlobId(js);
}

/** Does the text the viewer shows stand for this number (at the precision it shows)? */
function showsNumber(text: string, value: number): boolean {
  const t = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) return false;
  const decimals = t.includes('.') ? t.split('.')[1].length : 0;
  return Math.abs(Number(t) - value) <= 0.5 * 10 ** -decimals + 1e-9;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = WAIT_MS): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`Inspect's viewer never showed ${what} (waited ${ms / 1000} s)${last ? `: ${(last as Error).message}` : ''}.`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Expected {
  file: string;
  log: InspectLog;
}

/** The first metric of the first score: what the viewer's log list shows as the log's score. */
function primaryMetric(log: InspectLog): number | undefined {
  const first = log.header.results?.scores[0];
  return first ? Object.values(first.metrics)[0]?.value : undefined;
}

/** The log list's cells of each file's row, read in one go (the grid re-renders while it loads). */
async function listRows(page: Page, files: string[]): Promise<Record<string, Record<string, string> | undefined>> {
  return page.evaluate((names) => {
    const out: Record<string, Record<string, string> | undefined> = {};
    for (const name of names) {
      const row = [...document.querySelectorAll(`a[href$="#/tasks/${name}"]`)].map((a) => a.closest('[role=row]')).find((r) => r);
      if (!row) continue;
      const cells: Record<string, string> = {};
      for (const c of row.querySelectorAll<HTMLElement>('[data-col-id]')) cells[c.dataset.colId!] = c.innerText.trim();
      out[name] = cells;
    }
    return out;
  }, files);
}

/**
 * Every log listed with its model, task and score (from listing.json) and, once the viewer has read the log's
 * header, its task arguments and sample count. The viewer (inspect_ai 499e6152) sometimes leaves a row or two
 * without the header's details, for Inspect's own logs as much as ours (in most loads of 5-6 logs here, whether
 * all six were written by Inspect or four by us), though every request for them was answered; a reload
 * usually fills them. Rows still without details are reported as notes: each log's header
 * is checked again when the log is opened.
 */
async function checkLogList(page: Page, expected: Expected[], failures: string[], notes: string[]): Promise<void> {
  const files = expected.map((e) => e.file);
  const detailed = (rows: Awaited<ReturnType<typeof listRows>>) => files.filter((f) => rows[f] && rows[f]!.totalSamples && rows[f]!.totalSamples !== '-');
  let rows = await waitFor('the log list with every log', async () => {
    const r = await listRows(page, files);
    return files.every((f) => r[f]) && r;
  });
  for (let load = 0; ; load++) {
    const until = Date.now() + 30_000;
    while (detailed(rows).length < files.length && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      rows = await listRows(page, files);
    }
    if (detailed(rows).length === files.length || load === 2) break;
    notes.push(`log list: the viewer left ${files.filter((f) => !detailed(rows).includes(f)).join(', ')} without the header's details after 30 s; reloaded`);
    await page.reload();
    rows = await waitFor('the log list with every log after a reload', async () => {
      const r = await listRows(page, files);
      return files.every((f) => r[f]) && r;
    });
  }
  for (const { file, log } of expected) {
    const cells = rows[file];
    if (!cells) {
      failures.push(`log list: no row for ${file}`);
      continue;
    }
    if (cells.model !== log.header.eval.model) failures.push(`log list, ${file}: model shown "${cells.model}", expected "${log.header.eval.model}"`);
    if (cells.task !== log.header.eval.task) failures.push(`log list, ${file}: task shown "${cells.task}", expected "${log.header.eval.task}"`);
    const primary = primaryMetric(log);
    if (primary !== undefined && !showsNumber(cells.score ?? '', primary)) failures.push(`log list, ${file}: score shown "${cells.score}", expected ${primary}`);
    if (!detailed(rows).includes(file)) {
      notes.push(`log list, ${file}: task arguments and sample count not shown (the viewer never read its header for the list)`);
      continue;
    }
    const condition = (log.header.eval.task_args as Record<string, unknown> | undefined)?.condition;
    if (condition !== undefined && !(cells.taskArgs ?? '').includes(`condition="${condition}"`)) failures.push(`log list, ${file}: task args shown "${cells.taskArgs}", expected condition="${condition}"`);
    if (cells.totalSamples !== String(log.samples.length)) failures.push(`log list, ${file}: ${cells.totalSamples} samples shown, the log has ${log.samples.length}`);
  }
}

async function checkSamplesList(page: Page, { file, log }: Expected, failures: string[]): Promise<void> {
  await waitFor(`the title of ${file} with its model`, async () => (await page.locator('body').innerText()).includes(log.header.eval.model));
  const condition = (log.header.eval.task_args as Record<string, unknown> | undefined)?.condition;
  if (condition !== undefined) {
    await waitFor(`the task argument condition: ${condition} in the header of ${file}`, async () => (await page.locator('body').innerText()).includes(`condition: ${condition}`), 30_000).catch((e: Error) => failures.push(e.message));
  }
  const rows = page.locator('[role=row]').filter({ has: page.locator('[data-col-id="sampleId"]') });
  await waitFor(`the ${log.samples.length} samples of ${file}`, async () => (await rows.count()) === log.samples.length);
  for (const s of log.samples) {
    const row = rows.filter({ has: page.locator('[data-col-id="sampleId"]', { hasText: new RegExp(`^${String(s.id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).filter({ has: page.locator('[data-col-id="epoch"]', { hasText: new RegExp(`^${s.epoch}$`) }) });
    if ((await row.count()) !== 1) {
      failures.push(`${file}: no row for sample ${s.id} epoch ${s.epoch}`);
      continue;
    }
    const answer = (await row.locator('[data-col-id="answer"]').innerText()).trim();
    if (!answer || !s.output.completion.startsWith(answer.replace(/…$/, '').slice(0, 40))) failures.push(`${file}, sample ${s.id} epoch ${s.epoch}: answer shown "${answer}", expected the completion "${s.output.completion.slice(0, 60)}"`);
    for (const [judge, score] of Object.entries(s.scores ?? {})) {
      const values = typeof score.value === 'object' && !Array.isArray(score.value) ? score.value : { [judge]: score.value };
      for (const [metric, v] of Object.entries(values)) {
        if (typeof v !== 'number') continue;
        const cell = row.locator(`[data-col-id="score__${judge}__${metric}"]`);
        const shown = (await cell.count()) ? (await cell.innerText()).trim() : '(no column)';
        if (!showsNumber(shown, v)) failures.push(`${file}, sample ${s.id} epoch ${s.epoch}: ${judge} ${metric} shown "${shown}", expected ${v}`);
      }
    }
  }
}

async function checkSample(page: Page, { file, log }: Expected, shots: (name: string) => Promise<string>, failures: string[]): Promise<void> {
  const s = log.samples[0];
  const row = page.locator('[role=row]').filter({ has: page.locator('[data-col-id="sampleId"]', { hasText: String(s.id) }) }).filter({ has: page.locator('[data-col-id="epoch"]', { hasText: new RegExp(`^${s.epoch}$`) }) });
  await row.locator('[data-col-id="sampleId"]').click();
  const body = () => page.locator('body').innerText();
  await waitFor(`sample ${s.id} epoch ${s.epoch} of ${file}`, async () => (await body()).includes(`Sample ${s.id} (Epoch ${s.epoch})`));
  await page.getByRole('tab', { name: /transcript/i }).first().click();
  await waitFor(`the transcript's model call in sample ${s.id}`, async () => /model call/i.test(await body()) || /Transcript events were removed|No events to display/.test(await body()));
  const text = await body();
  if (/Transcript events were removed|No events to display/.test(text)) failures.push(`${file}, sample ${s.id}: the transcript is empty ("${/Transcript events were removed[^.]*|No events to display/.exec(text)![0]}")`);
  if (!new RegExp(`model call: ${log.header.eval.model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i').test(text)) failures.push(`${file}, sample ${s.id}: the transcript shows no model call by ${log.header.eval.model}`);
  if (!text.includes(s.output.completion.slice(0, 60))) failures.push(`${file}, sample ${s.id}: the completion is not shown`);
  await shots('sample-transcript');
  await page.getByRole('tab', { name: /scoring/i }).first().click();
  await waitFor(`the scoring tab of sample ${s.id}`, async () => (await body()).toLowerCase().includes('scorer'));
  const scoring = await body();
  for (const judge of Object.keys(s.scores ?? {})) if (!scoring.includes(judge)) failures.push(`${file}, sample ${s.id}: the scoring tab does not name the judge ${judge}`);
  await shots('sample-scoring');
}

async function main(): Promise<number> {
  const dist = arg('--dist') ?? process.env.ORGANISM_LAB_INSPECT_VIEW_DIST;
  if (!dist) throw new Error('check-inspect-view: give Inspect\'s viewer as --dist DIR or ORGANISM_LAB_INSPECT_VIEW_DIST (inspect_ai\'s src/inspect_ai/_view/dist; see README, "Export to Inspect logs").');
  const viewerBlob = checkViewerDist(path.resolve(dist));
  const runPath = path.resolve(arg('--run') ?? path.join(ROOT, 'test/fixtures/runs/conditions.run.jsonl'));
  const outDir = path.resolve(arg('--out') ?? path.join(RESULTS_DIR, 'inspect-view'));
  const cli = path.join(ROOT, 'dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build it first with  node scripts/build.mjs`);
  console.log(`viewer: ${path.resolve(dist)} (assets/index.js git blob ${viewerBlob}${KNOWN_VIEWERS[viewerBlob] ? ` = ${KNOWN_VIEWERS[viewerBlob]}` : ', a build this check has not met before'})`);

  // 1. the bundle
  const bundle = path.join(outDir, 'bundle');
  const logsDir = path.join(bundle, 'logs');
  rmSync(bundle, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  cpSync(path.resolve(dist), bundle, { recursive: true });
  const indexHtml = path.join(bundle, 'index.html');
  const html = readFileSync(indexHtml, 'utf8');
  if (!html.includes('</head>')) throw new Error(`${indexHtml}: no </head> to put the log_dir_context into; is this Inspect's viewer?`);
  writeFileSync(indexHtml, html.replace('</head>', `  <script id="log_dir_context" type="application/json">${JSON.stringify({ log_dir: 'logs' })}</script>\n  </head>`));
  const res = spawnSync(process.execPath, [cli, 'export-inspect', runPath, '--out', logsDir], { encoding: 'utf8' });
  process.stdout.write(res.stdout);
  if (res.status !== 0) throw new Error(`organism-lab export-inspect ${runPath} exited with ${res.status}: ${res.stderr}`);
  const files = res.stdout.split('\n').map((l) => l.split('\t')[0]).filter((p) => p.endsWith('.eval'));
  if (!files.length) throw new Error(`organism-lab export-inspect printed no .eval file: ${res.stdout}`);
  const expected: Expected[] = [];
  for (const f of files) expected.push({ file: path.basename(f), log: await readInspectLog(f) });
  copyFileSync(CONTROL_LOG, path.join(logsDir, path.basename(CONTROL_LOG)));
  const control: Expected = { file: path.basename(CONTROL_LOG), log: await readInspectLog(CONTROL_LOG) };
  await writeInspectListing(logsDir);

  // 2. served and opened
  const server: StaticServer = await startStaticServer(bundle);
  const session = await launchBrowser({ chromiumOnly: true });
  const { page } = session;
  const consoleErrors: { text: string; url: string }[] = [];
  const consoleLines = session.consoleLines;
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url });
  });
  page.on('pageerror', (e) => consoleErrors.push({ text: `uncaught: ${e.message}`, url: '' }));
  const shotFiles: string[] = [];
  let step = 0;
  const shots = async (name: string) => {
    const file = path.join(outDir, `${String(++step).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file });
    shotFiles.push(file);
    return file;
  };
  const failures: string[] = [];
  const notes: string[] = [];
  try {
    await page.goto(`${server.url}/`);
    // 3. what a user sees
    await checkLogList(page, [...expected, control], failures, notes);
    await shots('log-list');
    for (const [i, e] of expected.entries()) {
      if (i === 0) await page.locator(`a[href$="#/tasks/${e.file}"]`).first().click();
      else await page.goto(`${server.url}/#/tasks/${e.file}`);
      await checkSamplesList(page, e, failures);
      await shots(`samples-${e.file.replace(/\.eval$/, '')}`);
    }
    const last = expected[expected.length - 1];
    await checkSample(page, last, shots, failures);
    await page.goto(`${server.url}/#/tasks/${control.file}`);
    await waitFor(`Inspect's own log ${control.file} with its ${control.log.samples.length} samples`, async () => (await page.locator('[role=row]').filter({ has: page.locator('[data-col-id="sampleId"]') }).count()) === control.log.samples.length);
    await shots('control-inspect-log');
  } catch (e) {
    failures.push((e as Error).message);
    await shots('failure').catch(() => undefined);
  } finally {
    await session.close();
    await server.close();
  }

  // 4. the console
  const probes404 = new Set(server.requests.filter((r) => r.status === 404 && OPTIONAL_PROBES.includes(r.path)).map((r) => `${server.url}${r.path}`));
  const unexplained = consoleErrors.filter((c) => !(/status of 404/.test(c.text) && probes404.has(c.url)));
  for (const c of unexplained) failures.push(`browser console error: ${c.text}${c.url ? ` (${c.url})` : ''}`);
  const ranged = server.requests.filter((r) => r.range && r.path.endsWith('.eval')).length;
  const report = {
    viewer: { dist: path.resolve(dist), index_js_git_blob: viewerBlob, known_as: KNOWN_VIEWERS[viewerBlob] ?? null },
    run: path.relative(ROOT, runPath),
    logs: expected.map((e) => ({ file: e.file, model: e.log.header.eval.model, samples: e.log.samples.length })),
    control_log: control.file,
    requests: server.requests.length,
    ranged_eval_reads: ranged,
    console_errors: consoleErrors,
    console_errors_explained: consoleErrors.length - unexplained.length,
    screenshots: shotFiles.map((f) => path.relative(outDir, f)),
    failures,
    notes,
    request_log: server.requests.map((r) => `${r.method} ${r.path}${r.range ? ` ${r.range}` : ''} → ${r.status}`),
    console_log: consoleLines,
  };
  writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  console.log(`served ${server.requests.length} requests (${ranged} ranged reads of .eval files); ${consoleErrors.length} console error(s), ${consoleErrors.length - unexplained.length} of them the viewer's 404 probes for ${OPTIONAL_PROBES.join(', ')}`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`screenshots: ${shotFiles.map((f) => path.relative(ROOT, f)).join(', ')}`);
  if (failures.length) {
    console.error(`Inspect's viewer check FAILED (${failures.length}):\n  ${failures.join('\n  ')}`);
    return 1;
  }
  console.log(`Inspect's viewer showed all ${expected.length} exported logs (${expected.reduce((n, e) => n + e.log.samples.length, 0)} samples: ids, epochs, answers, every judge metric), a sample's transcript and scoring, and Inspect's own control log, with no unexplained console error.`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error((e as Error).message);
      process.exit(1);
    },
  );
}
