/**
 * Prompt-set review in the editor: when an open prompt set differs from its version at the git merge-base
 * with the review base (setting organismLab.review.baseRef, default: the first of origin/main, main,
 * origin/master, master that exists), its new and changed questions are marked (a line decoration with an
 * overview-ruler mark, and a CodeLens "changed since <base> — run it"). The earlier text comes from VS Code's
 * git extension (its API's getMergeBase/show), or from the git command line where the extension is absent.
 * Hovering a changed question's id shows the last rates of its old and of its new text (hovers/reviewHover).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import * as vscode from 'vscode';
import { promptSetChanges, type PromptSetChanges } from '../../engine/prompts/promptSetChanges';
import type { CommandTable } from '../commands/commandRegistry';
import type { LabContext } from '../context';
import { isPromptSetDocument } from '../codelens/promptSetDocuments';
import { registerReviewHover } from '../hovers/reviewHover';
import { uriFromArg } from '../run/args';

const DEFAULT_BASES = ['origin/main', 'main', 'origin/master', 'master'];

export interface PromptSetReview extends PromptSetChanges {
  /** The ref compared against (as the user named it) and the merge-base commit. */
  base: string;
  mergeBase: string;
  /** The prompt set's text at the merge-base (null: the file did not exist there). */
  baseText: string | null;
}

/** The subset of the git extension's API (vscode.git, getAPI(1)) this module uses. */
interface GitRepository {
  rootUri: vscode.Uri;
  getMergeBase(ref1: string, ref2: string): Promise<string | undefined>;
  show(ref: string, path: string): Promise<string>;
}
interface GitApi {
  getRepository(uri: vscode.Uri): GitRepository | null;
}

function gitCli(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 15_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

async function gitApi(): Promise<GitApi | undefined> {
  const ext = vscode.extensions.getExtension<{ getAPI(v: 1): GitApi }>('vscode.git');
  if (!ext) return undefined;
  try {
    const exp = ext.isActive ? ext.exports : await ext.activate();
    return exp.getAPI(1);
  } catch {
    return undefined;
  }
}

/** The file's text at the merge-base of HEAD and the review base; null text = the file did not exist there. Undefined = not in a git repository or no base found. */
async function baseVersion(file: string): Promise<{ base: string; mergeBase: string; text: string | null } | undefined> {
  const configured = vscode.workspace.getConfiguration('organismLab').get<string>('review.baseRef')?.trim();
  const candidates = configured ? [configured] : DEFAULT_BASES;
  const dir = path.dirname(file);
  let root: string;
  try {
    root = (await gitCli(dir, ['rev-parse', '--show-toplevel'])).trim();
  } catch {
    return undefined;
  }
  const repo = (await gitApi())?.getRepository(vscode.Uri.file(file)) ?? null;
  for (const base of candidates) {
    let mergeBase: string | undefined;
    try {
      mergeBase = repo ? await repo.getMergeBase('HEAD', base) : (await gitCli(root, ['merge-base', 'HEAD', base])).trim();
    } catch {
      mergeBase = undefined;
    }
    if (!mergeBase) continue;
    const rel = path.relative(root, file).split(path.sep).join('/');
    try {
      const text = repo ? await repo.show(mergeBase, file) : await gitCli(root, ['show', `${mergeBase}:${rel}`]);
      return { base, mergeBase, text };
    } catch {
      return { base, mergeBase, text: null }; // not in the tree at the merge-base: a new file
    }
  }
  return undefined;
}

export class PromptSetReviewer implements vscode.Disposable {
  private readonly reviews = new Map<string, PromptSetReview | null>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly addedDecoration: vscode.TextEditorDecorationType;
  private readonly changedDecoration: vscode.TextEditorDecorationType;

  constructor(private readonly ctx: LabContext) {
    // Gutter bars in the colours of VS Code's own added / modified line markers (an SVG cannot read theme colours).
    this.addedDecoration = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      gutterIconPath: ctx.extension.asAbsolutePath('media/review/gutter-added.svg'),
      gutterIconSize: 'auto',
      backgroundColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    });
    this.changedDecoration = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      gutterIconPath: ctx.extension.asAbsolutePath('media/review/gutter-changed.svg'),
      gutterIconSize: 'auto',
      backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    });
  }

  /** The latest review of a prompt set (undefined: not reviewed yet; null: not under git or no base). */
  get(uri: vscode.Uri): PromptSetReview | null | undefined {
    return this.reviews.get(uri.toString());
  }

  /** Compare the document with its merge-base version, remember it, and decorate its visible editors. */
  async review(doc: vscode.TextDocument): Promise<PromptSetReview | null> {
    if (!isPromptSetDocument(doc)) return null;
    let result: PromptSetReview | null = null;
    try {
      const base = await baseVersion(doc.uri.fsPath);
      if (base) result = { base: base.base, mergeBase: base.mergeBase, baseText: base.text, ...promptSetChanges(doc.fileName, doc.getText(), base.text) };
    } catch (e) {
      this.ctx.log.warn(`prompt-set review of ${doc.uri.fsPath}: ${(e as Error).message}`);
    }
    this.reviews.set(doc.uri.toString(), result);
    this.decorate(doc.uri);
    this.changed.fire(doc.uri);
    return result;
  }

  decorate(uri: vscode.Uri): void {
    const r = this.reviews.get(uri.toString());
    for (const editor of vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === uri.toString())) {
      const ranges = (kind: 'added' | 'changed') =>
        (r?.changes ?? [])
          .filter((c) => c.kind === kind)
          .map((c) => ({
            range: new vscode.Range(c.line - 1, 0, Math.max(c.line - 1, c.endLine - 1), 0),
            hoverMessage: new vscode.MarkdownString(kind === 'added' ? `New since ${r!.base}` : `Changed since ${r!.base}: ${c.what.join(', ')}`),
          }));
      editor.setDecorations(this.addedDecoration, ranges('added'));
      editor.setDecorations(this.changedDecoration, ranges('changed'));
    }
  }

  dispose(): void {
    this.addedDecoration.dispose();
    this.changedDecoration.dispose();
    this.changed.dispose();
  }
}

/**
 * Review prompt sets as they open and save. Contributes the command table of the feature
 * (`organismLab.reviewPromptSet`: a document's review, or null without a document) to the one command registry.
 */
export function activatePromptSetReview(ctx: LabContext): { reviewer: PromptSetReviewer; commands: CommandTable } {
  const reviewer = new PromptSetReviewer(ctx);
  const sub = ctx.extension.subscriptions;
  sub.push(reviewer);
  sub.push(registerReviewHover(ctx, (uri) => reviewer.get(uri)));
  const reviewIfPromptSet = (doc: vscode.TextDocument) => {
    if (isPromptSetDocument(doc)) void reviewer.review(doc);
  };
  sub.push(vscode.workspace.onDidOpenTextDocument(reviewIfPromptSet));
  sub.push(vscode.workspace.onDidSaveTextDocument(reviewIfPromptSet));
  sub.push(vscode.window.onDidChangeVisibleTextEditors((editors) => {
    for (const e of editors) {
      if (reviewer.get(e.document.uri) === undefined) reviewIfPromptSet(e.document);
      else reviewer.decorate(e.document.uri);
    }
  }));
  for (const e of vscode.window.visibleTextEditors) reviewIfPromptSet(e.document);
  const commands: CommandTable = {
    'organismLab.reviewPromptSet': async (arg) => {
      const uri = uriFromArg(arg) ?? vscode.window.activeTextEditor?.document.uri;
      return uri ? reviewer.review(await vscode.workspace.openTextDocument(uri)) : null;
    },
  };
  return { reviewer, commands };
}
