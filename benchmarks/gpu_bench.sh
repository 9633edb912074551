#!/usr/bin/env bash
# Issue 6's GPU figures in one call (about 5 minutes): training throughput (model-only in four
# precisions, loader alone, end to end, MFU, peak memory) and inference latency at batch 1 / 32.
#   device run: bash benchmarks/gpu_bench.sh               (carry: gpu-deps, from `make gpu-deps`)
#   CPU dry run: bash benchmarks/gpu_bench.sh --dry-run
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
FLAGS=(--device cuda)
[ "${1:-}" = "--dry-run" ] && FLAGS=(--device cpu --quick)
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" >"$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__)" >>"$OUT/gpu.txt" 2>&1
# The CUDA-only test (no host-GPU syncs in a training step); pytest travels in gpu-deps.
$PY -m pytest -q -p no:cacheprovider tests/training/test_loader.py -k host_wait 2>&1 | tail -n 25
# Inference first: it is short, and a TRAIN_TIMEOUT (seconds) that cuts training short keeps it.
$PY -m benchmarks infer "${FLAGS[@]}" --out "$OUT/bench-infer.json" 2>&1 | grep -v "batch/s"
timeout "${TRAIN_TIMEOUT:-0}" $PY -m benchmarks train "${FLAGS[@]}" --out "$OUT/bench-train.json" \
  2>&1 | grep -v "batch/s" || echo "bench train stopped (timeout ${TRAIN_TIMEOUT:-none}); its JSON keeps the rows measured"
