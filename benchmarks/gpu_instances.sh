#!/usr/bin/env bash
# Issue 25 on a lent GPU, in one call (about 11 minutes): the CCP Mask R-CNN (Lite0-FPN) trained
# for MAX_MINUTES (default 8; the issue allows 10) on the derived instances, scored on the fixed
# validation split at each photo's own size beside the bundled model's components, and its
# latency at batch 1.
#   device run: bash benchmarks/gpu_instances.sh    (carry: gpu-deps, from `make gpu-deps-pretrained`)
#   CPU dry run: bash benchmarks/gpu_instances.sh --dry-run
# Checkpoints stay in $RUN; only small files go to $OUT (the device tool brings back few files).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
RUN=${RUN:-$OUT/ccp_maskrcnn}
DATA=${DATA:-shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=../shared/data/ccp-fashionpedia
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
export FASHIONSEG_CACHE=$OUT/cache
VAL=configs/ccp/val.txt
TRAIN=(--size 416x624 --batch-size 8 --epochs 40 --max-minutes "${MAX_MINUTES:-8}" --eval-every 5
  --device cuda --amp bf16 --workers 4)
DEVICE=cuda
if [ "${1:-}" = "--dry-run" ]; then
  mkdir -p "$OUT"
  head -n 4 configs/ccp/val.txt >"$OUT/dry-val.txt"
  ls "$DATA/train" | head -n 20 | sed 's/\.jpg$//' | grep -vxFf configs/ccp/val.txt | head -n 6 >"$OUT/dry-train.txt"
  VAL=$OUT/dry-val.txt
  TRAIN=(--size 104x156 --batch-size 2 --epochs 1 --max-minutes 0 --eval-every 1 --device cpu
    --workers 0 --width 8 --train-list "$OUT/dry-train.txt")
  DEVICE=cpu
fi
mkdir -p "$OUT" "$RUN"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" >"$OUT/gpu.txt"
start=$(date +%s)
$PY -m fashionseg train --task instances --model maskrcnn --data "$DATA" --instances components \
  --val-list "$VAL" --out "$RUN" --overwrite --pretrained --optimizer adamw --lr 5e-4 \
  --schedule cosine --warmup-epochs 0.3 --no-tensorboard "${TRAIN[@]}" 2>&1 | grep -v "batch/s" | tail -n 20
echo "training wall time: $(( $(date +%s) - start )) s" | tee "$OUT/train_time.txt"
cp "$RUN/history.csv" "$RUN/metrics.json" "$OUT/" 2>/dev/null || true
$PY -m fashionseg evaluate "$RUN/best.pt" --task instances --data "$DATA" --instances components \
  --ids "$VAL" --device "$DEVICE" --out "$OUT/maskrcnn_val.json" 2>&1 | grep -v "img/s" | tail -n 8
$PY -m fashionseg evaluate src/fashionseg/bundled/ccp-lite0-int8.onnx --task instances --data "$DATA" \
  --instances components --ids "$VAL" --out "$OUT/bundled_components_val.json" 2>&1 | grep -v "img/s" | tail -n 3
$PY -m benchmarks.instance_latency "$RUN/best.pt" "$DATA/train/ccp0001.jpg" | tee "$OUT/latency_cpu.txt"
