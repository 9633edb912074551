#!/usr/bin/env bash
# Issue 7 on a lent GPU, in one call (about 8 minutes): the recipe's training (6-minute budget)
# and its evaluation on the fixed validation split, at full resolution.
#   device run: bash benchmarks/gpu_accuracy.sh            (carry: gpu-deps, from `make gpu-deps`)
#   CPU dry run: bash benchmarks/gpu_accuracy.sh --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
DATA=${DATA:-../shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=shared/data/ccp-fashionpedia
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
EXTRA=(--device cuda)
if [ "${1:-}" = "--dry-run" ]; then
  EXTRA=(--device cpu --size 64x96 --epochs 2 --max-minutes 0.5 --batch-size 8 --workers 1)
fi
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" >"$OUT/gpu.txt"
start=$(date +%s)
$PY -m fashionseg train --config configs/ccp_best.yaml --data "$DATA" --out "$OUT/ccp_best" \
  --tensorboard --no-compile "${EXTRA[@]}" 2>&1 | grep -v "batch/s" | tail -n 30
echo "training wall time: $(( $(date +%s) - start )) s"
$PY -m fashionseg evaluate "$OUT/ccp_best/best.pt" --data "$DATA" --ids configs/ccp/val.txt \
  --out "$OUT/ccp_best/val_full_resolution.json" --batch-size 16 2>&1 | grep -v "batch/s" | tail -n 60
$PY -m fashionseg evaluate "$OUT/ccp_best/best.pt" --data "$DATA" --ids configs/ccp/val.txt \
  --out "$OUT/ccp_best/val_full_resolution_flip.json" --batch-size 16 --tta flip 2>&1 | grep -v "batch/s" | tail -n 8
