# Two entry points (README): `make demo` runs the embedded default, `make test` runs the tests.
# Both create .venv and install pyimgano with its anomalib and test extras on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.pyimgano-installed

.PHONY: install demo test bench zoo lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[anomalib,onnx,openvino,export,plots,test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pyimgano-demo

test: $(STAMP)
	$(BIN)/python -m pytest tests -q

bench: $(STAMP)
	PYIMGANO_BENCH=1 $(BIN)/python -m pytest tests/benchmarks --benchmark-only -q

zoo: $(STAMP)
	PYIMGANO_ZOO=1 $(BIN)/python -m pytest tests/zoo -q -m zoo

lint: $(STAMP)
	$(BIN)/ruff check .
