#!/usr/bin/env bash
# Issue 7 on a lent GPU, in one call (about 8 minutes): the recipe's training (6-minute budget)
# and its evaluation on the fixed validation split, at full resolution, plain and with flip TTA,
# plus overlays of a few validation photos for the model card.
#   device run: bash benchmarks/gpu_accuracy.sh            (carry: gpu-deps, from `make gpu-deps`)
#   CPU dry run: bash benchmarks/gpu_accuracy.sh --dry-run
# MAX_MINUTES overrides the config's training budget (for a shorter look when time is short).
# Checkpoints stay in $RUN; only small files go to $OUT (the device tool brings back few files).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
RUN=${RUN:-$OUT/ccp_best}
DATA=${DATA:-../shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=shared/data/ccp-fashionpedia
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
EXTRA=(--device cuda)
if [ "${1:-}" = "--dry-run" ]; then
  EXTRA=(--device cpu --size 64x96 --epochs 2 --max-minutes 0.5 --batch-size 8 --workers 1)
fi
[ -n "${MAX_MINUTES:-}" ] && EXTRA+=(--max-minutes "$MAX_MINUTES")
mkdir -p "$OUT" "$RUN"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" >"$OUT/gpu.txt"
start=$(date +%s)
$PY -m fashionseg train --config configs/ccp_best.yaml --data "$DATA" --out "$RUN" \
  --tensorboard --no-compile "${EXTRA[@]}" 2>&1 | grep -v "batch/s" | tail -n 30
echo "training wall time: $(( $(date +%s) - start )) s"
$PY -m fashionseg evaluate "$RUN/best.pt" --data "$DATA" --ids configs/ccp/val.txt \
  --out "$OUT/val_full_resolution.json" --batch-size 16 2>&1 | grep -v "batch/s" | tail -n 60
$PY -m fashionseg evaluate "$RUN/best.pt" --data "$DATA" --ids configs/ccp/val.txt \
  --out "$OUT/val_full_resolution_flip.json" --batch-size 16 --tta flip 2>&1 | grep -v "batch/s" | tail -n 8
# Overlays of the first 12 validation photos (for the model card) and the run's history, in one
# archive.
mkdir -p "$RUN/examples"
cp "$RUN/history.csv" "$RUN/metrics.json" "$RUN/examples/" 2>/dev/null || true
head -n 12 configs/ccp/val.txt | while read -r id; do ls "$DATA"/train/"$id".jpg 2>/dev/null; done \
  | xargs -r $PY -m fashionseg predict "$RUN/best.pt" --out "$RUN/examples" 2>&1 | tail -n 3 || true
tar -czf "$OUT/examples.tar.gz" -C "$RUN/examples" . 2>/dev/null || true
