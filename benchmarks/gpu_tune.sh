#!/usr/bin/env bash
# Issues 16 and 13 on a lent GPU: `fashionseg tune` searches the accuracy recipe
# (configs/tune-gpu.yaml: six trials at a time on the card), the best trial is scored on the
# fixed validation split at each photo's own size; then issue 17's GPU row: predict end to end
# against the model alone, with the best trial's model.
# Carry: shared/ (make gpu-data), gpu-deps (make gpu-deps-pretrained),
# .whl (Optuna and SQLAlchemy wheels for the GPU image's Python, docs/benchmarks.md).
#   device run: bash benchmarks/gpu_tune.sh          CPU dry run: bash benchmarks/gpu_tune.sh --dry-run
# Results come back in $OUT as one archive plus the best model (the tool returns 8 files).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
PY=${PY:-python3}
DATA=${DATA:-shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=../shared/data/ccp-fashionpedia
WORK=${WORK:-/tmp/gpu-tune}
mkdir -p "$OUT" "$WORK"
if [ -d .whl ] && ! $PY -c "import optuna" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH="$PWD/src:$PWD/gpu-deps:$PWD/gpu-deps2:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
export FASHIONSEG_CACHE=$WORK/cache
SPACE=configs/tune-gpu.yaml
ARGS=(--trials "${TRIALS:-6}" --workers "${WORKERS:-6}" --timeout "${TIMEOUT:-1.5}" --heartbeat 10)
DEVICE=cuda
if [ "${1:-}" = "--dry-run" ]; then
  # The same steps on the CPU in a minute: the GPU space shrunk to 64x96, one epoch a trial.
  sed -e 's/size: 256x384/size: 64x96/' -e 's/max_minutes: 3.5/max_minutes: 0/' \
    -e 's/epochs: 300/epochs: 1/' -e 's/device: cuda/device: cpu/' -e 's/workers: 2/workers: 0/' \
    -e 's/eval_every: 2/eval_every: 1/' -e 's#val_list: ccp/val.txt#val_list: '"$PWD"'/configs/ccp/val.txt#' \
    configs/tune-gpu.yaml >"$WORK/space-dry.yaml"
  SPACE=$WORK/space-dry.yaml
  ARGS=(--trials 2 --workers 1 --heartbeat 10)
  DEVICE=cpu
fi
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no GPU" >"$OUT/gpu.txt"
$PY -c "import torch, optuna; print('torch', torch.__version__, 'optuna', optuna.__version__)" >>"$OUT/gpu.txt" 2>&1
start=$(date +%s)
$PY -m fashionseg tune --data "$DATA" --space "$SPACE" --out "$WORK/tune" "${ARGS[@]}" \
  >"$WORK/tune.log" 2>&1
echo "tune: exit $? after $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu.txt"
best=$($PY -c "
import csv, sys
rows = [r for r in csv.DictReader(open('$WORK/tune/trials.csv')) if r['state'] == 'complete']
print(max(rows, key=lambda r: float(r['value']))['number'] if rows else '')" 2>/dev/null)
if [ -n "$best" ]; then
  run=$WORK/tune/trials/$(printf %04d "$best")
  echo "best trial $best: $run" | tee -a "$OUT/gpu.txt"
  for tta in none flip; do
    flag=(); [ $tta = flip ] && flag=(--tta flip)
    val=configs/ccp/val.txt
    [ "$DEVICE" = cpu ] && head -n 4 configs/ccp/val.txt >"$WORK/val4.txt" && val=$WORK/val4.txt
    $PY -m fashionseg evaluate "$run/best.pt" --data "$DATA" --ids "$val" --batch-size 16 \
      --device "$DEVICE" "${flag[@]}" --out "$WORK/best-val-$tta.json" >"$WORK/eval-$tta.log" 2>&1 \
      || echo "evaluate ($tta) failed" | tee -a "$OUT/gpu.txt"
  done
  echo "scored after $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu.txt"
  $PY benchmarks/slim_checkpoint.py "$run/best.pt" "$OUT/tune-best-fp16.pt"
  # Issue 17's GPU row with this model (the machine otherwise idle now).
  if [ "$DEVICE" = cuda ]; then
    OUT=$WORK/predict MODEL="$run/best.pt" timeout "${PREDICT_S:-150}" bash benchmarks/gpu_predict.sh \
      >"$WORK/predict.log" 2>&1
  else
    OUT=$WORK/predict bash benchmarks/gpu_predict.sh --dry-run >"$WORK/predict.log" 2>&1
  fi
  echo "predict: exit $? after $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu.txt"
fi
for log in "$WORK"/tune/logs/*.log "$WORK"/*.log; do
  tr '\r' '\n' <"$log" | grep -v "batch/s\|img/s\]" | tail -n 60 >"$log.txt" 2>/dev/null
done
tar -czf "$OUT/tune-gpu.tar.gz" -C "$WORK" --exclude=cache --exclude='*.pt' --exclude='*.npy' \
  --exclude='*.log' --exclude='tune.db' . 2>/dev/null
cp "$WORK/tune/trials.csv" "$OUT/" 2>/dev/null
cat "$OUT/gpu.txt"
echo "total $(( $(date +%s) - start )) s"
