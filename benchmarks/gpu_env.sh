# Sourced by issue 13's GPU scripts, from the repository root, after RUNS is set: where the
# data, the packages the GPU image lacks and the outputs are (on the card or, dry run, here),
# the dry run's tiny split and the scoring step they share.
OUT=${OUT:-gpu-out}
DATA=${DATA:-shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=../shared/data/ccp-fashionpedia
UNL=${UNL:-gpu-data/ccp-unlabelled}
[ -d "$UNL" ] || UNL=../shared/data/ccp-unlabelled
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps:$PWD/gpu-deps2${PYTHONPATH:+:$PYTHONPATH}"
export FASHIONSEG_CACHE=$RUNS/cache
VAL=configs/ccp/val.txt

# --dry-run: a tiny split (6 training photos, 4 validation ones) and the train flags for a CPU
# pass through every step; sets VAL and DRY.
dry_split() {
  mkdir -p "$RUNS"
  head -n 4 configs/ccp/val.txt >"$RUNS/dry-val.txt"
  ls "$DATA/train" | head -n 20 | sed 's/\.jpg$//' | grep -vxFf configs/ccp/val.txt | head -n 6 >"$RUNS/dry-train.txt"
  VAL=$RUNS/dry-val.txt
  DRY=(--device cpu --epochs 1 --max-minutes 0 --batch-size 2 --workers 0 --eval-every 1
    --train-list "$RUNS/dry-train.txt" --val-list "$VAL")
}

score() {  # run, none|flip, folder for the JSON: the validation split at each photo's own size
  local flag=()
  [ "$2" = flip ] && flag=(--tta flip)
  $PY -m fashionseg evaluate "$RUNS/$1/best.pt" --data "$DATA" --ids "$VAL" --batch-size 16 \
    "${flag[@]}" --out "$3/$1-val-$2.json" >"$RUNS/$1-eval-$2.log" 2>&1 \
    || echo "$1: evaluate ($2) failed" >>"$OUT/runs.txt"
}
