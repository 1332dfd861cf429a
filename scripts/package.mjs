// npm run package: a production build, then dist/organism-lab.vsix with onnxruntime-node's native binaries.
//
//   node scripts/package.mjs [--target linux-x64|linux-arm64|darwin-arm64|darwin-x64|win32-x64|win32-arm64 | --universal] [--out FILE]
//
// Default: a platform-specific .vsix for this machine (vsce --target), carrying only this platform's
// onnxruntime binaries (~45 MB unpacked on linux-x64). --universal ships every platform's binaries in one
// .vsix with no target. The package is checked afterwards: its file list, and `require('onnxruntime-node')`
// from the unpacked extension folder (so a missing native file fails here, not on a user's machine).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const argOf = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const universal = argv.includes('--universal');
const target = universal ? undefined : argOf('--target') ?? `${process.platform}-${process.arch}`;
const out = path.resolve(root, argOf('--out') ?? 'dist/organism-lab.vsix');
const ortBin = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6');

function platformsShipped() {
  if (!universal) return [target];
  return ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64', 'win32-x64', 'win32-arm64'].filter((t) =>
    existsSync(path.join(ortBin, ...t.split('-'))),
  );
}

function step(title, file, args) {
  console.log(`== ${title}`);
  try {
    execFileSync(file, args, { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`npm run package: "${title}" failed (see above).`);
    process.exit(1);
  }
}

const platforms = platformsShipped();
for (const p of platforms) {
  if (!existsSync(path.join(ortBin, ...p.split('-'), 'onnxruntime_binding.node'))) {
    console.error(`onnxruntime-node has no binaries for ${p} in node_modules/onnxruntime-node/bin/napi-v6/${p.replace('-', '/')}: run npm ci, or pick another --target.`);
    process.exit(1);
  }
}
if (!existsSync(path.join(root, '.vscodeignore'))) {
  console.error('.vscodeignore is missing: it lists what the .vsix ships.');
  process.exit(1);
}

step('production build', process.execPath, [path.join(root, 'scripts/build.mjs'), '--production']);

// The project's .vscodeignore plus the native binaries of the platform(s) shipped.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'organism-lab-package-'));
const ignoreFile = path.join(scratch, 'vscodeignore');
const nativeLines = platforms.map((p) => `!node_modules/onnxruntime-node/bin/napi-v6/${p.replace('-', '/')}/**`);
writeFileSync(ignoreFile, `${readFileSync(path.join(root, '.vscodeignore'), 'utf8')}\n# added by scripts/package.mjs\n${nativeLines.join('\n')}\n`);

const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
const vsceArgs = ['package', '--ignoreFile', ignoreFile, '--allow-missing-repository', '--skip-license', '-o', out];
if (target) vsceArgs.push('--target', target);
try {
  step(`vsce package (${target ? `target ${target}` : `universal: ${platforms.join(', ')}`})`, process.execPath, [vsce, ...vsceArgs]);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// Check the package: the native binding is inside, and onnxruntime-node loads from the unpacked extension.
console.log('== checking the package');
const listing = execFileSync('unzip', ['-Z1', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
const webviews = readdirSync(path.join(root, 'dist/webviews')).filter((f) => /\.(js|css)$/.test(f)).map((f) => `extension/dist/webviews/${f}`);
const mustHave = ['extension/package.json', 'extension/dist/extension.js', 'extension/dist/engineHost.js', ...webviews, ...platforms.map((p) => `extension/node_modules/onnxruntime-node/bin/napi-v6/${p.replace('-', '/')}/onnxruntime_binding.node`)];
const missing = mustHave.filter((f) => !listing.includes(f));
if (missing.length) {
  console.error(`The .vsix lacks: ${missing.join(', ')}. Check .vscodeignore and that the build produced them.`);
  process.exit(1);
}
const sourceMaps = listing.filter((f) => f.startsWith('extension/dist/') && f.endsWith('.map'));
if (sourceMaps.length) {
  console.error(`The .vsix ships source maps: ${sourceMaps.join(', ')}. They stay in dist/ (scripts/build.mjs): allow-list only *.js and *.css in .vscodeignore.`);
  process.exit(1);
}
const here = `${process.platform}-${process.arch}`;
if (platforms.includes(here)) {
  const unpack = mkdtempSync(path.join(os.tmpdir(), 'organism-lab-vsix-'));
  try {
    execFileSync('unzip', ['-q', out, 'extension/*', '-d', unpack]);
    const ext = path.join(unpack, 'extension');
    const probe =
      "const ort=require('onnxruntime-node');" +
      "const t=new ort.Tensor('float32',new Float32Array([1,2]),[2]);" +
      "if(typeof ort.InferenceSession.create!=='function'||t.dims[0]!==2)throw new Error('unexpected onnxruntime-node exports');" +
      "console.log('   require(\\'onnxruntime-node\\') from the unpacked extension: ok, backends', Object.keys(ort.listSupportedBackends?ort.listSupportedBackends():{}).length?JSON.stringify(ort.listSupportedBackends()):'n/a')";
    execFileSync(process.execPath, ['-e', probe], { cwd: ext, stdio: 'inherit', env: { ...process.env, NODE_PATH: '' } });
  } finally {
    rmSync(unpack, { recursive: true, force: true });
  }
}
const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
console.log(`== ${path.relative(root, out)}: ${mb} MiB, ${listing.length} files, onnxruntime binaries for ${platforms.join(', ')}`);
