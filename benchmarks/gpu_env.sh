# Sourced by issue 13's GPU scripts, from the repository root, after RUNS is set: where the
# data, the packages the GPU image lacks and the outputs are, on the card or (dry run) here.
OUT=${OUT:-gpu-out}
DATA=${DATA:-shared/data/ccp-fashionpedia}
[ -d "$DATA" ] || DATA=../shared/data/ccp-fashionpedia
UNL=${UNL:-gpu-data/ccp-unlabelled}
[ -d "$UNL" ] || UNL=../shared/data/ccp-unlabelled
PY=${PY:-python3}
export PYTHONPATH="$PWD/src:$PWD/gpu-deps:$PWD/gpu-deps2${PYTHONPATH:+:$PYTHONPATH}"
export FASHIONSEG_CACHE=$RUNS/cache
