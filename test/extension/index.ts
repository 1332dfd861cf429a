/**
 * The extension test suite's entry (bundled to dist/test/extension/index.js): VS Code's test runner — both
 * @vscode/test-electron and the VS Code server runner in scripts/test-extension.ts — calls run() inside the
 * extension host. Suites use mocha's TDD UI (suite/test). Failures reject, which sets the exit code.
 */
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 180_000, reporter: 'spec' });
  // The suite files are bundled into this file: define suite()/test() globals, then load them in order.
  mocha.suite.emit('pre-require', globalThis, 'organism-lab-extension-suite', mocha);
  require('./suite/activation.test');
  require('./suite/promptSets.test');
  require('./suite/trust.test');
  require('./suite/run.test');
  require('./suite/remoteRun.test');
  require('./suite/review.test');
  require('./suite/inspectLogs.test');
  require('./suite/engineCrash.test');
  require('./suite/researcherLoop.test');
  require('./suite/panels.test');
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} extension test(s) failed`)) : resolve()));
  });
}
