// The extension test suite under @vscode/test-electron: downloads VS Code (desktop) and runs
// dist/test/extension/index.js in its extension host. For machines that can reach Microsoft's update
// service (developer laptops, hosted CI). Here (offline) use scripts/test-extension.ts, which runs the same
// suite in the VS Code server shipped with code-server.
//
//   node scripts/build.mjs && node scripts/test-electron.mjs [--version 1.139.1] [--workspace DIR]
import { runTests } from '@vscode/test-electron';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argOf = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const extensionTestsPath = path.join(root, 'dist/test/extension/index.js');
const workspace = path.resolve(argOf('--workspace') ?? (existsSync(path.join(root, 'test/extension/workspace')) ? path.join(root, 'test/extension/workspace') : path.join(root, 'examples')));

if (!existsSync(extensionTestsPath)) {
  console.error(`No compiled extension test suite at ${path.relative(root, extensionTestsPath)}: run node scripts/build.mjs first.`);
  process.exit(2);
}
try {
  await runTests({
    version: argOf('--version') ?? '1.139.1',
    extensionDevelopmentPath: root,
    extensionTestsPath,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    // ORGANISM_LAB_TEST_HOOKS: the test-only hooks (src/engine/host/testHooks.ts) exist only with it.
    extensionTestsEnv: { ORGANISM_LAB_REPO_ROOT: root, ORGANISM_LAB_TEST_HOOKS: '1' },
  });
} catch (err) {
  console.error(`extension tests (test-electron) failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
