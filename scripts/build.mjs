// One build for every bundle: extension host, engine host, CLI, benchmark and the webviews.
// Usage: node scripts/build.mjs [--production] [--tests] [--watch]
// --tests also compiles src/ and test/ with tsc into out/ for Node's test runner and the extension test suites.
//
// Minification and source maps:
// - Webview bundles are always minified (they are parsed on every panel open), so the tests (the extension suite,
//   the Chromium page tests) load the same form the .vsix ships.
// - Default (development) build: Node bundles unminified; every bundle has a *linked* source map (a .map file
//   beside it and a sourceMappingURL comment), so the webview developer tools and Node stack traces show the
//   TypeScript sources (dist/webviews is the pages' local resource root, so the maps load from there).
// - --production (npm run package): Node bundles minified too; source maps are written as *external* .map files
//   (no sourceMappingURL comment, so nothing asks for a missing file) and .vscodeignore keeps them out of the
//   .vsix: keep dist/ of a release build to decode a stack trace from a user's machine.
// - After the build, the sizes of the webview bundles are printed.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, mkdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');
const watch = process.argv.includes('--watch');

const nodeCommon = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? 'external' : 'linked',
  minify: production,
  // Native addons cannot be bundled: onnxruntime-node ships as a real dependency in the .vsix.
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};

/** Node bundles: [entry, outfile]. Entries that do not exist yet are skipped. */
const nodeEntries = [
  ['src/extension/extension.ts', 'dist/extension.js'],
  ['src/engine/host/main.ts', 'dist/engineHost.js'],
  ['src/cli/main.ts', 'dist/cli.js'],
  ['src/cli/bench.ts', 'dist/bench.js'],
  // The extension test suite (mocha, run inside VS Code's extension host); mocha stays external (node_modules).
  ['test/extension/index.ts', 'dist/test/extension/index.js'],
];

/** Browser bundles: every src/webviews/<panel>/main.ts becomes dist/webviews/<panel>.js. */
function webviewEntries() {
  const dir = path.join(root, 'src/webviews');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'main.ts')))
    .map((d) => [`src/webviews/${d.name}/main.ts`, `dist/webviews/${d.name}.js`]);
}

/** One line: each webview bundle's size (the .js and its .css), in KiB. */
function printWebviewSizes() {
  const kib = (file) => (existsSync(file) ? `${(statSync(file).size / 1024).toFixed(0)} KiB` : 'none');
  const sizes = webviewEntries().map(([, outfile]) => {
    const js = path.join(root, outfile);
    return `${path.basename(outfile, '.js')} ${kib(js)} (+ css ${kib(js.replace(/\.js$/, '.css'))})`;
  });
  if (sizes.length) console.log(`webview bundles (minified${production ? ', production' : ''}): ${sizes.join(', ')}`);
}

async function main() {
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  const contexts = [];
  for (const [entry, outfile] of nodeEntries) {
    if (!existsSync(path.join(root, entry))) continue;
    const opts = { ...nodeCommon, entryPoints: [path.join(root, entry)], outfile: path.join(root, outfile) };
    if (outfile === 'dist/cli.js') opts.banner = { js: '#!/usr/bin/env node' };
    if (outfile === 'dist/test/extension/index.js') opts.external = [...nodeCommon.external, 'mocha'];
    contexts.push(await esbuild.context(opts));
  }
  for (const [entry, outfile] of webviewEntries()) {
    contexts.push(
      await esbuild.context({
        bundle: true,
        platform: 'browser',
        target: 'es2022',
        format: 'iife',
        sourcemap: production ? 'external' : 'linked',
        minify: true,
        entryPoints: [path.join(root, entry)],
        outfile: path.join(root, outfile),
        logLevel: 'warning',
      }),
    );
  }
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    console.log('[watch] build started');
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  printWebviewSizes();
  if (tests) {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
