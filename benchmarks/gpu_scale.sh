#!/usr/bin/env bash
# Issue 37 on a lent GPU, in one call (about 8 minutes): the instance model's training
# throughput at Fashionpedia's sizes, end to end (`fashionseg train --task instances` on
# Fashionpedia-shaped photos: loader, targets, bf16) against the model's steps alone, then
# predict on the GPU against the model alone (benchmarks/gpu_predict.sh).
#   device run: bash benchmarks/gpu_scale.sh     (carry: gpu-deps)
#   CPU dry run: bash benchmarks/gpu_scale.sh --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
export FASHIONSEG_CACHE=$OUT/cache
PHOTOS=1500 SIZE=640x960 BATCH=8 DEVICE=cuda AMP=bf16 WORKERS=12 MINUTES=3 WIDTH=64 STEPS=20
DRY=""
if [ "${1:-}" = "--dry-run" ]; then
  PHOTOS=12 SIZE=96x128 BATCH=2 DEVICE=cpu AMP=none WORKERS=0 MINUTES=0 WIDTH=8 STEPS=2
  DRY=--dry-run
fi
DATA=$OUT/scale-data
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no GPU" >"$OUT/gpu.txt"
$PY -m benchmarks.fashionpedia_like "$DATA/instances.json" --images "$PHOTOS" --photos "$DATA/train"
amp=(--amp "$AMP"); [ "$AMP" = none ] && amp=()
start=$(date +%s)
$PY -m fashionseg train --task instances --model maskrcnn --data "$DATA" --size "$SIZE" \
  --batch-size "$BATCH" --epochs 1 --max-minutes "$MINUTES" --device "$DEVICE" "${amp[@]}" \
  --workers "$WORKERS" --width "$WIDTH" --no-tensorboard --out "$OUT/scale-run" --overwrite 2>&1 \
  | grep -v "batch/s" | tail -n 5
echo "train wall time: $(( $(date +%s) - start )) s" | tee "$OUT/scale_train_time.txt"
cp "$OUT/scale-run/history.csv" "$OUT/scale_history.csv"
$PY -m benchmarks.instance_throughput --size "$SIZE" --batch "$BATCH" --steps "$STEPS" \
  --device "$DEVICE" --amp "$AMP" --width "$WIDTH" | tee "$OUT/scale_model_alone.json"
$PY - "$OUT" <<'PY'
import csv, json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = list(csv.DictReader(open(out / "scale_history.csv")))
end_to_end = float(rows[-1]["images_per_second"])
alone = json.loads((out / "scale_model_alone.json").read_text())["model_images_per_second"]
summary = {"end_to_end_images_per_second": end_to_end, "model_images_per_second": alone,
           "ratio": round(end_to_end / alone, 3), "gpu": (out / "gpu.txt").read_text().strip()}
(out / "scale_summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary))
PY
bash benchmarks/gpu_predict.sh $DRY
