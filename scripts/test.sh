#!/usr/bin/env bash
# The one test command (README, CI): type check, build, unit + golden tests, the fuzz suite, then the extension suite in a
# real VS Code extension host (the VS Code server inside code-server) and the end-to-end suite in code-server.
# code-server and Chromium come from `npm run setup`; without them this FAILS (CI must not silently skip).
# Every suite runs even when an earlier one failed; the summary at the end lists each one's result.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/codeServer.env.sh
t0=$(date +%s)
results=()
failed=0
stage() { # stage NAME COMMAND...: run a suite, record its result and duration
  local name="$1"; shift
  local s=$(date +%s)
  echo; echo "== $name"
  if "$@"; then results+=("  pass  $name ($(( $(date +%s) - s ))s)")
  else results+=("  FAIL  $name ($(( $(date +%s) - s ))s)"); failed=1; fi
}

if [ ! -x "$NODE24_BIN" ] || [ ! -f "$VSCODE_SERVER_MAIN" ] || ! command -v chromium >/dev/null 2>&1; then
  echo "ERROR: code-server $CODE_SERVER_VERSION, Node 24 or Chromium is missing (needed by the extension and e2e suites)." >&2
  echo "       Install them with:  npm run setup" >&2
  exit 1
fi

echo "== type check"
npx tsc -p . --noEmit || { echo "type check failed" >&2; exit 1; }
echo "== build"
node scripts/build.mjs || { echo "build failed" >&2; exit 1; }

stage "layering and import cycles (dependency-cruiser: .dependency-cruiser.cjs)" npm run -s check:layers
stage "unit and golden tests (node --test)" \
  node --import tsx --test --test-concurrency=1 $(find test/unit -name '*.test.ts' | sort)
stage "fuzz suite (test/fuzz: 1,000+ seeded malformed inputs through the CLI; report in test-results/fuzz/)" \
  node --import tsx --test test/fuzz/fuzz.test.ts
stage "extension-test runner self-check (VS Code server + Chromium)" \
  node --import tsx scripts/test-extension.ts --self-check
if [ -f dist/test/extension/index.js ]; then
  stage "extension tests in VS Code's extension host (test/extension)" node --import tsx scripts/test-extension.ts
else
  echo "ERROR: dist/test/extension/index.js was not built: the extension suite (test/extension/index.ts) is missing." >&2
  results+=("  FAIL  extension tests (suite not built)"); failed=1
fi
stage "end-to-end suite in code-server (Playwright + Chromium; screenshots in test-results/screens/)" \
  node --import tsx scripts/e2e.ts
# Our Inspect logs in Inspect's own log viewer: only where its built viewer is at hand (inspect_ai ships it; it is
# not in this repository: README, "Export to Inspect logs").
if [ -n "${ORGANISM_LAB_INSPECT_VIEW_DIST:-}" ]; then
  stage "Inspect's log viewer on our exported logs (screenshots in test-results/inspect-view/)" \
    node --import tsx scripts/check-inspect-view.ts --dist "$ORGANISM_LAB_INSPECT_VIEW_DIST"
else
  results+=("  n/a   Inspect's log viewer check (set ORGANISM_LAB_INSPECT_VIEW_DIST to inspect_ai's _view/dist to run it)")
fi

echo; echo "== summary ($(( $(date +%s) - t0 ))s)"
printf '%s\n' "${results[@]}"
exit $failed
