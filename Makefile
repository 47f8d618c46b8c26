# Two commands for a newcomer:  make run   (the demo study end to end)   make test   (all tests)
# While working:  make check   (the fast tier, under 3 minutes)
# Before a push:  make lint   make docs   make test   (what CI runs: .ci/run)
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
# The modules mypy checks (make lint, .pre-commit-config.yaml): the statistics, the protocol, the
# number converters, the schemas and the modules that call the schema API. Add a module here once
# `mypy` is clean on it; the settings are [tool.mypy] in pyproject.toml.
MYPY_TARGETS := validation/stats validation/protocol.py validation/numbers.py validation/schemas \
	validation/schema.py validation/workflow.py validation/analysis validation/report \
	validation/surveillance/run.py validation/ingest/scan.py validation/ingest/decoders.py \
	validation/ingest/rules.py validation/model/infer.py validation/reference.py \
	validation/study_check.py
# What ruff lints and formats (Python only; the Snakefiles are checked by snakemake --lint).
RUFF_TARGETS := validation tests benchmarks docs/hooks

.PHONY: run test check lint mypy docs docs-serve setup clean surveillance

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
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

# The whole suite, on two worker processes (pytest-xdist; a file's tests stay in one worker, and
# the session's shared workflow run is built once, under a file lock, by whichever needs it first).
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# The fast tier (a few minutes on 2 cores): every module's unit tests, without the tests marked
# slow (long simulations), service (Orthanc, Slurm) or e2e (Snakemake runs); `make test` runs all.
check: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow and not service and not e2e"

lint: $(STAMP)
	$(BIN)/ruff check $(RUFF_TARGETS)
	$(BIN)/ruff format --check $(RUFF_TARGETS)
	$(BIN)/snakemake --lint
	@$(MAKE) --no-print-directory mypy

# mypy alone (the pre-commit hook calls it, without the set-up step).
mypy:
	$(BIN)/mypy $(MYPY_TARGETS)

# The documentation site (mkdocs.yml) into build/site; strict: a broken link or a docstring that
# does not render fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --clean

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

clean:
	rm -rf results .snakemake data/demo
