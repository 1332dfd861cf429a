#!/usr/bin/env bash
# npm run demo: build, package, install the extension into code-server and open the demo workspace
# (examples/: the demo organism demo-base + its adapter demo-narrow-r1, and the demo prompt set).
# Prints the URL and keeps running until Ctrl-C.
#
#   npm run demo                          # http://127.0.0.1:8080 (PORT=... or --port N to change)
#   npm run demo -- --host 0.0.0.0        # listen on every interface (no password: trusted networks only)
#   npm run demo -- --workspace DIR       # open your own folder instead (any folder; nothing is written to it)
#   npm run demo -- --headless-check      # run the demo prompt set with the CLI, start code-server, load the
#                                         # workbench in headless Chromium, check the extension, screenshot, exit
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/codeServer.env.sh

PORT="${PORT:-8080}"; HOST="${HOST:-127.0.0.1}"; HEADLESS_CHECK=""; WORKSPACE="$ROOT_DIR/examples"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --host) HOST="$2"; shift 2 ;;
    --headless-check) HEADLESS_CHECK=1; shift ;;
    --workspace)
      [ -d "${2:-}" ] || { echo "npm run demo: --workspace ${2:-(missing)}: no such folder" >&2; exit 2; }
      WORKSPACE="$(cd "$2" && pwd)"; shift 2 ;;
    *) echo "npm run demo: unknown option $1 (known: --port N, --host H, --workspace DIR, --headless-check)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$NODE24_BIN" ] || [ ! -f "$CODE_SERVER_ENTRY" ]; then
  echo "code-server $CODE_SERVER_VERSION is not installed. Run:  npm run setup" >&2
  exit 1
fi
# The demo files are needed by the headless check (it runs prompts/demo.yaml on the demo organism) and by the
# default workspace; a researcher's own folder opens as it is, and nothing is written into it.
if [ -n "$HEADLESS_CHECK" ] || [ "$WORKSPACE" = "$ROOT_DIR/examples" ]; then
  for f in prompts/demo.yaml organisms/demo-base/config.json organisms/demo-narrow-r1/adapter_config.json; do
    [ -f "$WORKSPACE/$f" ] || { echo "The demo workspace is incomplete: $WORKSPACE/$f is missing (the headless check runs the demo organism on it; open your own folder without --headless-check)." >&2; exit 1; }
  done
  if [ ! -f "$WORKSPACE/.vscode/settings.json" ]; then
    # A copy of the demo for the check: make the demo organism its default model and adapter, as examples/ does.
    mkdir -p "$WORKSPACE/.vscode" && cp "$ROOT_DIR/examples/.vscode/settings.json" "$WORKSPACE/.vscode/settings.json"
  fi
fi

echo "== build and package"
node scripts/package.mjs

DEMO_DIR="$ROOT_DIR/.tools/demo"
mkdir -p "$DEMO_DIR/user-data/User" "$DEMO_DIR/extensions"
# Start on the Organism Lab walkthrough-capable welcome page, no telemetry prompts, no update checks.
[ -f "$DEMO_DIR/user-data/User/settings.json" ] || cat > "$DEMO_DIR/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "welcomePage",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false
}
JSON

echo "== installing dist/organism-lab.vsix into code-server ($DEMO_DIR/extensions)"
export PATH="$NODE24_DIR/bin:$PATH" npm_config_nodedir="$NODE24_DIR"
unset NODE_OPTIONS
"$NODE24_BIN" "$CODE_SERVER_ENTRY" --install-extension dist/organism-lab.vsix --force \
  --extensions-dir "$DEMO_DIR/extensions" --user-data-dir "$DEMO_DIR/user-data"

if [ -n "$HEADLESS_CHECK" ]; then
  exec node --import tsx scripts/demo-check.ts --workspace "$WORKSPACE" --extensions-dir "$DEMO_DIR/extensions" --user-data-dir "$DEMO_DIR/user-data"
fi

URL="http://$HOST:$PORT/?folder=$WORKSPACE"
[ "$HOST" = "0.0.0.0" ] && URL="http://$(hostname -f 2>/dev/null || hostname):$PORT/?folder=$WORKSPACE"
cat <<MSG

  Organism Lab demo is starting. Open:

      $URL

  Then: the "Organism Lab" walkthrough on the Welcome page (or the Organism Lab icon in the activity bar):
  load the demo model, load the adapter, run prompts/demo.yaml, compare base and adapted completions.
  (The workspace settings make organisms/demo-base the default model and organisms/demo-narrow-r1 its adapter:
  "Organism Lab: Run Prompt Set" loads them on first use.)
  Stop with Ctrl-C.

MSG
exec "$NODE24_BIN" "$CODE_SERVER_ENTRY" --auth none --bind-addr "$HOST:$PORT" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --user-data-dir "$DEMO_DIR/user-data" --extensions-dir "$DEMO_DIR/extensions" \
  "$WORKSPACE"
