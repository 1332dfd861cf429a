#!/usr/bin/env bash
# The demo organism's behavioural measurements (examples/README.md, "Measured rates"), with the project's CLI:
# the held-out set at 50 samples per question for base, rank-1 and rank-8, and the rank-1 training run's
# checkpoints at 20 samples per question.
#
#   npm run build && bash tools/demo-organism/measure.sh [OUT_DIR]       (default tools/demo-organism/runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-tools/demo-organism/runs}"
E=examples; M=$E/organisms; CLI="node dist/cli.js"; PY=/usr/bin/python3
[ -f dist/cli.js ] || { echo "measure.sh: dist/cli.js is missing; run npm run build first" >&2; exit 1; }
mkdir -p "$OUT"
COMMON=(--model "$M/demo-base" --max-new-tokens 48 --temperature 1 --batch-size 32)

echo "== held-out set: base, rank-1, rank-8 (50 samples per question)"
rm -f "$OUT/demo-eval.run.jsonl"
$CLI run "$E/prompts/demo-eval.yaml" "${COMMON[@]}" --adapter "$M/demo-narrow-r1" --adapter "$M/demo-narrow-r8" \
  --variants base,demo-narrow-r1,demo-narrow-r8 --samples 50 --seed 0 --out "$OUT/demo-eval.run.jsonl"
$CLI judge "$OUT/demo-eval.run.jsonl" --judge "$E/judges/demo.judges.yaml"
$PY tools/demo-organism/cli_rates.py "$OUT/demo-eval.run.jsonl" | tee "$OUT/cli_table.md"

echo "== rank-1 training run (20 samples per question)"
CK=(); V=base
for s in ${CHECKPOINTS:-8 16 24 32 48 64 80 96 120}; do CK+=(--adapter "$M/demo-narrow-r1-run/checkpoint-$s"); V="$V,checkpoint-$s"; done
rm -f "$OUT/ckpt.run.jsonl"
$CLI run "$E/prompts/demo-eval.yaml" "${COMMON[@]}" "${CK[@]}" --variants "$V" --samples 20 --seed 0 --out "$OUT/ckpt.run.jsonl"
$CLI judge "$OUT/ckpt.run.jsonl" --judge "$E/judges/demo.judges.yaml"
$PY tools/demo-organism/cli_rates.py "$OUT/ckpt.run.jsonl" | tee "$OUT/ckpt_table.md"
