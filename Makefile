# headline-scorer. Every target that needs Python bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MODEL := models/current/manifest.json

# make train DATA=path/to/file.csv        (added to the default datasets)
# make train DATA=path/to/file.csv ONLY_DATA=1   (that file alone)
# make train FEEDBACK=1                   (adds editors' stored feedback)
TRAIN_ARGS := $(foreach f,$(DATA),--data $(f)) $(if $(ONLY_DATA),--only-data) $(if $(FEEDBACK),--feedback)

.PHONY: help venv data train tune limits behaviour serve test test-fast quality-gate screenshot lint bench loadtest clean

help:
	@echo "make serve   bootstrap, get data, train if no model, serve on http://127.0.0.1:8000"
	@echo "make test    bootstrap and run the whole test suite"
	@echo "make data    copy datasets from HEADLINE_DATA_DIR into data/raw (or download them)"
	@echo "make train   fit, evaluate and write a new model version under models/"
	@echo "make tune    search hyperparameters on the training parts (reports/tuning.md)"
	@echo "make limits  why targets are missed: learning curve, single-set models (reports/limits.md)"
	@echo "make behaviour  phrasing devices, plain neutral headlines and topic swaps (reports/behaviour.md)"
	@echo "make bench  benchmarks (scorer, HTTP vs naive app, keep-alive, Dask, hostile traffic) -> benchmarks/*.md"
	@echo "make loadtest  32 clients for 60 s against gunicorn -> benchmarks/LOADTEST.md"
	@echo "make screenshot  README's picture of the page (docs/screenshot.png), full model"
	@echo "make lint    ruff"

venv: $(STAMP)

# Reinstall whenever pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

data: $(STAMP)
	$(PY) -m training.datasets

train: data
	$(PY) -m training.train $(TRAIN_ARGS)

# Search hyperparameters on the training parts (HEADLINE_DASK_SCHEDULER=local|tcp://... for Dask);
# ABLATION=1 measures the variants of training/ablation.toml instead (for the model card);
# THRESHOLD=0.37 also measures every candidate at that one threshold (reports/tuning.md).
tune: data
	$(PY) -m training.tune $(if $(ABLATION),--ablation) $(if $(THRESHOLD),--threshold $(THRESHOLD))

# Measurements behind the missed quality targets (training parts only): a learning curve of
# the graded dataset, models fitted on each cross-validated dataset alone, and that dataset's
# weight against the other targets.
limits: data
	$(PY) -m training.limits

# The behavioural suite of the current model on neutral test-part headlines: device rewrites
# (held-out lexicon halves), false positives and topic swaps -> reports/behaviour.md and .json
behaviour: data $(MODEL)
	$(PY) -m training.behaviour

# Train only when no model exists yet.
$(MODEL):
	$(MAKE) train

serve: data $(MODEL)
	exec $(VENV)/bin/gunicorn --config service/gunicorn_conf.py 'service:create_app()'

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not quality_gate"

quality-gate: data
	$(PY) -m pytest -m quality_gate

# README's picture of the editors' page: the quality gate's browser test, with the model trained
# on the full datasets, written to docs/screenshot.png (tests alone write only to tests/artifacts/).
screenshot: data
	@test -n "$$HEADLINE_DATA_DIR" || { echo "make screenshot: set HEADLINE_DATA_DIR to the datasets folder (e.g. ../shared/datasets): the page test trains on the full data" >&2; exit 1; }
	HEADLINE_README_SCREENSHOT=$(CURDIR)/docs/screenshot.png $(PY) -m pytest -m quality_gate \
		tests/test_web_page.py -k readme_screenshot

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Benchmarks drive the service with wrk (Debian package `wrk`) on loopback.
WRK_CHECK := command -v wrk >/dev/null || { echo "make: the benchmarks need wrk: apt-get install wrk" >&2; exit 1; }

# Scorer vs predict_proba, service vs a naive Flask app, keep-alive, Dask vs one process, hostile
# traffic (memory-filling batches, slow clients by serving design; needs nginx) -> benchmarks/*.md
bench: data $(MODEL)
	@$(WRK_CHECK)
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/hostile.py

# 32 clients for 60 s of mixed single and batch requests against gunicorn -> benchmarks/LOADTEST.md
# make loadtest LOADTEST_ARGS="--duration 20 --reloads 4"
loadtest: data $(MODEL)
	@$(WRK_CHECK)
	$(PY) benchmarks/loadtest.py $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) data/raw data/bench
