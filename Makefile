# Two commands for a newcomer:  make run   (the demo study end to end)   make test   (all tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch==2.13.0 takes the CPU wheel where one is on disk (as on our machines); elsewhere pass
# e.g. TORCH_PIP_ARGS="--index-url <your PyTorch CPU wheel index>" to avoid a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
CORES ?= 8
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test lint setup clean surveillance

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	@echo
	@echo "Evidence reports: results/demo/report/510k.pdf, results/demo/report/de-novo.pdf"
	@echo "Results:         results/demo/analysis/results.json"
	@echo "Accounting:      results/demo/ingest/accounting.csv"

surveillance: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) surveillance
	@echo
	@echo "Alerts:               results/demo/surveillance/alerts.json"
	@echo "Surveillance report:  results/demo/surveillance/surveillance-report.pdf"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check validation tests benchmarks
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake data/demo
