/**
 * The e2e workspace: a fresh copy of examples/ (the demo organism, prompt sets, workspace settings) in a
 * temp folder, so runs written by the tests never land in the repository, plus the adversarial run-file
 * fixture under runs/.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXAMPLES_DIR, ROOT } from '../harness/paths';

export const ADVERSARIAL_FIXTURE = path.join(ROOT, 'test/fixtures/runs/adversarial.run.jsonl');

export interface E2eWorkspace {
  root: string;
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  /** What of the demo exists (examples/ is produced by another part of the project). */
  demo: { promptSet?: string; base?: string; adapter?: string; trainingRun?: string };
  adversarialRun: string;
}

export function makeWorkspace(): E2eWorkspace {
  const root = mkdtempSync(path.join(os.tmpdir(), 'organism-lab-e2e-'));
  const workspace = path.join(root, 'workspace');
  mkdirSync(workspace, { recursive: true });
  // ORGANISM_LAB_E2E_EXAMPLES points at another examples-like folder (e.g. a freshly trained organism).
  const source = process.env.ORGANISM_LAB_E2E_EXAMPLES ?? EXAMPLES_DIR;
  if (existsSync(source)) {
    // Everything, the rank-1 training run's 30 checkpoints included (0.6 MB): the Inspector shows it.
    cpSync(source, workspace, { recursive: true });
  }
  const settings = path.join(EXAMPLES_DIR, '.vscode/settings.json');
  if (!existsSync(path.join(workspace, '.vscode/settings.json')) && existsSync(settings)) {
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    cpSync(settings, path.join(workspace, '.vscode/settings.json'));
  }
  mkdirSync(path.join(workspace, 'runs'), { recursive: true });
  const adversarialRun = path.join(workspace, 'runs', 'adversarial.run.jsonl');
  cpSync(ADVERSARIAL_FIXTURE, adversarialRun);
  // A folder counts only when complete (examples/ may be mid-update): config / adapter config present.
  const opt = (p: string, marker = '') => (existsSync(path.join(workspace, p, marker)) ? path.join(workspace, p) : undefined);
  return {
    root,
    workspace,
    userDataDir: path.join(root, 'user-data'),
    extensionsDir: path.join(root, 'extensions'),
    demo: {
      promptSet: opt('prompts/demo.yaml'),
      base: opt('organisms/demo-base', 'config.json'),
      adapter: opt('organisms/demo-narrow-r1', 'adapter_config.json'),
      trainingRun: opt('organisms/demo-narrow-r1-run', 'checkpoint-4/adapter_config.json'),
    },
    adversarialRun,
  };
}
