#!/usr/bin/env bash
# Issue 17 on a lent GPU: predict end to end against the model alone, 2,000 real-size CCP
# photos, the GPU machine's 16 cores decoding and writing. MODEL is a checkpoint (.pt) to run
# with PyTorch on the GPU, e.g. C-best-fp16.pt from benchmarks/gpu_pretrained.sh; without one,
# the bundled int8 ONNX runs (on the CPU unless that onnxruntime has CUDA).
#   device run: MODEL=C-best-fp16.pt bash benchmarks/gpu_predict.sh   (carry: gpu-deps)
#   CPU dry run: bash benchmarks/gpu_predict.sh --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
args=(predict --device cuda --out "$OUT/predict.json")
[ -n "${MODEL:-}" ] && args+=(--model "$MODEL")
[ -d shared/data/ccp-fashionpedia ] && args+=(--data shared/data/ccp-fashionpedia)
if [ "${1:-}" = "--dry-run" ]; then
  args=(predict --device cpu --quick --out "$OUT/predict-dry.json")
fi
nvidia-smi --query-gpu=name,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || echo "no GPU" >"$OUT/gpu.txt"
$PY -m benchmarks "${args[@]}"
