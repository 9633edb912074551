#!/usr/bin/env bash
# Issue 13 on a lent GPU: the pretrained recipe and its ablation, four trainings at once on one
# card (each small model leaves most of an H100/H200 idle), then each scored on the fixed
# validation split at the photos' own size (plain and flip TTA).
#   A  lite0, labelled photos only
#   B  lite0, + unlabelled photos (mean teacher), tags ignored
#   C  lite0, + unlabelled photos + tags            (configs/ccp_pretrained.yaml as is)
#   D  lite2 at 320x480, + unlabelled photos + tags
# Data: shared/data/ccp-fashionpedia (make gpu-data) and gpu-data/ccp-unlabelled (make
# gpu-unlabelled); packages: gpu-deps (make gpu-deps-pretrained) and gpu-deps2 (make
# gpu-unlabelled). Without the unlabelled photos only A runs.
#   device run: bash benchmarks/gpu_pretrained.sh      CPU dry run: bash benchmarks/gpu_pretrained.sh --dry-run
# Small files go to $OUT: the metrics, histories and slimmed (fp16) best checkpoints.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/tmp/pretrained-runs}
source benchmarks/gpu_env.sh
MIN=${MAX_MINUTES:-5.5}
COMMON=(--config configs/ccp_pretrained.yaml --device cuda --max-minutes "$MIN")
SIZE0=256x384 SIZE2=320x480
if [ "${1:-}" = "--dry-run" ]; then
  dry_split
  COMMON=(--config configs/ccp_pretrained.yaml "${DRY[@]}")
  SIZE0=64x96 SIZE2=64x96
fi
mkdir -p "$OUT" "$RUNS"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no GPU" >"$OUT/gpu.txt"
$PY -c "import torch, timm, segmentation_models_pytorch as s; print('torch', torch.__version__, 'timm', timm.__version__, 'smp', s.__version__)" | tee -a "$OUT/gpu.txt"
start=$(date +%s)
# One cache per size, prepared before the trainings start (four processes must not race on it).
$PY -m fashionseg prepare "$DATA" --out "$RUNS/c0" --size $SIZE0 --keep-aspect --workers 8 | tail -n 1
[ -d "$UNL" ] && $PY -m fashionseg prepare "$DATA" --out "$RUNS/c2" --size $SIZE2 --keep-aspect --workers 8 | tail -n 1
run() {  # name, extra flags...
  local name=$1; shift
  $PY -m fashionseg train "${COMMON[@]}" --out "$RUNS/$name" "$@" >"$RUNS/$name.log" 2>&1
  echo "$name: exit $? after $(( $(date +%s) - start )) s" >>"$OUT/runs.txt"
}
run A --data "$RUNS/c0" --size $SIZE0 --unlabelled "" &
if [ -d "$UNL" ]; then
  run B --data "$RUNS/c0" --size $SIZE0 --unlabelled "$UNL" --no-tags &
  run C --data "$RUNS/c0" --size $SIZE0 --unlabelled "$UNL" &
  run D --data "$RUNS/c2" --size $SIZE2 --unlabelled "$UNL" --encoder efficientnet_lite2 &
else
  echo "no unlabelled photos at $UNL: only A runs" | tee -a "$OUT/runs.txt"
fi
wait
echo "trainings done after $(( $(date +%s) - start )) s" | tee -a "$OUT/runs.txt"
for name in A B C D; do
  [ -f "$RUNS/$name/best.pt" ] || continue
  score $name none "$OUT" &
  score $name flip "$OUT" &
done
wait
echo "scored after $(( $(date +%s) - start )) s" | tee -a "$OUT/runs.txt"
for name in A B C D; do
  [ -f "$RUNS/$name/best.pt" ] || continue
  # The candidates to ship come back as float16 checkpoints (under 16 MB each).
  $PY benchmarks/slim_checkpoint.py "$RUNS/$name/best.pt" "$OUT/$name-best-fp16.pt"
  tr '\r' '\n' <"$RUNS/$name.log" | grep -v "batch/s" | tail -n 40 >"$RUNS/$name/log.txt"
done
# Everything else small in one archive (the device tool brings back at most 8 files).
mkdir -p "$RUNS/metrics" && mv "$OUT"/*.json "$OUT"/*.txt "$RUNS/metrics/" 2>/dev/null
tar -czf "$OUT/runs.tar.gz" -C "$RUNS" --exclude=cache --exclude=c0 --exclude=c2 \
  --exclude='*.pt' --exclude='*.npy' . 2>/dev/null
cat "$RUNS/metrics/runs.txt"
ls -la "$OUT"
echo "total $(( $(date +%s) - start )) s"
