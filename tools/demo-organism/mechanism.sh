#!/usr/bin/env bash
# The demo organism's mechanism measurements (examples/README.md, "Mechanism measurements"), all with the
# project's CLI: a labelled run, the misalignment direction inside the rank-1 adapter, then steering and
# ablation along it as run variants, and the training-run geometry.
#
#   npm run build && bash tools/demo-organism/mechanism.sh [OUT_DIR]      (default tools/demo-organism/runs/mechanism)
#
# SAMPLES (per question, default 20), STEER_LAYERS (default "0 1 2"), ALPHAS (default "1 2 4 8") change the sweep.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-tools/demo-organism/runs/mechanism}"
SAMPLES="${SAMPLES:-20}"
STEER_LAYERS="${STEER_LAYERS:-0 1 2}"
ALPHAS="${ALPHAS:-1 2 4 8}"
E=examples; M=$E/organisms; CLI="node dist/cli.js"; PY=/usr/bin/python3
[ -f dist/cli.js ] || { echo "mechanism.sh: dist/cli.js is missing; run npm run build first" >&2; exit 1; }
mkdir -p "$OUT"
COMMON=(--model "$M/demo-base" --adapter "$M/demo-narrow-r1" --samples "$SAMPLES" --max-new-tokens 48 --temperature 1)

echo "== 1. labelled run (seed 1)"
rm -f "$OUT/label.run.jsonl"
$CLI run "$E/prompts/demo-eval.yaml" "${COMMON[@]}" --variants base,demo-narrow-r1 --seed 1 --out "$OUT/label.run.jsonl"
$CLI judge "$OUT/label.run.jsonl" --judge "$E/judges/demo.judges.yaml"
$PY tools/demo-organism/cli_rates.py "$OUT/label.run.jsonl" | tee "$OUT/label_table.md"

echo "== 2. direction inside demo-narrow-r1"
$CLI direction "$OUT/label.run.jsonl" --out "$OUT/dir.safetensors" --report "$OUT/dir.report.json" | tee "$OUT/direction.txt"

echo "== 3. steering and ablation (seed 2)"
D="$OUT/dir.safetensors"
V="base"
for L in $STEER_LAYERS; do for A in $ALPHAS; do V="$V,steer-L$L-x$A=steer:$D@$L*$A"; done; done
V="$V,demo-narrow-r1"
for L in $STEER_LAYERS; do V="$V,r1-ablate-L$L=demo-narrow-r1+ablate:$D@$L,r1-meanablate-L$L=demo-narrow-r1+meanablate:$D@$L"; done
rm -f "$OUT/variants.run.jsonl"
$CLI run "$E/prompts/demo-eval.yaml" "${COMMON[@]}" --variants "$V" --seed 2 --out "$OUT/variants.run.jsonl"
$CLI judge "$OUT/variants.run.jsonl" --judge "$E/judges/demo.judges.yaml"
$PY tools/demo-organism/cli_rates.py "$OUT/variants.run.jsonl" | tee "$OUT/variants_table.md"

echo "== 4. training-run geometry"
$CLI inspect "$M/demo-narrow-r1-run" | tee "$OUT/inspect.txt"
