/**
 * The extension test suite (test/extension/, compiled to dist/test/extension/index.js) in a real Node
 * extension host: the VS Code server inside code-server, driven by Chromium. Exits with the suite's code.
 *
 *   node --import tsx scripts/test-extension.ts [--self-check] [--fail-on-purpose] [--workspace DIR] [--tests FILE]
 *
 * --self-check runs a tiny built-in extension + suite (test/harness/smoke-extension) to check this runner.
 * Where VS Code can be downloaded, the same suite also runs under @vscode/test-electron: scripts/test-electron.mjs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TEST_HOOKS_ENV } from '../src/engine/host/testHooks';
import { runExtensionTests } from '../test/harness/extensionTests';
import { RESULTS_DIR, ROOT, assertToolsInstalled } from '../test/harness/paths';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  try {
    assertToolsInstalled();
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const selfCheck = process.argv.includes('--self-check');
  const smoke = path.join(ROOT, 'test/harness/smoke-extension');
  const extensionDevelopmentPath = selfCheck ? smoke : ROOT;
  const extensionTestsPath = path.resolve(arg('--tests') ?? (selfCheck ? path.join(smoke, 'suite/index.js') : path.join(ROOT, 'dist/test/extension/index.js')));
  const defaultWorkspace = existsSync(path.join(ROOT, 'test/extension/workspace')) ? path.join(ROOT, 'test/extension/workspace') : path.join(ROOT, 'examples');
  const workspace = path.resolve(arg('--workspace') ?? (selfCheck ? smoke : defaultWorkspace));
  if (!existsSync(extensionTestsPath)) {
    console.error(`No compiled extension test suite at ${path.relative(ROOT, extensionTestsPath)}: build it first (node scripts/build.mjs).`);
    return 2;
  }
  if (!existsSync(path.join(extensionDevelopmentPath, 'package.json'))) {
    console.error(`No extension at ${extensionDevelopmentPath} (package.json missing).`);
    return 2;
  }
  // Test hooks (the extension's `testing` export, the engine host's engine/debugCrash) exist only with this set.
  const env: Record<string, string> = { ORGANISM_LAB_REPO_ROOT: ROOT, [TEST_HOOKS_ENV]: '1' };
  if (process.argv.includes('--fail-on-purpose')) env.RUNNER_SMOKE_FAIL = '1';
  const started = Date.now();
  const { exitCode, logDir } = await runExtensionTests({
    extensionDevelopmentPath,
    extensionTestsPath,
    workspace,
    env,
    logDir: path.join(RESULTS_DIR, selfCheck ? 'extension-tests-self-check' : 'extension-tests'),
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`extension tests: exit code ${exitCode} after ${secs}s (logs: ${path.relative(ROOT, logDir)}/)`);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
