// scripts/setup.sh's install branch as a fresh machine meets it: Chromium absent from PATH, run as root
// (no sudo: a fresh container) and as a user with sudo. apt-get, sudo and id are stubs that record how they
// were called, so the branch runs for real without installing anything (SETUP_ONLY=system stops after the
// system packages). Before the fix, the root branch died on `$SUDO DEBIAN_FRONTEND=noninteractive apt-get`
// with "DEBIAN_FRONTEND=noninteractive: command not found".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const SETUP = path.join(ROOT, 'scripts/setup.sh');

/** A PATH with links to every program in /usr/bin and /bin except chromium, behind a folder of stubs. */
function freshMachinePath(dir: string, uid: number): { pathVar: string; log: string } {
  const stubs = path.join(dir, 'stubs');
  const sys = path.join(dir, 'sys');
  fs.mkdirSync(stubs);
  fs.mkdirSync(sys);
  for (const folder of ['/usr/bin', '/bin']) {
    if (!fs.existsSync(folder)) continue;
    for (const name of fs.readdirSync(folder)) {
      if (name === 'chromium' || name === 'chromium-browser') continue;
      const link = path.join(sys, name);
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(folder, name), link);
    }
  }
  const log = path.join(dir, 'calls.log');
  const stub = (name: string, body: string) => {
    fs.writeFileSync(path.join(stubs, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  };
  stub('apt-get', `echo "apt-get uid=$FAKE_UID DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-unset} $*" >> ${JSON.stringify(log)}`);
  stub('sudo', `echo "sudo $*" >> ${JSON.stringify(log)}\nexport FAKE_UID=0\nexec "$@"`);
  stub('id', `if [ "$1" = -u ]; then echo "\${FAKE_UID:-${uid}}"; else exec /usr/bin/id "$@"; fi`);
  return { pathVar: `${stubs}:${sys}`, log };
}

function runSetup(uid: number): { status: number | null; out: string; calls: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ol-setup-'));
  try {
    const { pathVar, log } = freshMachinePath(dir, uid);
    const env: NodeJS.ProcessEnv = { PATH: pathVar, HOME: dir, SETUP_ONLY: 'system', FAKE_UID: String(uid) };
    const r = spawnSync('/bin/bash', [SETUP], { env, encoding: 'utf8', timeout: 60_000 });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    return { status: r.status, out: `${r.stdout}${r.stderr}`, calls };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('setup as root on a machine without chromium installs it with apt-get directly (no sudo)', () => {
  const r = runSetup(0);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /command not found/);
  assert.match(r.out, /installing Debian's chromium/);
  assert.ok(!r.calls.some((c) => c.startsWith('sudo')), `sudo was used as root: ${r.calls.join('\n')}`);
  assert.ok(r.calls.includes('apt-get uid=0 DEBIAN_FRONTEND=noninteractive update -qq'), r.calls.join('\n'));
  assert.ok(r.calls.includes('apt-get uid=0 DEBIAN_FRONTEND=noninteractive install -y -qq chromium'), r.calls.join('\n'));
  assert.equal(r.calls.filter((c) => / update /.test(c)).length, 1, 'one apt-get update per run');
});

test('setup as a user with sudo installs chromium through sudo, keeping DEBIAN_FRONTEND', () => {
  const r = runSetup(1000);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /command not found/);
  assert.ok(r.calls.some((c) => c.startsWith('sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium')), r.calls.join('\n'));
  assert.ok(r.calls.includes('apt-get uid=0 DEBIAN_FRONTEND=noninteractive install -y -qq chromium'), r.calls.join('\n'));
});

test('setup skips onnxruntime-node\'s CUDA download through the environment variable, not a deprecated npm config', () => {
  const script = fs.readFileSync(SETUP, 'utf8');
  assert.match(script, /export ONNXRUNTIME_NODE_INSTALL="\$\{ONNXRUNTIME_NODE_INSTALL:-skip\}"/);
  const npmrc = path.join(ROOT, '.npmrc');
  if (fs.existsSync(npmrc)) assert.doesNotMatch(fs.readFileSync(npmrc, 'utf8'), /onnxruntime-node-install/);
});
