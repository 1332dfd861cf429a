#!/usr/bin/env bash
# The README's CI recipe for reviewing a prompt-set change, as one script a CI job runs:
#   scripts/ci-review.sh PROMPTSET BASE_REF OUT_DIR [--model DIR] [--adapter DIR] [--judge FILE] [--samples N]
# Runs PROMPTSET as it is at BASE_REF (git show BASE_REF:PROMPTSET) and as it is in the work tree, with the
# same seed, judges both runs, and writes OUT_DIR/report.md (Markdown: append it to $GITHUB_STEP_SUMMARY) and
# OUT_DIR/report.html (a static artifact). Defaults: the demo organism and its rule judge.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 3 ] || { echo "usage: scripts/ci-review.sh PROMPTSET BASE_REF OUT_DIR [--model DIR] [--adapter DIR] [--judge FILE] [--samples N]" >&2; exit 2; }
PROMPTS="$1"; BASE_REF="$2"; OUT="$3"; shift 3
MODEL="$ROOT/examples/organisms/demo-base"; ADAPTER="$ROOT/examples/organisms/demo-narrow-r1"
JUDGE="$ROOT/examples/judges/demo.judges.yaml"; SAMPLES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --adapter) ADAPTER="$2"; shift 2 ;;
    --judge) JUDGE="$2"; shift 2 ;;
    --samples) SAMPLES="--samples $2"; shift 2 ;;
    *) echo "ci-review: unknown option $1" >&2; exit 2 ;;
  esac
done
CLI="node $ROOT/dist/cli.js"
[ -f "$ROOT/dist/cli.js" ] || node "$ROOT/scripts/build.mjs" >/dev/null
mkdir -p "$OUT"
# The prompt set at the base ref, under the same file name (question ids and texts are what get compared).
mkdir -p "$OUT/base"
git show "$BASE_REF:$(git ls-files --full-name "$PROMPTS")" > "$OUT/base/$(basename "$PROMPTS")"
for side in base head; do
  src="$PROMPTS"; [ "$side" = base ] && src="$OUT/base/$(basename "$PROMPTS")"
  # shellcheck disable=SC2086
  $CLI run "$src" --model "$MODEL" --adapter "$ADAPTER" --seed 1 $SAMPLES --no-progress --out "$OUT/$side.run.jsonl"
  $CLI judge "$OUT/$side.run.jsonl" --judge "$JUDGE"
done
$CLI report "$OUT/head.run.jsonl" --against "$OUT/base.run.jsonl" --format md --out "$OUT/report.md"
$CLI report "$OUT/head.run.jsonl" --against "$OUT/base.run.jsonl" --format html --out "$OUT/report.html"
echo "ci-review: $OUT/report.md and $OUT/report.html"
